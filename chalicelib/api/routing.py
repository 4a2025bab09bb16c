"""How every route is declared: authorizer, role check, JSON errors and JSON responses."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.auth.access import roles_for
from chalicelib.auth.authorizer import jwt_auth
from chalicelib.auth.tokens import Role
from chalicelib.errors import BadRequest, Forbidden, ServiceError, Unauthenticated
from chalicelib.http_body import encode_json
from chalicelib.store.pages import decode_page_token, encode_page_token

JSON_HEADERS = {"Content-Type": "application/json"}
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100
View = Callable[..., Response]


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    jti: str
    expires_at: int


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=encode_json(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={})


def error_response(error: ServiceError) -> Response:
    return json_response({"message": error.message}, error.status, error.headers())


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


def page_params(request: Request, is_valid_key: Callable[[str], bool]) -> tuple[int, str | None]:
    params = request.query_params or {}
    raw_limit = params.get("limit")
    limit = DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
        limit = int(raw_limit)
    token = params.get("next_token")
    return limit, (decode_page_token(token, is_valid_key) if token is not None else None)


def page(items: list[Any], last_key: str | None) -> dict[str, Any]:
    return {"items": items, "next_token": encode_page_token(last_key) if last_key else None}
