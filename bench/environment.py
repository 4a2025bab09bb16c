"""The settings every benchmark process runs with (fast bcrypt, fixed secret, a bench stage)."""

from __future__ import annotations

ENVIRONMENT = {
    "ECG_STAGE": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "ECG_JWT_SECRET": "bench-signing-secret-that-is-long-enough-000000",
    "ECG_BCRYPT_ROUNDS": "4",
}
