"""The signing secret comes from SSM Parameter Store on AWS, read once per container."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.auth import secret
from chalicelib.settings import PREVIOUS_SECRET_SUFFIX, get_settings

VALUE = "a-signing-secret-kept-in-ssm-0123456789abcdef"


@pytest.fixture
def from_ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ECG_JWT_SECRET")
    monkeypatch.setenv("ECG_JWT_SECRET_PARAMETER", "/ecg-insights/test/jwt-secret")
    get_settings.cache_clear()
    secret.signing_keys.cache_clear()
    with mock_aws():
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/ecg-insights/test/jwt-secret", Value=VALUE, Type="SecureString"
        )
        yield
    monkeypatch.undo()
    get_settings.cache_clear()
    secret.signing_keys.cache_clear()


def test_secret_is_read_from_the_ssm_parameter(from_ssm: None):
    assert secret.signing_keys() == secret.SigningKeys(VALUE)


def test_previous_secret_is_read_beside_the_current_one_during_a_rotation(from_ssm: None):
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"/ecg-insights/test/jwt-secret{PREVIOUS_SECRET_SUFFIX}", Value=VALUE[::-1], Type="SecureString"
    )
    assert secret.signing_keys() == secret.SigningKeys(VALUE, previous=VALUE[::-1])


def test_missing_secret_parameter_is_a_clear_error(from_ssm: None):
    boto3.client("ssm", region_name="us-east-1").delete_parameter(Name="/ecg-insights/test/jwt-secret")
    with pytest.raises(secret.MissingSecretError, match="does not exist"):
        secret.signing_keys()


def test_secret_is_read_once_per_container(from_ssm: None):
    assert secret.signing_keys().current == VALUE
    boto3.client("ssm", region_name="us-east-1").delete_parameter(Name="/ecg-insights/test/jwt-secret")
    assert secret.signing_keys().current == VALUE


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ECG_JWT_SECRET", "too-short")
    get_settings.cache_clear()
    secret.signing_keys.cache_clear()
    try:
        with pytest.raises(secret.MissingSecretError):
            secret.signing_keys()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        secret.signing_keys.cache_clear()
