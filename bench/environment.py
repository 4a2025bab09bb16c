"""The settings every benchmark process runs with (fast bcrypt, fixed secret, a bench stage)."""

from __future__ import annotations

import json
from typing import Any

ENVIRONMENT = {
    "ECG_STAGE": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "ECG_JWT_SECRET": "bench-signing-secret-that-is-long-enough-000000",
    "ECG_BCRYPT_ROUNDS": "4",
}


def bench_user_token(http: Any) -> str:
    """Register the bench user and sign in through a Chalice test client's `http`."""
    from chalicelib.accounts import NewUser, register
    from chalicelib.auth.tokens import Role

    register(NewUser("bench-user", "bench-password", Role.USER))
    login = http.request(
        "POST",
        "/auth/token",
        headers={"Content-Type": "application/json"},
        body=b'{"username":"bench-user","password":"bench-password"}',
    )
    return str(json.loads(login.body)["access_token"])
