"""`make package STAGE=dev|prod`: the whole stack as one CloudFormation (SAM) template.

`chalice package` writes the API, the functions and their roles; this module writes the
template merged into it (`--merge-template`): the DynamoDB tables, derived from the PynamoDB
models; the table names for every function as references to those tables; each role's
least-privilege policy; and API Gateway responses shaped like the app's own errors. It then
fails if Chalice could not package a dependency, and runs cfn-lint on the result.

    python -m devtools.deployment package --stage dev [--out build/dev]
    python -m devtools.deployment policies            # rewrite .chalice/policy-<stage>.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynamodb.attributes import TTLAttribute

from chalicelib.settings import APP_NAME, default_table_name

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
FUNCTIONS = {"APIHandler": "ApiHandlerRole", "JwtAuth": "JwtAuthRole"}


@dataclass(frozen=True)
class Table:
    model: str  # the PynamoDB model in chalicelib.store.models: keys and TTL come from it
    kind: str  # the name suffix of chalicelib.settings.default_table_name
    environment: str  # the variable that gives every function the table's name


TABLES = {
    "UsersTable": Table("UserItem", "users", "ECG_USERS_TABLE"),
    "EcgsTable": Table("EcgItem", "ecgs", "ECG_ECGS_TABLE"),
    "EcgChunksTable": Table("EcgChunkItem", "ecg-chunks", "ECG_ECG_CHUNKS_TABLE"),
    "RevokedTokensTable": Table("RevokedTokenItem", "revoked-tokens", "ECG_REVOKED_TOKENS_TABLE"),
}
# What each function does to each table. TransactWriteItems is authorised per item:
# PutItem, DeleteItem and ConditionCheckItem.
PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "APIHandler": {
        "UsersTable": ["ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"],
        "EcgsTable": ["DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"],
        "EcgChunksTable": ["BatchGetItem", "DeleteItem", "PutItem"],
        "RevokedTokensTable": ["PutItem"],
    },
    "JwtAuth": {
        "UsersTable": ["GetItem"],
        "RevokedTokensTable": ["GetItem"],
    },
}
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "Unauthorized", {"WWW-Authenticate": "'Bearer'"}),
    "ACCESS_DENIED": (403, "this role may not call this route", {}),
    "MISSING_AUTHENTICATION_TOKEN": (404, "no such resource", {}),
    "AUTHORIZER_FAILURE": (503, "authorization is unavailable; retry later", {"Retry-After": "'1'"}),
    "AUTHORIZER_CONFIGURATION_ERROR": (
        503,
        "authorization is unavailable; retry later",
        {"Retry-After": "'1'"},
    ),
    "REQUEST_TOO_LARGE": (413, "request body over 6,000,000 bytes", {}),
    "DEFAULT_4XX": (None, None, {}),
    "DEFAULT_5XX": (None, None, {}),
}


def table_name(stage: str, logical_id: str) -> str:
    return default_table_name(stage, TABLES[logical_id].kind)


def secret_parameter(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config["stages"][stage]["environment_variables"]["ECG_JWT_SECRET_PARAMETER"]


def table_resource(stage: str, logical_id: str) -> dict[str, Any]:
    from chalicelib.store import models

    model = getattr(models, TABLES[logical_id].model)
    keys = [(model._hash_keyname, "HASH")] + (
        [(model._range_keyname, "RANGE")] if model._range_keyname else []
    )
    attributes = model.get_attributes()
    ttl = [name for name, attribute in attributes.items() if isinstance(attribute, TTLAttribute)]
    properties: dict[str, Any] = {
        "TableName": table_name(stage, logical_id),
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": attributes[name].attr_type} for name, _ in keys
        ],
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl[0], "Enabled": True}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def policy_statements(
    function: str, table_arn: Any, parameter_arn: Any, logs_arn: Any
) -> list[dict[str, Any]]:
    statements = [
        {
            "Effect": "Allow",
            "Action": [f"dynamodb:{action}" for action in actions],
            "Resource": [table_arn(table)],
        }
        for table, actions in PERMISSIONS[function].items()
    ]
    statements.append({"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": [parameter_arn]})
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [logs_arn],
        }
    )
    return statements


def merge_template(stage: str) -> dict[str, Any]:
    parameter = secret_parameter(stage)
    resources: dict[str, Any] = {logical_id: table_resource(stage, logical_id) for logical_id in TABLES}
    for function, role in FUNCTIONS.items():
        resources[function] = {
            "Properties": {
                "Environment": {
                    "Variables": {
                        table.environment: {"Ref": logical_id} for logical_id, table in TABLES.items()
                    }
                }
            }
        }
        statements = policy_statements(
            function,
            lambda table: {"Fn::GetAtt": [table, "Arn"]},
            {
                "Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"
            },
            {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${AWS::StackName}-*"
            },
        )
        resources[role] = {
            "Properties": {
                "Policies": [
                    {
                        "PolicyName": f"{role}Policy",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }
                ]
            }
        }
    resources["RestAPI"] = {"Properties": {"GatewayResponses": gateway_responses()}}
    return {"Resources": resources}


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own answers, shaped like the app's: a JSON `message` (see devtools/gateway.py)."""
    responses: dict[str, Any] = {}
    for response_type, (status, message, headers) in GATEWAY_RESPONSES.items():
        body = json.dumps({"message": message}) if message else '{"message": $context.error.messageString}'
        response: dict[str, Any] = {"ResponseTemplates": {"application/json": body}}
        if status is not None:
            response["StatusCode"] = status
        if headers:
            response["ResponseParameters"] = {"Headers": headers}
        responses[response_type] = response
    return responses


def chalice_policy(stage: str, function: str) -> dict[str, Any]:
    """The same statements for `chalice deploy`, with ARNs written out by table name."""
    parameter = secret_parameter(stage)
    statements = policy_statements(
        function,
        lambda table: f"arn:aws:dynamodb:*:*:table/{table_name(stage, table)}",
        f"arn:aws:ssm:*:*:parameter{parameter}",
        f"arn:aws:logs:*:*:log-group:/aws/lambda/{APP_NAME}-{stage}-*",
    )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_path(stage: str, function: str) -> Path:
    return ROOT / ".chalice" / f"policy-{stage}-{'api' if function == 'APIHandler' else 'authorizer'}.json"


def write_policies() -> None:
    for stage in STAGES:
        for function in FUNCTIONS:
            policy_path(stage, function).write_text(
                json.dumps(chalice_policy(stage, function), indent=2) + "\n"
            )


def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def package(stage: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    merge_path = out / "merge-template.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2))
    package_dir = out / "package"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = Path(sys.executable).with_name("chalice")
    result = subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_path), str(package_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "Could not install" in output or "could not be" in output.lower():
        raise SystemExit(f"chalice package failed or left a dependency out:\n{output}")
    template = package_dir / "sam.json"
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(template)], capture_output=True, text=True
    )
    if lint.returncode != 0:
        raise SystemExit(f"cfn-lint found problems in {template}:\n{lint.stdout}{lint.stderr}")
    zip_path = package_dir / "deployment.zip"
    print(f"{template} passes cfn-lint")
    print(
        f"{zip_path}: {zip_path.stat().st_size / 1e6:.1f} MB zipped, {unzipped_size(zip_path) / 1e6:.1f} MB unzipped"
    )
    return package_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.deployment", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("package", help="chalice package with the merged resources, then cfn-lint")
    build.add_argument("--stage", choices=STAGES, required=True)
    build.add_argument("--out", type=Path)
    commands.add_parser("policies", help="rewrite .chalice/policy-<stage>-<function>.json")
    args = parser.parse_args(argv)
    if args.command == "policies":
        write_policies()
    else:
        package(args.stage, args.out or ROOT / "build" / args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
