"""How every route is declared: authorizer, role check, and domain errors as responses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.idempotency import idempotency_key, run_once
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


def _answer(view: View, **arguments: object) -> Response:
    try:
        return view(**arguments)
    except ServiceError as error:
        return error_response(error)


def route(
    blueprint: Blueprint, path: str, method: str, *, public: bool = False, idempotent: bool = False
) -> Callable[[View], View]:
    """Register a view; non-public views receive the checked Principal as `principal`.
    An `idempotent` view honours the Idempotency-Key header (chalicelib.api.idempotency) and
    receives `request_key`, the same for every repeat of a request with the same key."""
    allowed = roles_for(path, method)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def handler(**params: str) -> Response:
            if public:
                return _answer(view, **params)
            request = blueprint.current_request
            try:
                principal = principal_of(request)
                if principal.role not in allowed:
                    raise Forbidden(f"the {principal.role} role may not call {method} {path}")
                if not idempotent:
                    return _answer(view, principal=principal, **params)
                key = idempotency_key(request)
                if key is None:
                    return _answer(view, principal=principal, request_key=None, **params)
                return run_once(
                    principal.username,
                    key,
                    request,
                    lambda request_key: _answer(view, principal=principal, request_key=request_key, **params),
                )
            except ServiceError as error:
                return error_response(error)

        options: dict[str, Any] = {"methods": [method], "content_types": ["*/*"]}
        if not public:
            options["authorizer"] = jwt_auth
        blueprint.route(path, **options)(handler)
        return handler

    return decorator
