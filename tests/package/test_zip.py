"""The deployment zip runs with nothing else on the path: Lambda's view of it.

The zip is unpacked into a folder; a fresh interpreter without site-packages (`-S`) imports
the handlers from there and calls the login and the authorizer handlers against moto's server,
which stands in for both DynamoDB and SSM Parameter Store (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3

from devtools.local_stack import embedded_dynamodb

SECRET = "zip-test-signing-secret-from-ssm-0123456789abcdef"
SCRIPT = r"""
import json, sys
from chalicelib.store.models import create_tables
from chalicelib.accounts import register
from chalicelib.auth.tokens import Role

create_tables()
register("zip-admin", "zip-password", Role.ADMIN)
import chalicelib.auth.authorizer as authorizer
authorizer_loads_numpy = "numpy" in sys.modules
import app

class Context:
    aws_request_id = "zip-test"
    function_name = "zip"
    memory_limit_in_mb = 1024

login = app.app({
    "resource": "/auth/token", "path": "/auth/token", "httpMethod": "POST",
    "requestContext": {"resourcePath": "/auth/token", "httpMethod": "POST", "path": "/auth/token", "requestId": "r1"},
    "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
    "pathParameters": None, "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "stageVariables": None, "isBase64Encoded": False,
    "body": json.dumps({"username": "zip-admin", "password": "zip-password"}),
}, Context())
token = json.loads(login["body"])["access_token"]
policy = authorizer.jwt_auth({
    "type": "TOKEN", "authorizationToken": "Bearer " + token,
    "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/GET/users/me",
}, Context())
print(json.dumps({"login_status": login["statusCode"], "policy": policy,
                  "authorizer_loads_numpy": authorizer_loads_numpy,
                  "paths": sorted(set(p.split("/site-packages")[0] for p in sys.path))}))
"""


def test_handlers_run_from_the_unpacked_zip_alone(package_dir: Path, tmp_path: Path):
    unpacked = tmp_path / "lambda"
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        archive.extractall(unpacked)
    with embedded_dynamodb() as endpoint:
        ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
        ssm.put_parameter(Name="/ecg-insights/dev/jwt-secret", Value=SECRET, Type="SecureString")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(unpacked),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "zip",
            "AWS_SECRET_ACCESS_KEY": "zip",
            "ECG_STAGE": "dev",
            "ECG_BCRYPT_ROUNDS": "4",
            "ECG_JWT_SECRET_PARAMETER": "/ecg-insights/dev/jwt-secret",
        }
        result = subprocess.run(
            [sys.executable, "-S", "-c", SCRIPT],
            cwd=unpacked,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["login_status"] == 200
    assert outcome["policy"]["principalId"] == "zip-admin"
    resources = outcome["policy"]["policyDocument"]["Statement"][0]["Resource"]
    assert any(resource.endswith("/GET/users/me") for resource in resources)
    assert not outcome["authorizer_loads_numpy"]
    assert not any(".venv" in path for path in outcome["paths"])
    assert SECRET not in result.stdout + result.stderr
