"""The CloudFormation template: tables, environment, policies, authorizer caching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.deployment import FUNCTIONS, PERMISSIONS, STAGES, chalice_policy, policy_path, unzipped_size

TABLES = ["UsersTable", "EcgsTable", "EcgChunksTable", "RevokedTokensTable"]


def test_zip_fits_lambda_limits(package_dir: Path):
    zip_path = package_dir / "deployment.zip"
    assert zip_path.stat().st_size < 50 * 2**20
    assert unzipped_size(zip_path) < 250 * 2**20


@pytest.mark.parametrize("table", TABLES)
def test_tables_are_on_demand_encrypted_recoverable_and_retained(template: dict[str, Any], table: str):
    resource = template["Resources"][table]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    properties = resource["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_revoked_tokens_expire_through_dynamodb_ttl(template: dict[str, Any]):
    ttl = template["Resources"]["RevokedTokensTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_function_gets_the_table_names_from_the_tables(template: dict[str, Any], function: str):
    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    assert {variables[name]["Ref"] for name in variables if name.endswith("_TABLE")} == set(TABLES)


def test_authorizer_caches_nothing_so_logout_and_deletion_act_at_once(template: dict[str, Any]):
    assert '"authorizerResultTtlInSeconds": 0' in json.dumps(template)


def test_authorizer_function_imports_only_the_authorizer_module(template: dict[str, Any]):
    assert template["Resources"]["JwtAuth"]["Properties"]["Handler"] == "chalicelib.auth.authorizer.jwt_auth"


@pytest.mark.parametrize("role", list(FUNCTIONS.values()))
def test_policies_grant_no_wildcard_action_or_resource(template: dict[str, Any], role: str):
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            for resource in statement["Resource"]:
                if not statement["Action"][0].startswith("logs:"):
                    assert resource != "*" and "*" not in json.dumps(resource)


def test_signing_secret_is_named_never_given(template: dict[str, Any]):
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    assert "ECG_JWT_SECRET" not in json.dumps(config).replace("ECG_JWT_SECRET_PARAMETER", "")
    for function in FUNCTIONS:
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert "ECG_JWT_SECRET" not in variables
        assert variables["ECG_JWT_SECRET_PARAMETER"] == "/ecg-insights/dev/jwt-secret"


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_committed_chalice_policies_match_the_generator(stage: str, function: str):
    assert json.loads(policy_path(stage, function).read_text()) == chalice_policy(stage, function)


def test_permissions_cover_only_tables_that_exist():
    for tables in PERMISSIONS.values():
        assert set(tables) <= set(TABLES)
