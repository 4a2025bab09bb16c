"""How every route is declared: authorizer, role check, and domain errors as responses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.responses import error_response
from chalicelib.auth.access import roles_for
from chalicelib.auth.authorizer import jwt_auth
from chalicelib.auth.tokens import Role
from chalicelib.errors import Forbidden, ServiceError, Unauthenticated

View = Callable[..., Response]


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    jti: str
    expires_at: int


def principal_of(request: Request) -> Principal:
    """The identity the authorizer attached; handlers re-check it (defence in depth)."""
    context = (request.context or {}).get("authorizer") or {}
    try:
        return Principal(context["principalId"], Role(context["role"]), context["jti"], int(context["exp"]))
    except (KeyError, ValueError, TypeError):
        raise Unauthenticated("Unauthorized") from None


def route(blueprint: Blueprint, path: str, method: str, *, public: bool = False) -> Callable[[View], View]:
    """Register a view; non-public views receive the checked Principal as `principal`."""
    allowed = roles_for(path, method)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            try:
                if public:
                    return view(**params)
                principal = principal_of(blueprint.current_request)
                if principal.role not in allowed:
                    raise Forbidden(f"the {principal.role} role may not call {method} {path}")
                return view(principal=principal, **params)
            except ServiceError as error:
                return error_response(error)

        options: dict[str, Any] = {"methods": [method], "content_types": ["*/*"]}
        if not public:
            options["authorizer"] = jwt_auth
        blueprint.route(path, **options)(handler)
        return handler

    return decorator
