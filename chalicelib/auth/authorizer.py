"""The Chalice custom authorizer, deployed as its own Lambda function.

It lives on its own Blueprint so that its handler string points at this module: a cold start
imports PyJWT and PynamoDB, never NumPy or the route modules. Each call costs one DynamoDB
round trip (the account and the denylist in one BatchGetItem).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from chalice.app import AuthRequest, AuthResponse, AuthRoute, Blueprint

from chalicelib.auth.access import routes_for
from chalicelib.auth.secret import signing_keys
from chalicelib.auth.tokens import InvalidTokenError, Role, TokenClaims, verify_token
from chalicelib.settings import get_settings
from chalicelib.store import sessions

authorizer_blueprint = Blueprint(__name__)

AUTHORIZER_TTL_SECONDS = 0
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")
_logger = logging.getLogger("ecg_insights.authorizer")
_logger.setLevel(logging.INFO)


class Unauthorized(Exception):
    """API Gateway answers 401 when a token authorizer fails with exactly this message."""

    def __init__(self, reason: str, jti: str | None = None) -> None:
        super().__init__("Unauthorized")
        self.reason = reason
        self.jti = jti


def bearer_token(header: str | None) -> str:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("no bearer token")
    return token.strip()


def policy_routes(role: Role) -> list[str | AuthRoute]:
    """Every route of the role: API Gateway may reuse one policy for all routes of a token."""
    return [AuthRoute(_PATH_PARAMETER.sub("*", path), [method]) for path, method in routes_for(role)]


def authenticate(header: str | None) -> TokenClaims:
    """Valid signature, unexpired, not logged out, and the account still has this password."""
    try:
        claims = verify_token(bearer_token(header), signing_keys(), get_settings().token_ttl_seconds)
    except InvalidTokenError as error:
        raise Unauthorized(f"invalid token: {error}") from None
    user, revoked = sessions.account_and_revocation(claims.username, claims.jti)
    if user is None or user.deleting:
        raise Unauthorized("no such account", claims.jti)
    if user.stamp != claims.stamp or user.role != claims.role:
        raise Unauthorized("password or role changed since the token was issued", claims.jti)
    if revoked:
        raise Unauthorized("token logged out", claims.jti)
    return claims


def log_denial(denial: Unauthorized, method_arn: str) -> None:
    """One line per denial; the token itself never, its id only as a hash."""
    jti_hash = hashlib.sha256(denial.jti.encode("utf-8")).hexdigest()[:16] if denial.jti else None
    _logger.info(
        json.dumps(
            {
                "level": "INFO",
                "message": "denied",
                "reason": denial.reason,
                "jti_sha256": jti_hash,
                "method_arn": method_arn,
            }
        )
    )


@authorizer_blueprint.authorizer(ttl_seconds=AUTHORIZER_TTL_SECONDS)
def jwt_auth(auth_request: AuthRequest) -> AuthResponse:
    try:
        claims = authenticate(auth_request.token)
    except Unauthorized as denial:
        log_denial(denial, auth_request.method_arn)
        raise
    return AuthResponse(
        routes=policy_routes(claims.role),
        principal_id=claims.username,
        context={"role": claims.role.value, "jti": claims.jti, "exp": str(claims.expires_at)},
    )
