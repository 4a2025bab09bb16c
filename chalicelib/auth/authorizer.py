"""The Chalice custom authorizer, deployed as its own Lambda function.

It lives on its own Blueprint so that its handler string points at this module: a cold start
imports PyJWT, bcrypt-free token checks and PynamoDB, never NumPy or the route modules.
"""

from __future__ import annotations

import re

from chalice.app import AuthRequest, AuthResponse, AuthRoute, Blueprint

from chalicelib.auth.access import routes_for
from chalicelib.auth.secret import signing_secret
from chalicelib.auth.tokens import InvalidTokenError, Role, TokenClaims, verify_token
from chalicelib.store import revoked_tokens, users

authorizer_blueprint = Blueprint(__name__)

AUTHORIZER_TTL_SECONDS = 0
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


class Unauthorized(Exception):
    """API Gateway answers 401 when a token authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def bearer_token(header: str | None) -> str:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


def policy_routes(role: Role) -> list[str | AuthRoute]:
    """Every route of the role: API Gateway may reuse one policy for all routes of a token."""
    return [AuthRoute(_PATH_PARAMETER.sub("*", path), [method]) for path, method in routes_for(role)]


def authenticate(header: str | None) -> TokenClaims:
    """Valid signature, unexpired, not logged out, and the account still has this password."""
    try:
        claims = verify_token(bearer_token(header), signing_secret())
    except InvalidTokenError:
        raise Unauthorized() from None
    user = users.get_user(claims.username)
    if user is None or user.deleting or user.stamp != claims.stamp or user.role != claims.role:
        raise Unauthorized()
    if revoked_tokens.is_revoked(claims.jti):
        raise Unauthorized()
    return claims


@authorizer_blueprint.authorizer(ttl_seconds=AUTHORIZER_TTL_SECONDS)
def jwt_auth(auth_request: AuthRequest) -> AuthResponse:
    claims = authenticate(auth_request.token)
    return AuthResponse(
        routes=policy_routes(claims.role),
        principal_id=claims.username,
        context={"role": claims.role.value, "jti": claims.jti, "exp": str(claims.expires_at)},
    )
