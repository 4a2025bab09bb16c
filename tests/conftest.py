"""Shared fixtures: an in-process moto DynamoDB and S3 and the Chalice test client behind the
faithful API Gateway emulation, in the test environment of tests/environment.py."""

from __future__ import annotations

import os

from tests.environment import ENVIRONMENT

os.environ.update(ENVIRONMENT)
os.environ.pop("ECG_DYNAMODB_HOST", None)
os.environ.pop("ECG_JWT_SECRET_PARAMETER", None)

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.faults import FaultPlan, answer_with
from tests.helpers import Api

ADMIN = ("root-admin", "admin-password-1")
TIERS = ("unit", "api", "e2e", "package", "browser")


@pytest.fixture
def aws() -> Iterator[None]:
    from devtools.dynamodb_emulation import install as install_dynamodb_emulation
    from devtools.s3_emulation import install as install_s3_emulation
    from devtools.tables import create_tables

    install_dynamodb_emulation()
    install_s3_emulation()
    with mock_aws():
        create_tables()
        yield


@pytest.fixture
def api(aws: None) -> Api:
    from app import app
    from chalicelib.accounts import NewUser, register
    from chalicelib.auth.tokens import Role
    from devtools.test_client import make_client

    register(NewUser(ADMIN[0], ADMIN[1], Role.ADMIN))
    return Api(make_client(app).http, ADMIN)


@pytest.fixture
def faults(aws: None, monkeypatch: pytest.MonkeyPatch) -> FaultPlan:
    """A FaultPlan that answers in moto's place for chosen calls; retries do not sleep.

    botocore asks every `before-send` handler and keeps the first answer, so a fault must
    replace moto's answer rather than precede it, or moto would apply the write anyway."""
    from botocore.retries.standard import ExponentialBackoff, RetryQuotaChecker
    from moto.core.botocore_stubber import BotocoreStubber

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(RetryQuotaChecker, "acquire_retry_quota", lambda self, context: True)
    plan = FaultPlan()
    moto_answer = BotocoreStubber.__call__

    def answer(self: BotocoreStubber, event_name: str, request: object, **kwargs: object) -> object:
        def apply() -> object:
            return moto_answer(self, event_name, request, **kwargs)

        kind = plan(request)
        return apply() if kind is None else answer_with(kind, request, apply)

    monkeypatch.setattr(BotocoreStubber, "__call__", answer)
    return plan


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its tier (its folder): `make test-fast` runs unit and api only."""
    for item in items:
        tier = item.path.parent.name
        if tier in TIERS:
            item.add_marker(tier)
