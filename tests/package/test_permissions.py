"""The policies grant exactly the DynamoDB, S3 and SQS actions the code calls, per function and resource.

Every DynamoDB, S3 and SQS request of a full scenario is recorded (transactions and batches per
item; S3 requests as the IAM action their method, path, query and headers need), attributed to
the function making it: the authorizer, the upload processor (while
`chalicelib.ecg.processing.process_message` runs), else the API handler. A file PUT with a
presigned URL counts as the API handler's: the URL carries the permission of the role that
signed it. The scenario's own plumbing (S3's notification to SQS, the queue the test polls in
Lambda's place) is not attributed to anyone. The result is compared with the DynamoDB and S3
statements of each function's policy (devtools.deployment.policy_statements), but for the
actions granted for how S3 answers rather than for a call (S3_NOT_FOUND_PERMISSIONS), which no
request performs, and the SQS actions Lambda's event source performs with the role (receiving
and deleting messages), not the code. The code's one SQS call, ChangeMessageVisibility after a
failed delivery (chalicelib/store/queue.py), is compared like the rest."""

from __future__ import annotations

import contextvars
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from chalicelib.settings import get_settings
from chalicelib.store import models
from chalicelib.store import queue as uploads_queue
from devtools.deployment import (
    FUNCTIONS,
    PERMISSIONS,
    S3_NOT_FOUND_PERMISSIONS,
    TABLES,
    UPLOADS_PREFIX,
    Arns,
    policy_statements,
)
from tests.edf_files import edf_bytes
from tests.helpers import Api

Calls = dict[str, dict[str, set[str]]]  # function -> table logical id or S3 key prefix -> actions

ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("actor", default="APIHandler")
ITEM_ACTIONS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
}
RATE = 250
# How the policy statements name what they grant, in the recorder's terms: tables by logical id,
# objects by key prefix.
BUCKET = "the bucket itself"
RECORDED_ARNS = Arns(
    table=lambda logical_id: logical_id,
    objects=lambda prefix: prefix,
    bucket=BUCKET,
    queue="the uploads queue",
    parameters=["the signing secret"],
    log_groups=["its log group"],
)


def _table_ids() -> dict[str, str]:
    """The template's logical id of each table, by the name the settings give it."""
    settings = get_settings()
    return {
        getattr(settings, getattr(models, table.model).settings_field): logical_id
        for logical_id, table in TABLES.items()
    }


def _dynamodb_actions(operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    tables = _table_ids()
    if operation == "TransactWriteItems":
        return [
            (tables[item[kind]["TableName"]], ITEM_ACTIONS[kind])
            for item in body["TransactItems"]
            for kind in item
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(tables[name], operation) for name in body["RequestItems"]]
    return [(tables[body["TableName"]], operation)]


# What Lambda's SQS event source does with the function's role (AWS requires these three); the
# code's own SQS calls are compared like any other.
EVENT_SOURCE_ACTIONS = {"ReceiveMessage", "DeleteMessage", "GetQueueAttributes"}


def granted_data_actions(function: str) -> dict[str, set[str]]:
    """The DynamoDB, S3 and SQS actions the function's policy allows the code, per table, key
    prefix, the bucket, or `sqs`."""
    granted: dict[str, set[str]] = defaultdict(set)
    for statement in policy_statements(function, RECORDED_ARNS, []):
        for action in statement["Action"]:
            service, name = action.split(":")
            if service in ("dynamodb", "s3"):
                for resource in statement["Resource"]:
                    granted[resource].add(name)
            elif service == "sqs" and name not in EVENT_SOURCE_ACTIONS:
                granted["sqs"].add(name)
    return dict(granted)


def s3_actions(method: str, url: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    """(key prefix, IAM action) pairs an S3 request needs, from its method, path, query and headers.

    A request this does not know (a bucket-level call, a copy) comes back as an action no policy
    grants, so the comparison names it."""
    parts = urlsplit(url)
    bucket, path = get_settings().signals_bucket, unquote(parts.path)
    if path.startswith(f"/{bucket}/"):  # path style
        key = path[len(bucket) + 2 :]
    elif parts.hostname and parts.hostname.startswith(f"{bucket}."):  # virtual-hosted style
        key = path[1:]
    else:
        return [(f"the bucket itself ({path})", f"{method} ?{parts.query}")]
    prefix = key.split("/", 1)[0] + "/"
    query = parse_qs(parts.query, keep_blank_values=True)
    if "x-amz-copy-source" in headers:
        return [(prefix, "CopyObject (needs s3:GetObject on the source too)")]
    if "tagging" in query:
        action = {"PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging", "GET": "GetObjectTagging"}
    elif "uploads" in query:
        action = {"POST": "PutObject"}  # CreateMultipartUpload
    elif "uploadId" in query:
        # UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts
        action = {
            "PUT": "PutObject",
            "POST": "PutObject",
            "DELETE": "AbortMultipartUpload",
            "GET": "ListMultipartUploadParts",
        }
    else:
        action = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "GetObject", "DELETE": "DeleteObject"}
    actions = [(prefix, action.get(method, f"{method} ?{parts.query}"))]
    if "x-amz-tagging" in headers:  # PutObject or CreateMultipartUpload with Tagging
        actions.append((prefix, "PutObjectTagging"))
    return actions


def test_s3_actions_follow_method_query_and_headers(aws: None):
    bucket = get_settings().signals_bucket
    url = f"https://s3.us-east-1.amazonaws.com/{bucket}/signals/alice/a/t"
    assert s3_actions("PUT", url, {}) == [("signals/", "PutObject")]
    assert s3_actions("PUT", url, {"x-amz-tagging": "state=pending"}) == [
        ("signals/", "PutObject"),
        ("signals/", "PutObjectTagging"),
    ]
    assert s3_actions("PUT", url + "?tagging", {}) == [("signals/", "PutObjectTagging")]
    assert s3_actions("DELETE", url + "?tagging", {}) == [("signals/", "DeleteObjectTagging")]
    assert s3_actions("GET", url, {"range": "bytes=0-9"}) == [("signals/", "GetObject")]
    assert s3_actions("DELETE", url, {}) == [("signals/", "DeleteObject")]
    assert s3_actions("POST", url + "?uploads", {"x-amz-tagging": "state=pending"}) == [
        ("signals/", "PutObject"),
        ("signals/", "PutObjectTagging"),
    ]
    assert s3_actions("PUT", url + "?partNumber=1&uploadId=u", {}) == [("signals/", "PutObject")]
    assert s3_actions("POST", url + "?uploadId=u", {}) == [("signals/", "PutObject")]
    assert s3_actions("DELETE", url + "?uploadId=u", {}) == [("signals/", "AbortMultipartUpload")]
    virtual = f"https://{bucket}.s3.amazonaws.com/uploads/alice/a/t"
    assert s3_actions("PUT", virtual, {}) == [("uploads/", "PutObject")]
    assert s3_actions("GET", f"https://s3.amazonaws.com/{bucket}?list-type=2", {})[0][1] == "GET ?list-type=2"


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    token = ACTOR.set(actor)
    try:
        yield
    finally:
        ACTOR.reset(token)


@pytest.fixture
def recorded(aws: None, monkeypatch: pytest.MonkeyPatch) -> Calls:
    from moto.core.botocore_stubber import BotocoreStubber

    from chalicelib.auth import authorizer
    from chalicelib.ecg import processing

    calls: Calls = {function: defaultdict(set) for function in PERMISSIONS}
    moto_answer = BotocoreStubber.__call__

    def record(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        actor = ACTOR.get()
        service = event_name.split(".")[1]
        if actor is not None and service == "dynamodb":
            target = request.headers.get("X-Amz-Target", b"")
            operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
            if operation not in ("CreateTable", "DescribeTable"):
                for table, action in _dynamodb_actions(operation, json.loads(request.body)):
                    calls[actor][table].add(action)
        elif actor is not None and service == "s3":
            headers = {name.lower(): value for name, value in request.headers.items()}
            for prefix, action in s3_actions(request.method, request.url, headers):
                calls[actor][prefix].add(action)
        elif actor is not None:
            calls[actor][service].add(event_name.rsplit(".", 1)[-1])  # no other service is granted
        return moto_answer(self, event_name, request, **kwargs)

    def attributed(actor: str, function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with acting_as(actor):
                return function(*args, **kwargs)

        return call

    monkeypatch.setattr(BotocoreStubber, "__call__", record)
    monkeypatch.setattr(authorizer, "authenticate", attributed("JwtAuth", authorizer.authenticate))
    monkeypatch.setattr(
        processing, "process_message", attributed("ProcessUploads", processing.process_message)
    )
    return calls


class UploadsQueue:
    """S3's notification of `uploads/` to a queue, and Lambda's event source polling it."""

    def __init__(self) -> None:
        import boto3

        with acting_as(None):
            self.sqs = boto3.client("sqs", region_name=get_settings().region)
            # Visible again at once after a failed delivery (Lambda's retry, without the wait).
            self.url = self.sqs.create_queue(
                QueueName="permissions-uploads", Attributes={"VisibilityTimeout": "0"}
            )["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            boto3.client("s3", region_name=get_settings().region).put_bucket_notification_configuration(
                Bucket=get_settings().signals_bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": arn,
                            "Events": ["s3:ObjectCreated:*"],
                            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOADS_PREFIX}]}},
                        }
                    ]
                },
            )

    def deliver(self) -> int:
        """Invoke the processor with each waiting message, one per invocation, as Lambda does;
        a message is deleted after a success and stays after a failure (which propagates)."""
        from app import process_uploads

        delivered = 0
        while True:
            with acting_as(None):
                messages = self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=1, AttributeNames=["ApproximateReceiveCount"]
                ).get("Messages", [])
            if not messages:
                return delivered
            (message,) = messages
            event = {
                "Records": [
                    {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": message["Attributes"],
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:permissions-uploads",
                        "awsRegion": "us-east-1",
                    }
                ]
            }
            process_uploads(event, None)
            delivered += 1
            with acting_as(None):
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def put_with_presigned_url(ticket: dict[str, Any], data: bytes, calls: Calls) -> None:
    """The client's PUT: the signer's (the API handler's) s3:PutObject, as the URL names it."""
    import requests

    upload = ticket["upload"]
    headers = {name.lower(): value for name, value in upload["headers"].items()}
    for prefix, action in s3_actions(upload["method"], upload["url"], headers):
        calls["APIHandler"][prefix].add(action)
    with acting_as(None):
        reply = requests.request(
            upload["method"], upload["url"], data=data, headers=upload["headers"], timeout=10
        )
    assert reply.status_code == 200, reply.text


def holter(seconds: int = 40, leads: int = 2) -> bytes:
    t = np.arange(seconds * RATE) / RATE
    beats = sum(900 * np.exp(-(((t - at) * RATE / 4) ** 2)) for at in np.arange(0.4, seconds, 60 / 72))
    rng = np.random.default_rng(1)
    signals = [
        (beats + 80 * np.sin(t / 3 + lead) + rng.normal(0, 12, t.size)).astype(np.int32)
        for lead in range(leads)
    ]
    return edf_bytes(signals, ["I", "II", "III"][:leads], RATE)


def announce(api: Api, token: str, ecg_id: str, data: bytes) -> dict[str, Any]:
    body = {"id": ecg_id, "date": "2026-11-27T10:00:00Z", "format": "edf", "size_bytes": len(data)}
    reply = api.call("POST", "/ecgs/uploads", token, body)
    assert reply.status == 201, reply.json
    ticket: dict[str, Any] = reply.json
    return ticket


def upload_scenario(api: Api, token: str, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads processed, crashed and redelivered, failed, and deleted before processing."""
    import moto.s3.models

    from chalicelib.store import signals

    # Small parts, so that a small file is written as a multipart upload (moto keeps S3's 5 MiB minimum).
    monkeypatch.setattr(signals, "PART_BYTES", 4096)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setattr(uploads_queue, "FIRST_RETRY_SECONDS", 0)  # a failed delivery is retried at once
    queue = UploadsQueue()
    queue.deliver()  # S3's test event, if any

    data = holter()
    # A delivery that dies after sending parts: its multipart upload is aborted, and the
    # message, delivered again, completes the ECG.
    put_with_presigned_url(announce(api, token, "crashed", data), data, calls)

    def die(self: Any) -> None:
        raise RuntimeError("the function died")

    with monkeypatch.context() as dying:
        dying.setattr(signals.PendingObject, "close", die)
        with pytest.raises(RuntimeError):
            queue.deliver()
    assert queue.deliver() == 1
    ready = api.call("GET", "/ecgs/crashed", token).json
    assert ready["status"] == "ready", ready
    assert api.call("GET", "/ecgs/crashed/signal?lead=I&start=10&count=100", token).status == 200
    assert api.call("GET", "/ecgs/crashed/beats?lead=I", token).status == 200

    # A truncated file: failed, its upload deleted.
    truncated = data[:-100]
    put_with_presigned_url(announce(api, token, "truncated", truncated), truncated, calls)
    queue.deliver()
    assert api.call("GET", "/ecgs/truncated", token).json["status"] == "failed"

    # Deleted before its file is processed: the API deletes the upload, the processor the rest.
    put_with_presigned_url(announce(api, token, "gone", data), data, calls)
    assert api.call("DELETE", "/ecgs/gone", token).status == 204
    queue.deliver()

    # A ready ECG with its signal object is deleted.
    assert api.call("DELETE", "/ecgs/crashed", token).status == 204


def test_policies_grant_exactly_the_actions_the_code_calls(
    api: Api, recorded: Calls, monkeypatch: pytest.MonkeyPatch
):
    from chalicelib.ecg import insights

    admin = api.admin_token
    api.create_user("alice")
    token = api.login("alice", "user-password-1")
    big = np.arange(-400_000, 400_000, 7).tolist()
    with monkeypatch.context() as before_zero_crossings:  # stored without it: computed and saved on read
        before_zero_crossings.delitem(insights.CALCULATORS, "zero_crossings")
        api.call(
            "POST",
            "/ecgs",
            token,
            {"id": "a", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": big}]},
        )
    api.call(
        "POST",
        "/ecgs",
        token,
        {"id": "b", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1]}]},
    )
    for _ in range(2):  # claimed, completed, then replayed
        api.call(
            "POST",
            "/ecgs",
            token,
            {"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [2]}]},
            headers={"Idempotency-Key": "k"},
        )
    api.call("GET", "/ecgs", token)
    api.call("GET", "/ecgs/a", token)
    api.call("GET", "/ecgs/a/insights", token)
    api.call("GET", "/ecgs/a/signal?lead=I&start=1000&count=10", token)
    api.call("DELETE", "/ecgs/b", token)
    upload_scenario(api, token, recorded, monkeypatch)
    api.call(
        "PUT",
        "/users/me/password",
        token,
        {"current_password": "user-password-1", "new_password": "pass-word-2"},
    )
    token = api.login("alice", "pass-word-2")
    api.call("POST", "/auth/logout", token)
    api.call("GET", "/users", admin)
    api.call("GET", "/users/alice", admin)
    api.call("DELETE", "/users/alice", admin)
    granted = {function: granted_data_actions(function) for function in FUNCTIONS}
    # s3:ListBucket on the bucket is granted for how S3 answers, not for a call: with it, a
    # GetObject or tagging call on a missing key fails 404 NoSuchKey rather than 403 AccessDenied.
    # No request performs it, so it is taken out of the comparison by name, and only it: any
    # other grant on the bucket stays and must be performed.
    for function, actions in S3_NOT_FOUND_PERMISSIONS.items():
        assert granted[function].pop(BUCKET) == set(actions)
    assert {function: dict(calls) for function, calls in recorded.items()} == granted
