"""The deployment zip: arm64 CPython 3.13 wheels, pruned, and it runs with nothing else on the path.

The zip is unpacked into a folder. Its compiled extensions are for aarch64 and cannot load on
this machine, so each distribution that ships any is swapped for the host's build of the same
version; everything else (the app, botocore with its pruned data, PynamoDB, PyJWT) is the
zip's own. A fresh interpreter without site-packages (`-S`) imports the handlers from there and
calls the login route of the API handler, the authorizer and the upload processor (with S3's
test event) against moto's server, which stands in for both DynamoDB and SSM Parameter Store
(AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.deployment import AWS_SERVICES, ROOT, TABLES
from devtools.local_stack import embedded_dynamodb

SECRET = "zip-test-signing-secret-from-ssm-0123456789abcdef"
SCRIPT = r"""
import json, sys
from chalicelib.accounts import NewUser, register
from chalicelib.auth.tokens import Role

register(NewUser("zip-admin", "zip-password-1", Role.ADMIN))
import chalicelib.auth.authorizer as authorizer
authorizer_loads_numpy = "numpy" in sys.modules
import app
import numpy
assert int(numpy.arange(4).sum()) == 6

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
    "body": json.dumps({"username": "zip-admin", "password": "zip-password-1"}),
}, Context())
token = json.loads(login["body"])["access_token"]
policy = authorizer.jwt_auth({
    "type": "TOKEN", "authorizationToken": "Bearer " + token,
    "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef/api/GET/users/me",
}, Context())
# The processing function's handler, with the test event S3 sends when the notification is set.
app.process_uploads({"Records": [{
    "messageId": "m1", "receiptHandle": "r1", "md5OfBody": "", "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ecg-insights-dev-uploads", "awsRegion": "us-east-1",
    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
    "body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}),
}]}, Context())
processing_loaded = "chalicelib.ecg.processing" in sys.modules
print(json.dumps({"login_status": login["statusCode"], "policy": policy,
                  "authorizer_loads_numpy": authorizer_loads_numpy, "processing_loaded": processing_loaded,
                  "paths": sorted(set(p.split("/site-packages")[0] for p in sys.path))}))
"""
WHEEL_TAG = re.compile(r"^Tag: (?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>.+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def names(package_dir: Path) -> list[str]:
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        return archive.namelist()


def test_wheels_are_for_cpython_313_on_arm64(package_dir: Path, names: list[str]):
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        tags = [
            match.groupdict()
            for name in names
            if name.endswith(".dist-info/WHEEL")
            for match in WHEEL_TAG.finditer(archive.read(name).decode())
        ]
    assert tags
    for tag in tags:
        if tag["platform"] != "any":
            assert tag["platform"].endswith("_aarch64"), tag
            assert tag["python"] == "cp313" or tag["abi"] == "abi3", tag
    extensions = [name for name in names if name.endswith(".so") and ".cpython-" in name]
    assert extensions and all(name.endswith(".cpython-313-aarch64-linux-gnu.so") for name in extensions)
    assert not [name for name in names if "x86_64" in name]


def test_only_the_api_models_of_the_services_used_are_kept(names: list[str]):
    services = {name.split("/")[2] for name in names if re.match(r"botocore/data/[^/]+/", name)}
    assert services == set(AWS_SERVICES)
    top_level = {name.split("/")[2] for name in names if re.fullmatch(r"botocore/data/[^/]+", name)}
    assert {"endpoints.json", "partitions.json", "_retry.json", "sdk-default-configuration.json"} <= top_level
    assert not [name for name in names if "/tests/" in name or "__pycache__" in name or name.endswith(".pyc")]


def test_the_code_calls_no_service_whose_model_was_pruned():
    sources = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    called = {
        service
        for source in sources
        for service in re.findall(r"""\.(?:client|resource)\(\s*["']([a-z0-9-]+)["']""", source.read_text())
    }
    assert called and called <= set(AWS_SERVICES)


def installed_paths(record: Path) -> set[str]:
    """The top-level files and folders a distribution installed, from its RECORD."""
    names = [line.split(",")[0] for line in record.read_text().splitlines()]
    return {name.split("/")[0] for name in names if name and not name.startswith("..")} - {record.parent.name}


def swap_native_distributions(unpacked: Path) -> None:
    """Replace each distribution with compiled files by the host's build of the same version."""
    host = Path(sysconfig.get_paths()["purelib"])
    for record in unpacked.glob("*.dist-info/RECORD"):
        if ".so," not in record.read_text():
            continue
        host_record = host / record.parent.name / "RECORD"
        assert host_record.exists(), f"the host has no {record.parent.name} to stand in for the arm64 build"
        for name in installed_paths(record):
            path = unpacked / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for name in installed_paths(host_record):
            path = host / name
            if path.is_dir():
                shutil.copytree(path, unpacked / name)
            elif path.exists():
                shutil.copy2(path, unpacked / name)


def create_tables(template: dict[str, Any], endpoint: str) -> None:
    """The tables exactly as the template defines them."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    for logical_id in TABLES:
        table = template["Resources"][logical_id]["Properties"]
        dynamodb.create_table(
            TableName=table["TableName"],
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode=table["BillingMode"],
        )


def test_handlers_run_from_the_unpacked_zip_alone(
    package_dir: Path, template: dict[str, Any], tmp_path: Path
):
    unpacked = tmp_path / "lambda"
    with zipfile.ZipFile(package_dir / "deployment.zip") as archive:
        archive.extractall(unpacked)
    swap_native_distributions(unpacked)
    with embedded_dynamodb() as endpoint:
        create_tables(template, endpoint)
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
            **{
                table.environment: template["Resources"][logical_id]["Properties"]["TableName"]
                for logical_id, table in TABLES.items()
            },
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
    assert outcome["processing_loaded"]
    assert not any(".venv" in path for path in outcome["paths"])
    assert SECRET not in result.stdout + result.stderr
