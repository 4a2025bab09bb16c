"""Shared fixtures: an in-process moto DynamoDB and the Chalice test client behind the
faithful API Gateway emulation. The environment is set before the app is imported."""

from __future__ import annotations

import os

os.environ.update(
    {
        "ECG_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ECG_JWT_SECRET": "test-signing-secret-that-is-long-enough-0123456789",
        "ECG_BCRYPT_ROUNDS": "4",
        "ECG_DB_MAX_RETRIES": "2",
    }
)
os.environ.pop("ECG_DYNAMODB_HOST", None)
os.environ.pop("ECG_JWT_SECRET_PARAMETER", None)

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.helpers import Api

ADMIN = ("root-admin", "admin-password-1")


@pytest.fixture
def aws() -> Iterator[None]:
    from chalicelib.store.models import create_tables

    with mock_aws():
        create_tables()
        yield


@pytest.fixture
def api(aws: None) -> Api:
    from app import app
    from chalicelib.accounts import register
    from chalicelib.auth.tokens import Role
    from devtools.test_client import make_client

    register(ADMIN[0], ADMIN[1], Role.ADMIN)
    return Api(make_client(app).http, ADMIN)
