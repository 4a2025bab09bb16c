"""/auth: sign in with a password (JSON or the OAuth2 password-grant form), sign out a token."""

from __future__ import annotations

from typing import Literal

import msgspec
from chalice.app import Blueprint, Response

from chalicelib import accounts
from chalicelib.api.bodies import FORM, decode_form, decode_json, is_json, media_type
from chalicelib.api.responses import empty_response, json_response
from chalicelib.api.routing import Principal, route
from chalicelib.errors import UnsupportedMediaType
from chalicelib.store import revoked_tokens

auth_routes = Blueprint(__name__)
# A login is a few hundred bytes; a larger body only makes a failed login cost more.
LOGIN_BODY_LIMIT = 4096
LOGIN_FORM_FIELDS = 8


class PasswordGrant(msgspec.Struct):
    """RFC 6749 section 4.3; other fields OAuth2 tools send (scope, client_id) are ignored."""

    username: str
    password: str
    grant_type: Literal["password"] = "password"


class TokenView(msgspec.Struct):
    access_token: str
    expires_in: int
    token_type: str = "bearer"


def _credentials() -> accounts.Credentials:
    request = auth_routes.current_request
    content_type = request.headers.get("content-type")
    if not (media_type(content_type) == FORM or is_json(content_type)):
        raise UnsupportedMediaType(
            "sign in with JSON (application/json) or an OAuth2 password-grant form"
            " (application/x-www-form-urlencoded)"
        )
    if media_type(content_type) == FORM:
        grant = decode_form(request.raw_body, PasswordGrant, LOGIN_BODY_LIMIT, LOGIN_FORM_FIELDS)
        return accounts.Credentials(grant.username, grant.password)
    return decode_json(request.raw_body, content_type, accounts.Credentials, LOGIN_BODY_LIMIT)


@route(auth_routes, "/auth/token", "POST", public=True)
def issue_token() -> Response:
    token = accounts.login(_credentials())
    return json_response(TokenView(token.access_token, token.expires_in), headers={"Pragma": "no-cache"})


@route(auth_routes, "/auth/logout", "POST")
def logout(principal: Principal) -> Response:
    revoked_tokens.revoke(principal.jti, principal.expires_at)
    return empty_response()
