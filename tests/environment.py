"""The settings every test process runs with, named once so tests import them, not copy them."""

from __future__ import annotations

SECRET = "test-signing-secret-that-is-long-enough-0123456789"
RETRY_BUDGET = 2  # botocore attempts after the first; faults beyond it reach the API as 503
FAST_BCRYPT_ROUNDS = "4"  # the minimum bcrypt allows: tests hash many passwords

ENVIRONMENT = {
    "ECG_STAGE": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "ECG_JWT_SECRET": SECRET,
    "ECG_BCRYPT_ROUNDS": FAST_BCRYPT_ROUNDS,
    "ECG_DB_MAX_RETRIES": str(RETRY_BUDGET),
}
