"""/auth: sign in with a password, sign out a token."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import accounts
from chalicelib.api.routing import Principal, empty_response, json_response, route
from chalicelib.store import revoked_tokens

auth_routes = Blueprint(__name__)


@route(auth_routes, "/auth/token", "POST", public=True)
def issue_token() -> Response:
    request = auth_routes.current_request
    token = accounts.login(request.raw_body, request.headers.get("content-type"))
    return json_response(
        {"access_token": token.access_token, "token_type": "bearer", "expires_in": token.expires_in},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@route(auth_routes, "/auth/logout", "POST")
def logout(principal: Principal) -> Response:
    revoked_tokens.revoke(principal.jti, principal.expires_at)
    return empty_response()
