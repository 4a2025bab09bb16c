"""`make package STAGE=dev|prod`: the whole stack as one CloudFormation (SAM) template.

`chalice package` writes the API, the functions and their roles from .chalice/config.json
(runtime, arm64, timeouts, memory, X-Ray, the authorizer's reserved concurrency, REGIONAL
endpoint, compression, the SQS event source of the upload processor); this module writes the
template merged into it (`--merge-template`): the DynamoDB tables, derived from the PynamoDB
models; the signals bucket (encrypted, private, TLS only, lifecycle rules) whose `uploads/`
notify the uploads queue (with its dead-letter queue) that feeds the processing function; the
table and bucket names for the functions as references to those resources; fixed function
names with their log groups; each role's least-privilege policy; stage throttling, JSON access
logs and tracing; API Gateway responses shaped like the app's own errors; alarms to an SNS
topic. It then fails if Chalice could not package a dependency, prunes the zip to what Lambda
loads, and runs cfn-lint and checkov.

    python -m devtools.deployment package --stage dev [--out build/dev]
    python -m devtools.deployment preflight --stage dev   # before a deploy: secret, logging role
    python -m devtools.deployment policies                # rewrite .chalice/policy-<stage>-*.json

See docs/operations.md for what the alarms mean and how to change the throttles.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynamodb.attributes import TTLAttribute

from chalicelib.settings import APP_NAME, PREVIOUS_SECRET_SUFFIX, default_resource_name
from chalicelib.store.queue import DELIVERY_ATTEMPTS
from chalicelib.store.signals import PENDING, SIGNALS_PREFIX, UPLOADS_PREFIX

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")


@dataclass(frozen=True)
class Function:
    role: str  # the logical id of its role in Chalice's template
    config_name: str  # its key under `lambda_functions` in .chalice/config.json
    policy_file: str  # .chalice/policy-<stage>-<policy_file>.json
    errors_alarm: int  # Errors in 5 minutes that alarm: each token the authorizer refuses is one
    checkov: tuple[str, ...]  # the CHECKOV_SKIPS kinds of its function resource
    reads_secret: bool  # signs or verifies tokens: may read the signing secret


FUNCTIONS = {
    "APIHandler": Function(
        "ApiHandlerRole",
        "api_handler",
        "api",
        errors_alarm=1,
        checkov=("function", "api_function", "api_handler"),
        reads_secret=True,
    ),
    "JwtAuth": Function(
        "JwtAuthRole",
        "jwt_auth",
        "authorizer",
        errors_alarm=50,
        checkov=("function", "api_function"),
        reads_secret=True,
    ),
    "ProcessUploads": Function(
        "ProcessUploadsRole",
        "process_uploads",
        "processing",
        errors_alarm=1,
        checkov=("function", "processing"),
        reads_secret=False,
    ),
}
# The SQS event source `chalice package` writes for @app.on_sqs_message(name="process_uploads").
PROCESSING_FUNCTION = "ProcessUploads"
PROCESSING_EVENT_SOURCE = "ProcessUploadsSqsEventSource"
# The queue name app.py gives on_sqs_message: `chalice deploy` looks it up by this name; the
# template points the event source at the stage's own queue instead.
CHALICE_UPLOADS_QUEUE = f"{APP_NAME}-uploads"


@dataclass(frozen=True)
class Table:
    model: str  # the PynamoDB model in chalicelib.store.models: keys and TTL come from it
    kind: str  # the name suffix of chalicelib.settings.default_resource_name
    environment: str  # the variable that gives every function the table's name


TABLES = {
    "UsersTable": Table("UserItem", "users", "ECG_USERS_TABLE"),
    "EcgsTable": Table("EcgItem", "ecgs", "ECG_ECGS_TABLE"),
    "RevokedTokensTable": Table("RevokedTokenItem", "revoked-tokens", "ECG_REVOKED_TOKENS_TABLE"),
    "LoginAttemptsTable": Table("LoginAttemptItem", "login-attempts", "ECG_LOGIN_ATTEMPTS_TABLE"),
    "IdempotencyKeysTable": Table("IdempotencyItem", "idempotency-keys", "ECG_IDEMPOTENCY_KEYS_TABLE"),
}
# What each function does to each table. TransactWriteItems is authorised per item:
# PutItem, DeleteItem and ConditionCheckItem.
PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "APIHandler": {
        "UsersTable": ["ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "Scan", "UpdateItem"],
        "EcgsTable": ["DeleteItem", "GetItem", "PutItem", "Query", "UpdateItem"],
        "RevokedTokensTable": ["PutItem"],
        "LoginAttemptsTable": ["DeleteItem", "GetItem", "PutItem"],
        "IdempotencyKeysTable": ["GetItem", "PutItem", "UpdateItem"],
    },
    "JwtAuth": {
        "UsersTable": ["BatchGetItem"],
        "RevokedTokensTable": ["BatchGetItem"],
    },
    "ProcessUploads": {
        "EcgsTable": ["GetItem", "UpdateItem"],
    },
}
# The signals bucket's two prefixes (chalicelib/store/signals.py): `signals/<owner>/<ecg>/<token>`,
# the packed signal, written tagged state=pending and committed by deleting the tag once
# DynamoDB refers to it; `uploads/<owner>/<ecg>/<token>`, the raw files clients PUT through
# presigned URLs. What each function does under each prefix, as IAM actions: a PutObject
# with `Tagging` needs s3:PutObjectTagging too; a multipart upload's Create, UploadPart and
# Complete are all s3:PutObject; a ranged GET is s3:GetObject; a presigned PUT URL carries the
# s3:PutObject of the role that signed it.
S3_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "APIHandler": {
        SIGNALS_PREFIX: ["DeleteObject", "DeleteObjectTagging", "GetObject", "PutObject", "PutObjectTagging"],
        UPLOADS_PREFIX: ["DeleteObject", "PutObject"],
    },
    "ProcessUploads": {
        SIGNALS_PREFIX: [
            "AbortMultipartUpload",
            "DeleteObject",
            "DeleteObjectTagging",
            "PutObject",
            "PutObjectTagging",
        ],
        UPLOADS_PREFIX: ["DeleteObject", "GetObject"],
    },
}
# Actions on the signals bucket itself, granted for how S3 answers rather than for a call the
# code makes: without s3:ListBucket, S3 answers a GetObject, PutObjectTagging or
# DeleteObjectTagging of a missing key 403 AccessDenied instead of 404 NoSuchKey, and
# chalicelib/store/signals.py relies on NoSuchKey (commit, mark_pending, open_upload); a 403
# would be a 500 from the API or a pointless redelivery in the processor. Listing reveals
# little: both roles already read or write objects under both prefixes, and a listing shows
# key names only (owner, ECG id, a random token), never contents. The authorizer touches no
# object and gets nothing.
S3_NOT_FOUND_PERMISSIONS: dict[str, list[str]] = {
    "APIHandler": ["ListBucket"],
    "ProcessUploads": ["ListBucket"],
}
# What each function does to the uploads queue: the Lambda event source polls it with the
# function's role.
QUEUE_PERMISSIONS: dict[str, list[str]] = {
    "ProcessUploads": ["ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "ReceiveMessage"],
}
SIGNALS_BUCKET_ENVIRONMENT = "ECG_SIGNALS_BUCKET"
PENDING_EXPIRY_DAYS = 1  # after which a signal never committed (its write failed part-way) is deleted
UPLOADS_EXPIRY_DAYS = 2  # a backstop: processing deletes each upload once done
INCOMPLETE_MULTIPART_DAYS = 1
VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT = 6  # AWS's guidance for a queue that feeds a Lambda function
UPLOADS_RETENTION_SECONDS = 4 * 24 * 3600  # SQS's default; the dead-letter queue keeps longer
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum
UPLOADS_AGE_ALARM_SECONDS = 1800  # the oldest notification waiting this long: processing stalls
# IAM actions authorised per item inside a TransactWriteItems, which CloudWatch counts under it.
TRANSACTION_ITEM_ACTIONS = {"ConditionCheckItem", "DeleteItem", "PutItem", "UpdateItem"}
# (status, message, code, headers): the same shapes as devtools/gateway.py answers locally.
GATEWAY_RESPONSES: dict[str, tuple[int | None, str | None, str, dict[str, str]]] = {
    "UNAUTHORIZED": (401, "Unauthorized", "unauthorized", {"WWW-Authenticate": "'Bearer'"}),
    "ACCESS_DENIED": (403, "this role may not call this route", "forbidden", {}),
    "MISSING_AUTHENTICATION_TOKEN": (404, "no such resource", "not_found", {}),
    "AUTHORIZER_FAILURE": (
        503,
        "authorization is unavailable; retry later",
        "unavailable",
        {"Retry-After": "'1'"},
    ),
    "AUTHORIZER_CONFIGURATION_ERROR": (
        503,
        "authorization is unavailable; retry later",
        "unavailable",
        {"Retry-After": "'1'"},
    ),
    "REQUEST_TOO_LARGE": (413, "request body over 6,000,000 bytes", "payload_too_large", {}),
    "THROTTLED": (429, "too many requests; retry later", "throttled", {"Retry-After": "'1'"}),
    "DEFAULT_4XX": (None, None, "rejected_by_gateway", {}),
    "DEFAULT_5XX": (None, None, "unavailable", {}),
}
# Every gateway answer carries the headers every app response carries (chalicelib.api.responses).
GATEWAY_SECURITY_HEADERS = {"Cache-Control": "'no-store'", "X-Content-Type-Options": "'nosniff'"}


@dataclass(frozen=True)
class Throttle:
    rate: float  # steady requests per second
    burst: int  # requests admitted at once above the rate


@dataclass(frozen=True)
class StageSettings:
    api: Throttle  # every route together
    login: Throttle  # POST /auth/token alone: a bcrypt hash per call, and the password-guessing door
    log_retention_days: int
    processing_concurrency: int  # uploads processed at once: the event source's MaximumConcurrency


STAGE_SETTINGS = {
    "dev": StageSettings(Throttle(20, 40), Throttle(2, 5), 30, 5),
    "prod": StageSettings(Throttle(200, 400), Throttle(10, 20), 365, 20),
}
LOGIN_ROUTE = ("/auth/token", "POST")
API_5XX_RATE_ALARM = 0.05  # the share of requests answered 5xx in 5 minutes
API_P99_LATENCY_ALARM_MS = 3000  # for 15 minutes in a row
DURATION_ALARM_SHARE = 0.8  # of the function's timeout
# The AWS services the code calls (boto3/PynamoDB): the zip keeps only their API models.
AWS_SERVICES = ("dynamodb", "s3", "sqs", "ssm", "sts")
MAX_ZIP_BYTES = 25_000_000
# The access log line: one JSON object per request, every value a string ("-" when empty).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "principal": "$context.authorizer.principalId",
    "errorType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}
AUTHORIZER_FAILURES = ("AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR")
# checkov findings accepted on purpose (docs/operations.md): resource kind -> check -> why.
CHECKOV_SKIPS: dict[str, dict[str, str]] = {
    "function": {
        "CKV_AWS_117": "calls only AWS APIs (DynamoDB, S3, SSM) over TLS with IAM; a VPC would need NAT or endpoints",
        "CKV_AWS_173": "the environment holds names (tables, bucket, SSM parameter), no secret",
    },
    "api_function": {
        "CKV_AWS_116": "invoked synchronously by API Gateway only; a DLQ applies to async invocations",
    },
    "processing": {
        "CKV_AWS_116": "invoked by an SQS event source, not asynchronously: failed messages go to the queue's DLQ",
        "CKV_AWS_115": "capped by the event source's MaximumConcurrency; a reservation would throttle "
        "the SQS poller, and throttled receives count towards the DLQ",
    },
    "api_handler": {
        "CKV_AWS_115": "bounded by the stage throttle; a reservation would shrink the account's shared pool",
    },
    "api": {
        "CKV_AWS_120": "every answer depends on the caller and must reflect writes at once: nothing to cache",
    },
    "table": {
        "CKV_AWS_119": "encrypted at rest with the AWS owned key; a customer managed key is a later decision",
    },
    "log_group": {
        "CKV_AWS_158": "CloudWatch Logs encrypts at rest; lines hold no body, token or password",
    },
    "bucket": {
        "CKV_AWS_18": "server access logs need a second bucket to secure; the objects are reached only by "
        "the functions' roles and their presigned URLs (CloudTrail data events audit them if wanted)",
        "CKV_AWS_21": "objects are written once under fresh keys; deleting an ECG must really delete its "
        "signal (health data), which versioning would keep",
    },
    "queue": {
        "CKV_AWS_27": "encrypted with SSE-SQS (SqsManagedSseEnabled), which this check does not know; SSE-KMS "
        "would need a customer managed key whose policy admits S3's notifications",
    },
    "topic": {
        "CKV_AWS_26": "CloudWatch cannot publish to a topic under the AWS managed SNS key; alarms hold no data",
    },
}


def chalice_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config


def function_setting(stage: str, function: str, key: str) -> Any:
    """A Chalice setting as Chalice resolves it: the function's, else the stage's, else the app's."""
    config = chalice_config()
    stage_config = config["stages"][stage]
    scopes = [stage_config.get("lambda_functions", {}).get(FUNCTIONS[function].config_name, {}), stage_config]
    return next((scope[key] for scope in [*scopes, config] if key in scope), None)


def function_name(stage: str, function: str) -> str:
    """The name `chalice deploy` gives it, so both ways of deploying log to the same group."""
    if function == "APIHandler":
        return f"{APP_NAME}-{stage}"
    return f"{APP_NAME}-{stage}-{FUNCTIONS[function].config_name}"


def api_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def table_name(stage: str, logical_id: str) -> str:
    return default_resource_name(stage, TABLES[logical_id].kind)


def secret_parameter(stage: str) -> str:
    name: str = chalice_config()["stages"][stage]["environment_variables"]["ECG_JWT_SECRET_PARAMETER"]
    return name


def secret_parameters(stage: str) -> list[str]:
    """The current secret and, during a rotation, the previous one: the functions may read both."""
    current = secret_parameter(stage)
    return [current, current + PREVIOUS_SECRET_SUFFIX]


def table_operations(logical_id: str) -> list[str]:
    """The DynamoDB operations that reach a table, as CloudWatch's `Operation` dimension names them."""
    actions = {action for tables in PERMISSIONS.values() for action in tables.get(logical_id, [])}
    transactions = {"TransactWriteItems"} if actions & TRANSACTION_ITEM_ACTIONS else set()
    return sorted((actions - {"ConditionCheckItem"}) | transactions)


def checkov_skips(*kinds: str) -> dict[str, Any]:
    skips = [{"id": check, "comment": why} for kind in kinds for check, why in CHECKOV_SKIPS[kind].items()]
    return {"checkov": {"skip": skips}}


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
        "Metadata": checkov_skips("table"),
        "Properties": properties,
    }


@dataclass(frozen=True)
class Arns:
    """How a policy names what it grants: references in the template, names for `chalice deploy`."""

    table: Callable[[str], Any]  # a table's logical id -> its ARN
    objects: Callable[[str], Any]  # a key prefix of the signals bucket -> the ARN of the objects under it
    bucket: Any  # the signals bucket itself
    queue: Any  # the uploads queue
    parameters: list[Any]  # the signing secret's parameters
    log_groups: list[Any]  # the function's own log group


def policy_statements(function: str, arns: Arns, log_actions: list[str]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": [f"dynamodb:{action}" for action in actions],
            "Resource": [arns.table(table)],
        }
        for table, actions in PERMISSIONS[function].items()
    ]
    statements += [
        {
            "Effect": "Allow",
            "Action": [f"s3:{action}" for action in actions],
            "Resource": [arns.objects(prefix)],
        }
        for prefix, actions in S3_PERMISSIONS.get(function, {}).items()
    ]
    if function in S3_NOT_FOUND_PERMISSIONS:  # 404, not 403, for a missing key: see S3_NOT_FOUND_PERMISSIONS
        statements.append(
            {
                "Effect": "Allow",
                "Action": [f"s3:{action}" for action in S3_NOT_FOUND_PERMISSIONS[function]],
                "Resource": [arns.bucket],
            }
        )
    if function in QUEUE_PERMISSIONS:
        statements.append(
            {
                "Effect": "Allow",
                "Action": [f"sqs:{action}" for action in QUEUE_PERMISSIONS[function]],
                "Resource": [arns.queue],
            }
        )
    if FUNCTIONS[function].reads_secret:
        statements.append({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": arns.parameters})
    statements.append({"Effect": "Allow", "Action": log_actions, "Resource": arns.log_groups})
    # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": ["*"],
        }
    )
    return statements


def log_group(name: Any, stage: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Metadata": checkov_skips("log_group"),
        "Properties": {"LogGroupName": name, "RetentionInDays": STAGE_SETTINGS[stage].log_retention_days},
    }


def function_resources(stage: str) -> dict[str, Any]:
    """Each function: fixed name, table and bucket names, its own log group, and a role that writes only there."""
    parameter_arns = [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{name}"}
        for name in secret_parameters(stage)
    ]
    resources: dict[str, Any] = {}
    for function, spec in FUNCTIONS.items():
        name = function_name(stage, function)
        resources[f"{function}LogGroup"] = log_group(f"/aws/lambda/{name}", stage)
        variables: dict[str, Any] = {
            table.environment: {"Ref": logical_id} for logical_id, table in TABLES.items()
        }
        if function in S3_PERMISSIONS:
            variables[SIGNALS_BUCKET_ENVIRONMENT] = {"Ref": "SignalsBucket"}
        resources[function] = {
            "Metadata": checkov_skips(*spec.checkov),
            "Properties": {"FunctionName": name, "Environment": {"Variables": variables}},
        }
        arns = Arns(
            table=lambda table: {"Fn::GetAtt": [table, "Arn"]},
            objects=lambda prefix: {"Fn::Sub": f"${{SignalsBucket.Arn}}/{prefix}*"},
            bucket={"Fn::GetAtt": ["SignalsBucket", "Arn"]},
            queue={"Fn::GetAtt": ["UploadsQueue", "Arn"]},
            parameters=parameter_arns,
            log_groups=[{"Fn::GetAtt": [f"{function}LogGroup", "Arn"]}],
        )
        statements = policy_statements(function, arns, ["logs:CreateLogStream", "logs:PutLogEvents"])
        resources[spec.role] = {
            "Properties": {
                "Policies": [
                    {
                        "PolicyName": f"{spec.role}Policy",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }
                ]
            }
        }
    return resources


def signals_bucket_name(stage: str) -> str:
    """Deterministic (an Fn::Sub string), so the queue policy names the bucket before it exists.

    Bucket names are global: the account and region make it unique. At most 53 characters."""
    return default_resource_name(stage, "signals") + "-${AWS::AccountId}-${AWS::Region}"


def queue_name(stage: str, dead_letter: bool = False) -> str:
    return default_resource_name(stage, "uploads-dlq" if dead_letter else "uploads")


def processing_timeout(stage: str) -> int:
    timeout: int = function_setting(stage, PROCESSING_FUNCTION, "lambda_timeout")
    return timeout


def upload_resources(stage: str) -> dict[str, Any]:
    """The signals bucket; its `uploads/` notify the uploads queue, which feeds the processing function.

    The bucket depends on the queue policy (S3 checks it may send when the notification is
    set), and the policy names the bucket by its deterministic name, not by a reference: a
    reference would make the bucket depend on itself."""
    bucket_arn = {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + signals_bucket_name(stage)}
    key, value = PENDING
    return {
        "SignalsBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "DependsOn": ["UploadsQueuePolicy"],
            "Metadata": checkov_skips("bucket"),
            "Properties": {
                "BucketName": {"Fn::Sub": signals_bucket_name(stage)},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                # No versioning: objects are written once, and deleting an ECG must delete its signal.
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "expire-uncommitted-signals",
                            "Status": "Enabled",
                            "Prefix": SIGNALS_PREFIX,
                            "TagFilters": [{"Key": key, "Value": value}],
                            "ExpirationInDays": PENDING_EXPIRY_DAYS,
                        },
                        {
                            "Id": "expire-unprocessed-uploads",
                            "Status": "Enabled",
                            "Prefix": UPLOADS_PREFIX,
                            "ExpirationInDays": UPLOADS_EXPIRY_DAYS,
                        },
                        {
                            "Id": "abort-incomplete-multipart-uploads",
                            "Status": "Enabled",
                            "AbortIncompleteMultipartUpload": {
                                "DaysAfterInitiation": INCOMPLETE_MULTIPART_DAYS
                            },
                        },
                    ]
                },
                # Browsers PUT files with the presigned URLs the API hands out (from any page:
                # the URL is the permission); CORS cannot be limited to a prefix.
                "CorsConfiguration": {
                    "CorsRules": [
                        {
                            "Id": "presigned-uploads",
                            "AllowedMethods": ["PUT"],
                            "AllowedOrigins": ["*"],
                            "AllowedHeaders": ["*"],
                            "ExposedHeaders": ["ETag"],
                            "MaxAge": 3600,
                        }
                    ]
                },
                "NotificationConfiguration": {
                    "QueueConfigurations": [
                        {
                            "Event": "s3:ObjectCreated:*",
                            "Queue": {"Fn::GetAtt": ["UploadsQueue", "Arn"]},
                            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": UPLOADS_PREFIX}]}},
                        }
                    ]
                },
            },
        },
        "SignalsBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "SignalsBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::GetAtt": ["SignalsBucket", "Arn"]},
                                {"Fn::Sub": "${SignalsBucket.Arn}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
        "UploadsQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": checkov_skips("queue"),
            "Properties": {
                "QueueName": queue_name(stage),
                "SqsManagedSseEnabled": True,
                "VisibilityTimeout": VISIBILITY_TIMEOUT_PER_FUNCTION_TIMEOUT * processing_timeout(stage),
                "MessageRetentionPeriod": UPLOADS_RETENTION_SECONDS,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["UploadsDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": DELIVERY_ATTEMPTS,
                },
            },
        },
        "UploadsDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": checkov_skips("queue"),
            "Properties": {
                "QueueName": queue_name(stage, dead_letter=True),
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            },
        },
        "UploadsQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "UploadsQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SignalsBucketNotifications",
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["UploadsQueue", "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": bucket_arn},
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            },
                        }
                    ],
                },
            },
        },
        # Chalice's event source names the queue app.py gives; this one is the stage's. (Fn::Sub,
        # not Fn::GetAtt: the merge would keep Chalice's Fn::Sub beside it in the same object.)
        PROCESSING_FUNCTION: {
            "Properties": {
                "Events": {
                    PROCESSING_EVENT_SOURCE: {
                        "Properties": {
                            "Queue": {"Fn::Sub": "${UploadsQueue.Arn}"},
                            "ScalingConfig": {
                                "MaximumConcurrency": STAGE_SETTINGS[stage].processing_concurrency
                            },
                        }
                    }
                }
            }
        },
    }


def method_setting(path: str, method: str, throttle: Throttle) -> dict[str, Any]:
    return {
        "ResourcePath": path if path == "/*" else "/" + path.replace("/", "~1"),  # `/` escaped as `~1`
        "HttpMethod": method,
        "ThrottlingRateLimit": throttle.rate,
        "ThrottlingBurstLimit": throttle.burst,
        "MetricsEnabled": False,
        "DataTraceEnabled": False,
        "CachingEnabled": False,
    }


def api_resources(stage: str) -> dict[str, Any]:
    """Stage throttles (tighter on login), JSON access logs, tracing, and a name per stage."""
    settings = STAGE_SETTINGS[stage]
    access_log_format = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
    failures = " || ".join(f'($.errorType = "{failure}")' for failure in AUTHORIZER_FAILURES)
    return {
        "ApiAccessLogGroup": log_group(f"/aws/apigateway/{api_name(stage)}/access", stage),
        "AuthorizerFailuresMetric": {
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "LogGroupName": {"Ref": "ApiAccessLogGroup"},
                "FilterPattern": f"{{ {failures} }}",
                "MetricTransformations": [
                    {
                        "MetricNamespace": api_name(stage),
                        "MetricName": "AuthorizerFailures",
                        "MetricValue": "1",
                    }
                ],
            },
        },
        "RestAPI": {
            "Metadata": checkov_skips("api"),
            "Properties": {
                # The ApiName dimension of its metrics: one per stage, so the alarms tell them apart.
                "Name": api_name(stage),
                "DefinitionBody": {"info": {"title": api_name(stage)}},
                "GatewayResponses": gateway_responses(),
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                    "Format": access_log_format,
                },
                "MethodSettings": [
                    method_setting("/*", "*", settings.api),
                    method_setting(*LOGIN_ROUTE, settings.login),
                ],
            },
        },
    }


def alarm(stage: str, name: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{APP_NAME}-{stage}-{name}",
            "AlarmDescription": f"{description} See docs/operations.md#alarms.",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "OKActions": [{"Ref": "AlarmTopic"}],
            "TreatMissingData": "notBreaching",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "Period": 300,
            **properties,
        },
    }


def metric_alarm(
    stage: str,
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    **rest: Any,
) -> dict[str, Any]:
    return alarm(
        stage,
        name,
        description,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        **rest,
    )


def table_alarm(stage: str, logical_id: str, metric: str) -> dict[str, Any]:
    """CloudWatch reports DynamoDB errors per operation: the alarm sums those the code calls."""
    queries: list[dict[str, Any]] = [
        {
            "Id": f"m{index}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/DynamoDB",
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "TableName", "Value": {"Ref": logical_id}},
                        {"Name": "Operation", "Value": operation},
                    ],
                },
                "Period": 300,
                "Stat": "Sum",
            },
        }
        for index, operation in enumerate(table_operations(logical_id))
    ]
    queries.append({"Id": "total", "Expression": "SUM(METRICS())", "Label": metric, "ReturnData": True})
    properties = alarm(
        stage, f"{TABLES[logical_id].kind}-{metric}", f"DynamoDB {metric} on {logical_id}.", Threshold=1
    )["Properties"]
    del properties["Period"]
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {**properties, "Metrics": queries}}


def alarm_resources(stage: str) -> dict[str, Any]:
    """An SNS topic (optionally mailed) and the alarms that publish to it."""
    api = {"ApiName": api_name(stage), "Stage": chalice_config()["stages"][stage]["api_gateway_stage"]}
    resources: dict[str, Any] = {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Metadata": checkov_skips("topic"),
            "Properties": {"TopicName": f"{APP_NAME}-{stage}-alarms"},
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {
                "TopicArn": {"Ref": "AlarmTopic"},
                "Protocol": "email",
                "Endpoint": {"Ref": "AlarmEmail"},
            },
        },
        "Api5xxAlarm": metric_alarm(
            stage,
            "api-5xx-rate",
            f"Over {API_5XX_RATE_ALARM:.0%} of requests answered 5xx in 5 minutes.",
            "AWS/ApiGateway",
            "5XXError",
            api,
            Statistic="Average",
            Threshold=API_5XX_RATE_ALARM,
        ),
        "ApiLatencyAlarm": metric_alarm(
            stage,
            "api-p99-latency",
            f"p99 latency over {API_P99_LATENCY_ALARM_MS} ms for 15 minutes.",
            "AWS/ApiGateway",
            "Latency",
            api,
            ExtendedStatistic="p99",
            Threshold=API_P99_LATENCY_ALARM_MS,
            EvaluationPeriods=3,
        ),
        "AuthorizerFailuresAlarm": metric_alarm(
            stage,
            "authorizer-failures",
            "API Gateway answered 503: the authorizer crashed, timed out or returned no policy.",
            api_name(stage),
            "AuthorizerFailures",
            {},
            Statistic="Sum",
            Threshold=1,
        ),
    }
    for function, spec in FUNCTIONS.items():
        name = {"FunctionName": function_name(stage, function)}
        timeout_ms = function_setting(stage, function, "lambda_timeout") * 1000
        for metric, statistic, threshold, what in (
            ("Errors", "Sum", spec.errors_alarm, f"{spec.errors_alarm}+ invocation errors in 5 minutes."),
            ("Throttles", "Sum", 1, "Invocations refused for concurrency."),
            (
                "Duration",
                "Maximum",
                int(timeout_ms * DURATION_ALARM_SHARE),
                f"An invocation took {DURATION_ALARM_SHARE:.0%} of the {timeout_ms} ms timeout.",
            ),
        ):
            resources[f"{function}{metric}Alarm"] = metric_alarm(
                stage,
                f"{spec.config_name}-{metric}",
                f"{function}: {what}",
                "AWS/Lambda",
                metric,
                name,
                Statistic=statistic,
                Threshold=threshold,
            )
    for logical_id in TABLES:
        for metric in ("ThrottledRequests", "SystemErrors"):
            resources[f"{logical_id}{metric}Alarm"] = table_alarm(stage, logical_id, metric)
    resources["UploadsDeadLetterAlarm"] = metric_alarm(
        stage,
        "uploads-dead-letters",
        f"An upload notification failed processing {DELIVERY_ATTEMPTS} times and waits in the dead-letter queue.",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": queue_name(stage, dead_letter=True)},
        Statistic="Maximum",
        Threshold=1,
    )
    resources["UploadsAgeAlarm"] = metric_alarm(
        stage,
        "uploads-oldest-message-age",
        f"An upload notification has waited {UPLOADS_AGE_ALARM_SECONDS} s: processing is failing or stalled.",
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": queue_name(stage)},
        Statistic="Maximum",
        Threshold=UPLOADS_AGE_ALARM_SECONDS,
    )
    return resources


def merge_template(stage: str) -> dict[str, Any]:
    resources: dict[str, Any] = {logical_id: table_resource(stage, logical_id) for logical_id in TABLES}
    resources |= function_resources(stage) | api_resources(stage) | alarm_resources(stage)
    # Both set the processing function's properties: merge, do not overwrite.
    uploads = upload_resources(stage)
    function = uploads.pop(PROCESSING_FUNCTION)
    resources[PROCESSING_FUNCTION]["Properties"] |= function["Properties"]
    resources |= uploads
    return {
        "Parameters": {
            "AlarmEmail": {
                "Type": "String",
                "Default": "",
                "Description": "An address mailed on every alarm (confirm the subscription); empty for none.",
            }
        },
        "Conditions": {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}},
        "Resources": resources,
        "Outputs": {
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            "SignalsBucketName": {"Value": {"Ref": "SignalsBucket"}},
            "UploadsDeadLetterQueueUrl": {"Value": {"Ref": "UploadsDeadLetterQueue"}},
        },
    }


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own answers, shaped like the app's: a JSON `message` (see devtools/gateway.py)."""
    responses: dict[str, Any] = {}
    for response_type, (status, message, code, headers) in GATEWAY_RESPONSES.items():
        quoted_message = json.dumps(message) if message else "$context.error.messageString"
        body = f'{{"message": {quoted_message}, "code": {json.dumps(code)}}}'
        response: dict[str, Any] = {
            "ResponseTemplates": {"application/json": body},
            "ResponseParameters": {"Headers": {**GATEWAY_SECURITY_HEADERS, **headers}},
        }
        if status is not None:
            response["StatusCode"] = status
        responses[response_type] = response
    return responses


def chalice_policy(stage: str, function: str) -> dict[str, Any]:
    """The same statements for `chalice deploy`, with ARNs written out by name: Lambda makes the log group."""
    log_group_arn = f"arn:aws:logs:*:*:log-group:/aws/lambda/{function_name(stage, function)}"
    # The settings' default name: `chalice deploy` creates no bucket and sets no ECG_SIGNALS_BUCKET.
    bucket_arn = f"arn:aws:s3:::{default_resource_name(stage, 'signals')}"
    arns = Arns(
        table=lambda table: f"arn:aws:dynamodb:*:*:table/{table_name(stage, table)}",
        objects=lambda prefix: f"{bucket_arn}/{prefix}*",
        bucket=bucket_arn,
        queue=f"arn:aws:sqs:*:*:{CHALICE_UPLOADS_QUEUE}",
        parameters=[f"arn:aws:ssm:*:*:parameter{name}" for name in secret_parameters(stage)],
        log_groups=[log_group_arn, f"{log_group_arn}:*"],
    )
    statements = policy_statements(
        function, arns, ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_path(stage: str, function: str) -> Path:
    return ROOT / ".chalice" / f"policy-{stage}-{FUNCTIONS[function].policy_file}.json"


def write_policies() -> None:
    for stage in STAGES:
        for function in FUNCTIONS:
            policy_path(stage, function).write_text(
                json.dumps(chalice_policy(stage, function), indent=2) + "\n"
            )


def unzipped_size(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def pruned(name: str) -> bool:
    """Never loaded on Lambda: other services' API models, test suites, bytecode caches."""
    parts = name.split("/")
    if parts[0] in ("botocore", "boto3") and parts[1:2] == ["data"] and len(parts) > 3:
        return parts[2] not in AWS_SERVICES
    return "tests" in parts[:-1] or "__pycache__" in parts or name.endswith(".pyc")


def prune(zip_path: Path) -> None:
    """Rewrite the zip Chalice wrote without the pruned entries, compressed harder."""
    rewritten = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(rewritten, "w") as target:
        for info in source.infolist():
            if not pruned(info.filename):
                target.writestr(info, source.read(info), zipfile.ZIP_DEFLATED, 9)
    rewritten.replace(zip_path)


def tool(name: str) -> str | None:
    """A checking tool from this venv, the deploy tools' venv (.venv-deploy) or PATH."""
    for folder in (Path(sys.executable).parent, ROOT / ".venv-deploy" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def run_checkov(template: Path) -> str:
    """Fails on any finding not skipped with a reason (OSS checkov reports no severities)."""
    checkov = tool("checkov")
    if checkov is None:
        return "checkov not installed: not run (see docs/operations.md)"
    result = subprocess.run(
        [checkov, "--file", str(template), "--framework", "cloudformation", "--output", "json", "--compact"],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"checkov could not check {template}:\n{result.stdout}{result.stderr}") from None
    failed = report["results"]["failed_checks"]
    if failed:
        lines = [f"  {check['check_id']} {check['resource']}: {check['check_name']}" for check in failed]
        raise SystemExit(f"checkov found problems in {template}:\n" + "\n".join(lines))
    summary = report["summary"]
    return f"checkov {summary['checkov_version']}: {summary['passed']} passed, {summary['skipped']} skipped with a reason"


def package(stage: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    merge_path = out / "merge-template.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2))
    package_dir = out / "package"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    result = subprocess.run(
        [
            tool("chalice") or "chalice",
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge_path),
            str(package_dir),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "Could not install" in output or "could not be" in output.lower():
        raise SystemExit(f"chalice package failed or left a dependency out:\n{output}")
    zip_path = package_dir / "deployment.zip"
    before = zip_path.stat().st_size
    prune(zip_path)
    if zip_path.stat().st_size > MAX_ZIP_BYTES:
        raise SystemExit(
            f"{zip_path} is {zip_path.stat().st_size / 1e6:.1f} MB, over {MAX_ZIP_BYTES / 1e6:.0f} MB"
        )
    template = package_dir / "sam.json"
    lint = subprocess.run([tool("cfn-lint") or "cfn-lint", str(template)], capture_output=True, text=True)
    if lint.returncode != 0:
        raise SystemExit(f"cfn-lint found problems in {template}:\n{lint.stdout}{lint.stderr}")
    print(f"{template} passes cfn-lint")
    print(run_checkov(template))
    print(
        f"{zip_path}: {zip_path.stat().st_size / 1e6:.1f} MB zipped ({before / 1e6:.1f} MB before pruning), "
        f"{unzipped_size(zip_path) / 1e6:.1f} MB unzipped"
    )
    return package_dir


def preflight(stage: str) -> None:
    """Before a deploy, with the deploying credentials: what would otherwise fail late, or at runtime."""
    import boto3

    problems = []
    name = secret_parameter(stage)
    found = boto3.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    )["Parameters"]
    if not found:
        problems.append(
            f"the signing secret {name} does not exist; create it (docs/operations.md#secret-rotation):\n"
            f"  aws ssm put-parameter --name {name} --type SecureString --value "
            "\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\""
        )
    elif found[0]["Type"] != "SecureString":
        problems.append(f"the signing secret {name} is a {found[0]['Type']}, not a SecureString")
    if not boto3.client("apigateway").get_account().get("cloudwatchRoleArn"):
        problems.append(
            "API Gateway has no CloudWatch Logs role in this account and region, so the stage's access "
            "log cannot be enabled; set one once (docs/operations.md#logs)"
        )
    if problems:
        raise SystemExit(f"{stage} cannot be deployed yet:\n- " + "\n- ".join(problems))
    print(f"{stage}: signing secret {name} and API Gateway logging role present")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.deployment", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("package", help="chalice package with the merged resources, prune, check")
    build.add_argument("--stage", choices=STAGES, required=True)
    build.add_argument("--out", type=Path)
    check = commands.add_parser("preflight", help="fail unless the stage's secret and logging role exist")
    check.add_argument("--stage", choices=STAGES, required=True)
    commands.add_parser("policies", help="rewrite .chalice/policy-<stage>-<function>.json")
    args = parser.parse_args(argv)
    if args.command == "policies":
        write_policies()
    elif args.command == "preflight":
        preflight(args.stage)
    else:
        package(args.stage, args.out or ROOT / "build" / args.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
