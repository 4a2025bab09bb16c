"""`make run` as a client sees it: over HTTP, with concurrency the test client cannot show."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.store.queue import DELIVERY_ATTEMPTS
from devtools.local_queue import Queue
from tests.e2e.conftest import ADMIN, Stack
from tests.environment import FAST_BCRYPT_ROUNDS


def test_first_admin_comes_from_the_environment(stack: Stack):
    token = stack.login(*ADMIN)
    assert stack.call("GET", "/users/me", token).json["role"] == "admin"


def test_a_new_user_can_upload_and_read_back_over_http(stack: Stack):
    admin = stack.login(*ADMIN)
    assert (
        stack.call("POST", "/users", admin, {"username": "http-user", "password": "http-password"}).status
        == 201
    )
    token = stack.login("http-user", "http-password")
    body = {"id": "http-1", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, -1, 0, 2]}]}
    assert stack.call("POST", "/ecgs", token, body).status == 201
    assert stack.call("GET", "/ecgs/http-1", token).json["leads"][0]["signal"] == [1, -1, 0, 2]
    assert stack.call("GET", "/ecgs/http-1/insights", token).json["leads"][0]["zero_crossings"] == 2


def test_missing_token_is_401_with_a_json_message(stack: Stack):
    reply = stack.call("GET", "/ecgs")
    assert reply.status == 401
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json == {"message": "Unauthorized", "code": "unauthorized"}


def test_parallel_creates_of_one_username_give_exactly_one_201(stack: Stack):
    admin = stack.login(*ADMIN)
    body = {"username": "racer", "password": "racer-password"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: stack.call("POST", "/users", admin, body).status, range(6)))
    assert sorted(statuses) == [201] + [409] * 5


def test_parallel_creates_of_one_ecg_id_give_exactly_one_201(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "ecg-racer", "password": "racer-password"})
    token = stack.login("ecg-racer", "racer-password")
    raw = json.dumps(
        {"id": "same", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, 2]}]}
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda _: stack.call("POST", "/ecgs", token, raw=raw.encode()).status, range(6))
        )
    assert sorted(statuses) == [201] + [409] * 5


def test_parallel_deletes_give_one_204_and_no_server_error(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "deleter", "password": "deleter-password"})
    token = stack.login("deleter", "deleter-password")
    body = {"id": "doomed", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1]}]}
    stack.call("POST", "/ecgs", token, body)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: stack.call("DELETE", "/ecgs/doomed", token).status, range(6)))
    assert statuses.count(204) == 1
    assert set(statuses) <= {204, 404}


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def test_sigterm_stops_the_stack_its_database_and_its_storage(tmp_path):
    from devtools.local_stack import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.local_stack"],
        env={
            "PATH": "",
            "PORT": str(port),
            "ECG_BCRYPT_ROUNDS": FAST_BCRYPT_ROUNDS,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": ".",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "ready" in line:
            break
    services = children(process.pid)
    assert len(services) == 2, "DynamoDB, and S3 with SQS, run in two child processes"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not [pid for pid in services if Path(f"/proc/{pid}").exists()], "the services stopped too"
    assert any("change-me-now" in line for line in lines), "the default admin credentials are printed"


def test_a_kept_alive_connection_answers_every_request_correctly(stack: Stack):
    """One connection for many requests, as requests.Session, browsers and mobile SDKs use it:
    every answer whole and right, errors included, and the connection is never dropped."""
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "keeper", "password": "keeper-password"})
    token = stack.login("keeper", "keeper-password")
    connection = http.client.HTTPConnection(stack.base_url.removeprefix("http://"), timeout=60)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(
        method: str, path: str, body: object = None, headers: dict[str, str] = auth
    ) -> tuple[int, object]:
        raw = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=raw, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        assert not response.will_close
        return response.status, json.loads(payload) if payload else None

    call("GET", "/users/me")
    sock = connection.sock
    for index in range(15):
        signal_ = [index, -index, index * 2, 0, 1]
        body = {
            "id": f"kept-{index}",
            "date": "2026-11-27T10:00:00Z",
            "leads": [{"name": "I", "signal": signal_}],
        }
        assert call("POST", "/ecgs", body)[0] == 201
        assert call("POST", "/ecgs", body)[0] == 409
        status, ecg = call("GET", f"/ecgs/kept-{index}")
        assert status == 200 and ecg["leads"][0]["signal"] == signal_  # type: ignore[index]
        status, insights = call("GET", f"/ecgs/kept-{index}/insights")
        assert status == 200 and insights["leads"][0]["name"] == "I"  # type: ignore[index]
        assert call("GET", f"/ecgs/absent-{index}")[0] == 404
        assert call("GET", "/ecgs", headers={})[0] == 401
        assert call("PATCH", f"/ecgs/kept-{index}")[0] == 405
        assert call("GET", "/no/such/route")[0] == 404
    status, listing = call("GET", "/ecgs?limit=50")
    assert status == 200 and len(listing["items"]) == 15  # type: ignore[index]
    assert connection.sock is sock, "the server kept the connection open throughout"
    connection.close()


def test_expect_100_continue_is_answered_before_the_body(stack: Stack):
    """curl sends `Expect: 100-continue` with large bodies and waits for the interim answer."""
    body = b'{"username":"nobody","password":"wrong-password"}'
    host, port = stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert client.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        client.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401 ")


def test_concurrent_kept_alive_clients_create_each_id_exactly_once(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "crowd", "password": "crowd-password"})
    token = stack.login("crowd", "crowd-password")
    ids = [f"crowd-{index}" for index in range(8)]

    def client(offset: int) -> list[tuple[str, int]]:
        connection = http.client.HTTPConnection(stack.base_url.removeprefix("http://"), timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        outcomes = []
        for ecg_id in ids[offset:] + ids[:offset]:
            body = {
                "id": ecg_id,
                "date": "2026-11-27T10:00:00Z",
                "leads": [{"name": "I", "signal": [1, 2, 3]}],
            }
            connection.request("POST", "/ecgs", body=json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            response.read()
            outcomes.append((ecg_id, response.status))
        connection.close()
        return outcomes

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [outcome for result in pool.map(client, [0, 2, 4, 6]) for outcome in result]
    for ecg_id in ids:
        assert sorted(status for seen, status in outcomes if seen == ecg_id) == [201, 409, 409, 409]
    listing = stack.call("GET", "/ecgs?limit=50", token).json
    assert sorted(item["id"] for item in listing["items"]) == sorted(ids)


# S3 and SQS: the storage child, the uploads queue and its poller, on their own (no app).
BUCKET = "e2e-signals"


@dataclass
class Storage:
    endpoint: str
    s3: Any
    sqs: Any
    queue: Queue


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Storage]:
    """The storage child with the bucket, the uploads queue (visibility 1 s) and the notification;
    the S3 test event the notification's creation sends is taken off the queue."""
    from devtools.local_queue import VISIBILITY_ENVIRONMENT, create_uploads_queue
    from devtools.local_stack import embedded_storage

    monkeypatch.setenv(VISIBILITY_ENVIRONMENT, "1")
    with embedded_storage() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        queue = create_uploads_queue(sqs, s3, BUCKET, "e2e")
        (test_event,) = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=5)["Messages"]
        assert json.loads(test_event["Body"])["Event"] == "s3:TestEvent"
        sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=test_event["ReceiptHandle"])
        yield Storage(endpoint, s3, sqs, queue)


@contextmanager
def polling(storage: Storage, handler: Callable[[dict[str, Any], Any], Any]) -> Iterator[None]:
    from devtools.local_queue import QueuePoller

    poller = QueuePoller(storage.sqs, storage.queue, "us-east-1", handler, "e2e-process_uploads")
    poller.start()
    try:
        yield
    finally:
        poller.stop()


def queue_depth(storage: Storage, url: str | None = None) -> int:
    attributes = storage.sqs.get_queue_attributes(
        QueueUrl=url or storage.queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def presigned_put(storage: Storage, key: str, size: int, expires: int = 600) -> tuple[str, dict[str, str]]:
    """A URL as chalicelib/store/signals.py hands it out: path style, length and type signed."""
    url = storage.s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "ContentLength": size,
            "ContentType": "application/octet-stream",
        },
        ExpiresIn=expires,
    )
    return url, {"Content-Type": "application/octet-stream", "Content-Length": str(size)}


def put(url: str, headers: dict[str, str], data: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_an_object_put_under_uploads_reaches_the_handler_as_lambda_s_sqs_event(storage: Storage):
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    with polling(storage, lambda event, context: events.put(event)):
        storage.s3.put_object(Bucket=BUCKET, Key="uploads/alice/holter/token", Body=b"12345")
        event = events.get(timeout=10)
    (record,) = event["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == storage.queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"].isdigit()
    (notification,) = json.loads(record["body"])["Records"]
    assert notification["eventName"].startswith("ObjectCreated:")
    assert notification["s3"]["bucket"]["name"] == BUCKET
    assert notification["s3"]["object"]["key"] == "uploads/alice/holter/token"
    assert notification["s3"]["object"]["size"] == 5
    assert queue_depth(storage) == 0, "the handler returned: the message is deleted"


def test_objects_outside_uploads_notify_nothing(storage: Storage):
    storage.s3.put_object(Bucket=BUCKET, Key="signals/alice/holter/token", Body=b"packed")
    assert storage.sqs.receive_message(QueueUrl=storage.queue.url, WaitTimeSeconds=1).get("Messages") is None


def test_a_failing_handler_leaves_the_message_to_sqs_until_the_dead_letter_queue(storage: Storage):
    receives: queue.Queue[str] = queue.Queue()

    def fail(event: dict[str, Any], context: Any) -> None:
        receives.put(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        raise RuntimeError("processing failed\nover two lines")

    with polling(storage, fail):
        storage.s3.put_object(Bucket=BUCKET, Key="uploads/alice/holter/token", Body=b"12345")
        seen = [receives.get(timeout=10) for _ in range(DELIVERY_ATTEMPTS)]
        deadline = time.monotonic() + 10
        while queue_depth(storage, storage.queue.dead_letter_url) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert seen == [str(count) for count in range(1, DELIVERY_ATTEMPTS + 1)]
    assert receives.empty(), "after the last receive the message is not handed over again"
    (dead,) = storage.sqs.receive_message(QueueUrl=storage.queue.dead_letter_url)["Messages"]
    assert json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"] == "uploads/alice/holter/token"


def test_a_failure_is_logged_in_one_line(storage: Storage, caplog: pytest.LogCaptureFixture):
    from devtools.local_queue import QueuePoller

    def fail(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("processing failed\nover two lines")

    storage.s3.put_object(Bucket=BUCKET, Key="uploads/alice/holter/token", Body=b"12345")
    (message,) = storage.sqs.receive_message(
        QueueUrl=storage.queue.url, MessageSystemAttributeNames=["All"], WaitTimeSeconds=5
    )["Messages"]
    poller = QueuePoller(storage.sqs, storage.queue, "us-east-1", fail, "e2e-process_uploads")
    with caplog.at_level(logging.WARNING, logger="devtools.local_queue"):
        assert poller.process(message) is False
    (line,) = caplog.messages
    assert "\n" not in line
    assert "RuntimeError: processing failed over two lines" in line
    assert f"message {message['MessageId']} (receive 1 of {DELIVERY_ATTEMPTS})" in line
    assert queue_depth(storage) == 1, "the message stays in the queue"


def test_the_storage_accepts_a_presigned_put_with_the_signed_headers(storage: Storage):
    data = os.urandom(70_000)
    url, headers = presigned_put(storage, "uploads/alice/holter/token", len(data))
    assert url.startswith(f"{storage.endpoint}/{BUCKET}/uploads/alice/holter/token?X-Amz-")
    assert put(url, headers, data)[0] == 200
    stored = storage.s3.get_object(Bucket=BUCKET, Key="uploads/alice/holter/token")["Body"].read()
    assert stored == data
    assert queue_depth(storage) == 1, "S3 notified the queue"


def test_a_key_needing_escapes_is_put_presigned_and_notified_encoded_as_s3_does(storage: Storage):
    key = "uploads/al ice+é/2026:11:27/token"
    url, headers = presigned_put(storage, key, 3)
    assert put(url, headers, b"abc")[0] == 200
    assert storage.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"abc"
    (message,) = storage.sqs.receive_message(QueueUrl=storage.queue.url, WaitTimeSeconds=5)["Messages"]
    notified = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    assert notified == "uploads/al+ice%2B%C3%A9/2026%3A11%3A27/token"


@pytest.mark.parametrize(
    "change",
    ["another length", "another type", "no type", "another key", "another signature"],
)
def test_the_storage_refuses_a_presigned_put_that_differs_from_what_was_signed(storage: Storage, change: str):
    data = b"0123456789"
    url, headers = presigned_put(storage, "uploads/alice/holter/token", len(data))
    if change == "another length":
        data += b"!"
        headers["Content-Length"] = str(len(data))
    elif change == "another type":
        headers["Content-Type"] = "text/plain"
    elif change == "no type":
        del headers["Content-Type"]
    elif change == "another key":
        url = url.replace("/token?", "/other?")
    else:
        url = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    status, body = put(url, headers, data)
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in body) == (403, True)
    assert storage.s3.list_objects_v2(Bucket=BUCKET).get("Contents") is None
    assert queue_depth(storage) == 0


def test_the_storage_refuses_an_expired_presigned_put(storage: Storage):
    url, headers = presigned_put(storage, "uploads/alice/holter/token", 3, expires=1)
    time.sleep(2.1)
    status, body = put(url, headers, b"abc")
    assert (status, b"<Code>AccessDenied</Code>" in body) == (403, True)
    assert storage.s3.list_objects_v2(Bucket=BUCKET).get("Contents") is None
