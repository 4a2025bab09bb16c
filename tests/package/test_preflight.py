"""`deployment preflight`: a deploy stops early, saying what to do, when the signing secret is missing.

CloudFormation can check an SSM parameter's existence through a parameter of type
`AWS::SSM::Parameter::Value<String>`, but not for a SecureString, and it would show the value
in describe-stacks; so the check runs before the deploy, with the deploying credentials."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from devtools.deployment import preflight

ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-logs"


@pytest.fixture
def account() -> Iterator[None]:
    with mock_aws():
        yield


def set_logging_role() -> None:
    boto3.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE}]
    )


def test_a_missing_secret_stops_the_deploy_with_the_command_that_creates_it(account: None):
    set_logging_role()
    with pytest.raises(SystemExit) as stopped:
        preflight("dev")
    message = str(stopped.value)
    assert "/ecg-insights/dev/jwt-secret does not exist" in message
    assert "aws ssm put-parameter --name /ecg-insights/dev/jwt-secret --type SecureString" in message


def test_a_plain_string_secret_is_refused(account: None):
    set_logging_role()
    boto3.client("ssm").put_parameter(Name="/ecg-insights/dev/jwt-secret", Value="x" * 40, Type="String")
    with pytest.raises(SystemExit, match="not a SecureString"):
        preflight("dev")


def test_a_missing_api_gateway_logging_role_stops_the_deploy(account: None):
    boto3.client("ssm").put_parameter(
        Name="/ecg-insights/dev/jwt-secret", Value="x" * 40, Type="SecureString"
    )
    with pytest.raises(SystemExit, match="no CloudWatch Logs role"):
        preflight("dev")


def test_secret_and_role_present_pass(account: None, capsys: pytest.CaptureFixture[str]):
    set_logging_role()
    boto3.client("ssm").put_parameter(
        Name="/ecg-insights/dev/jwt-secret", Value="x" * 40, Type="SecureString"
    )
    preflight("dev")
    assert "present" in capsys.readouterr().out
