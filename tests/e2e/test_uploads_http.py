"""Recordings of any length over HTTP against the real local stack: announce with POST
/ecgs/uploads, send the file to the handed-out URL (moto's S3 on 127.0.0.1) with the handed-out
method and headers, and the processing function, run on the uploads queue as Lambda runs it,
makes the ECG ready (or failed). No test hook in the app: faults are S3's answers, SQS's
redelivery, and crashes injected by the local stack's event source (devtools/local_queue.py)."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit

import numpy as np
import pytest

from devtools.local_queue import CRASH_ENVIRONMENT, VISIBILITY_ENVIRONMENT
from tests.e2e.conftest import ADMIN, Stack, running_stack
from tests.edf_files import edf_bytes, write_edf
from tests.helpers import lasting_objects, stored_objects

RATE = 250
DATE = "2026-11-27T10:00:00Z"
LABELS = ["I", "II", "III"]
READY_WITHIN_SECONDS = 20  # a small file is ready in well under a second; slack for a busy machine
POLLER_FAILURE = "failed on message"


def recording(seconds: int, leads: int, seed: int = 1) -> list[np.ndarray]:
    """Beats at ~72 bpm (a template placed at jittered RR intervals) on a wandering baseline
    with noise, as 16-bit samples: enough for the beat detector, cheap for hours."""
    rng = np.random.default_rng(seed)
    count = seconds * RATE
    positions = np.cumsum(rng.normal(60 / 72, 0.02, int(seconds * 72 / 60) + 2)) * RATE
    impulses = np.zeros(count)
    impulses[positions[positions < count].astype(int)] = 1
    template = 900 * np.exp(-((np.arange(-12, 13) / 4) ** 2))
    beats = np.convolve(impulses, template, mode="same")
    t = np.arange(count) / RATE
    return [
        (beats * (1 - 0.3 * lead) + 80 * np.sin(t / 3 + lead) + rng.normal(0, 12, count)).astype(np.int16)
        for lead in range(leads)
    ]


def user(stack: Stack, username: str) -> str:
    admin = stack.login(*ADMIN)
    assert (
        stack.call("POST", "/users", admin, {"username": username, "password": "uploader-password"}).status
        == 201
    )
    return stack.login(username, "uploader-password")


def announce(stack: Stack, token: str, ecg_id: str, size: int, fmt: str = "edf") -> dict[str, Any]:
    reply = stack.call(
        "POST", "/ecgs/uploads", token, {"id": ecg_id, "date": DATE, "format": fmt, "size_bytes": size}
    )
    assert reply.status == 201, reply.raw
    assert reply.json["status"] == "awaiting_upload"
    return dict(reply.json)


def send_file(
    ticket: dict[str, Any], data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """The file sent as the client is told: that method, that URL, exactly those headers."""
    upload = ticket["upload"]
    request = urllib.request.Request(
        upload["url"],
        data=data,
        method=upload["method"],
        headers=upload["headers"] if headers is None else headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def bucket_and_key(ticket: dict[str, Any]) -> tuple[str, str]:
    """The handed-out URL is path style: /<bucket>/<key>."""
    bucket, key = unquote(urlsplit(ticket["upload"]["url"]).path).lstrip("/").split("/", 1)
    return bucket, key


def settled(stack: Stack, token: str, ecg_id: str, within: float = READY_WITHIN_SECONDS) -> dict[str, Any]:
    """GET /ecgs/{id}, polled until the ECG is ready or failed."""
    deadline = time.monotonic() + within
    while True:
        shown = stack.call("GET", f"/ecgs/{ecg_id}", token).json
        if shown["status"] in ("ready", "failed") or time.monotonic() > deadline:
            return dict(shown)
        time.sleep(0.1)


def queue_drained(stack: Stack, within: float = 30) -> None:
    """Every message in the uploads queue handled and deleted (none waiting, none in flight)."""
    sqs = stack.aws("sqs")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"the uploads queue did not drain: {stack.log()[-2000:]}")


def objects(stack: Stack, bucket: str, owner: str) -> dict[str, bool]:
    """The owner's objects in the stack's bucket: key → tagged state=pending."""
    return stored_objects(owner, stack.aws("s3"), bucket)


def lasting(stack: Stack, bucket: str, owner: str) -> list[str]:
    """The owner's objects that no lifecycle rule would expire."""
    return lasting_objects(owner, stack.aws("s3"), bucket)


def s3_notification(bucket: str, key: str, data: bytes) -> str:
    """The message S3 sends the queue when `key` is created, as S3 writes it."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": len(data),
                "eTag": hashlib.md5(data).hexdigest(),
            },
        },
    }
    return json.dumps({"Records": [record]})


@pytest.fixture
def no_poller_failures(stack: Stack) -> Iterator[None]:
    """The processing function raised for no message during the test."""
    start = len(stack.log())
    yield
    assert POLLER_FAILURE not in stack.log()[start:]


@pytest.mark.usefixtures("no_poller_failures")
def test_an_edf_put_to_the_handed_out_url_is_ready_within_seconds_as_if_posted_whole(stack: Stack):
    token = user(stack, "edf-uploader")
    signals = recording(40, 2)
    data = edf_bytes(signals, LABELS[:2], RATE)
    ticket = announce(stack, token, "holter", len(data))
    assert ticket["upload"]["url"].startswith(stack.storage_url + "/")
    started = time.monotonic()
    assert send_file(ticket, data)[0] == 200
    shown = settled(stack, token, "holter")
    assert shown["status"] == "ready", shown
    assert time.monotonic() - started < READY_WITHIN_SECONDS
    assert shown["sampling_rate_hz"] == RATE
    assert [(lead["name"], lead["number_of_samples"]) for lead in shown["leads"]] == [
        ("I", 10000),
        ("II", 10000),
    ]
    assert [lead["signal"] for lead in shown["leads"]] == [signal.tolist() for signal in signals]
    whole = {
        "id": "whole",
        "date": DATE,
        "sampling_rate_hz": RATE,
        "leads": [
            {"name": name, "signal": signal.tolist()} for name, signal in zip(LABELS, signals, strict=False)
        ],
    }
    assert stack.call("POST", "/ecgs", token, whole).status == 201
    uploaded = stack.call("GET", "/ecgs/holter/insights", token).json["leads"]
    assert uploaded == stack.call("GET", "/ecgs/whole/insights", token).json["leads"]
    assert uploaded[0]["beats"] > 40
    beats = "beats?lead=II&start=2000&end=6000"
    assert (
        stack.call("GET", f"/ecgs/holter/{beats}", token).json["beats"]
        == stack.call("GET", f"/ecgs/whole/{beats}", token).json["beats"]
    )
    window = stack.call("GET", "/ecgs/holter/signal?lead=II&start=6500&count=1000", token).json
    assert window["signal"] == signals[1][6500:7500].tolist()


@pytest.mark.usefixtures("no_poller_failures")
def test_a_three_hour_three_lead_edf_is_ready_and_every_window_is_its_samples(stack: Stack, tmp_path: Path):
    token = user(stack, "holter-uploader")
    hours, block_seconds = 3, 600
    signals = recording(hours * 3600, 3, seed=3)
    blocks = (
        [signal[start : start + block_seconds * RATE] for signal in signals]
        for start in range(0, hours * 3600 * RATE, block_seconds * RATE)
    )
    path = tmp_path / "holter.edf"
    size = write_edf(path, blocks, LABELS, RATE)
    ticket = announce(stack, token, "three-hours", size)
    assert send_file(ticket, path.read_bytes())[0] == 200
    shown = settled(stack, token, "three-hours", within=180)
    assert shown["status"] == "ready", shown
    samples = hours * 3600 * RATE
    assert [(lead["name"], lead["number_of_samples"]) for lead in shown["leads"]] == [
        (name, samples) for name in LABELS
    ]
    assert all("signal" not in lead for lead in shown["leads"]), "too large to be returned whole"
    for lead, name in enumerate(LABELS):
        for start, count in [(0, 5000), (samples // 2 + 17, 2500), (samples - 1000, 5000)]:
            window = stack.call(
                "GET", f"/ecgs/three-hours/signal?lead={name}&start={start}&count={count}", token
            )
            assert window.status == 200
            assert window.json["signal"] == signals[lead][start : start + count].tolist()
    insights = stack.call("GET", "/ecgs/three-hours/insights", token).json["leads"]
    for lead in insights:
        assert 70 <= lead["heart_rate_bpm"] <= 74
        assert abs(lead["beats"] - hours * 3600 * 72 / 60) < 100
    hour = stack.call(
        "GET", f"/ecgs/three-hours/beats?lead=I&start={3600 * RATE}&end={7200 * RATE}", token
    ).json
    assert abs(len(hour["beats"]) - 72 * 60) < 40


@pytest.mark.usefixtures("no_poller_failures")
def test_a_json_file_put_to_the_handed_out_url_is_ready(stack: Stack):
    token = user(stack, "json-uploader")
    (signal,) = recording(20, 1, seed=5)
    data = json.dumps(
        {"sampling_rate_hz": RATE, "leads": [{"name": "V1", "signal": signal.tolist()}]}
    ).encode()
    ticket = announce(stack, token, "from-json", len(data), fmt="json")
    assert send_file(ticket, data)[0] == 200
    shown = settled(stack, token, "from-json")
    assert shown["status"] == "ready", shown
    assert shown["leads"] == [{"name": "V1", "number_of_samples": signal.size, "signal": signal.tolist()}]
    assert stack.call("GET", "/ecgs/from-json/insights", token).json["leads"][0]["beats"] > 20


@pytest.mark.usefixtures("no_poller_failures")
def test_a_corrupt_file_fails_with_an_error_and_leaves_nothing_lasting(stack: Stack):
    token = user(stack, "corrupt-uploader")
    data = b"this is not an EDF file at all" * 100
    ticket = announce(stack, token, "corrupt", len(data))
    assert send_file(ticket, data)[0] == 200
    shown = settled(stack, token, "corrupt")
    assert shown["status"] == "failed" and shown["error"], shown
    assert stack.call("GET", "/ecgs/corrupt/insights", token).status == 409
    queue_drained(stack)
    assert lasting(stack, bucket_and_key(ticket)[0], "corrupt-uploader") == []


@pytest.mark.usefixtures("no_poller_failures")
def test_a_truncated_edf_fails_with_an_error(stack: Stack):
    token = user(stack, "truncated-uploader")
    data = edf_bytes(recording(20, 2), LABELS[:2], RATE)[:-1001]
    ticket = announce(stack, token, "truncated", len(data))
    assert send_file(ticket, data)[0] == 200
    shown = settled(stack, token, "truncated")
    assert shown["status"] == "failed" and shown["error"], shown


def test_a_file_of_another_size_than_announced_is_refused_by_s3(stack: Stack):
    """The length is signed into the URL: S3 refuses the PUT, and the ECG keeps waiting."""
    token = user(stack, "longer-uploader")
    data = edf_bytes(recording(10, 1), LABELS[:1], RATE)
    ticket = announce(stack, token, "longer", len(data) - 250)
    headers = {**ticket["upload"]["headers"], "Content-Length": str(len(data))}
    status, body = send_file(ticket, data, headers)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    queue_drained(stack)
    assert stack.call("GET", "/ecgs/longer", token).json["status"] == "awaiting_upload"
    assert objects(stack, bucket_and_key(ticket)[0], "longer-uploader") == {}


@pytest.mark.usefixtures("no_poller_failures")
def test_a_file_of_another_size_than_announced_that_reaches_the_bucket_fails(stack: Stack):
    """Past the URL (a writer with the bucket's credentials): processing checks the size too."""
    token = user(stack, "resized-uploader")
    data = edf_bytes(recording(10, 1), LABELS[:1], RATE)
    ticket = announce(stack, token, "resized", len(data) + 250)
    bucket, key = bucket_and_key(ticket)
    stack.aws("s3").put_object(Bucket=bucket, Key=key, Body=data)
    shown = settled(stack, token, "resized")
    assert shown["status"] == "failed", shown
    assert str(len(data)) in shown["error"] and str(len(data) + 250) in shown["error"]


@pytest.mark.usefixtures("no_poller_failures")
def test_a_notification_delivered_again_changes_nothing(stack: Stack):
    token = user(stack, "twice-uploader")
    data = edf_bytes(recording(20, 2, seed=9), LABELS[:2], RATE)
    ticket = announce(stack, token, "twice", len(data))
    bucket, key = bucket_and_key(ticket)
    assert send_file(ticket, data)[0] == 200
    assert settled(stack, token, "twice")["status"] == "ready"
    queue_drained(stack)
    before = (
        stack.call("GET", "/ecgs/twice", token).json,
        stack.call("GET", "/ecgs/twice/insights", token).json,
        objects(stack, bucket, "twice-uploader"),
    )
    assert list(before[2].values()) == [False], "one committed signal object; the upload is gone"
    stack.aws("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=s3_notification(bucket, key, data))
    queue_drained(stack)
    after = (
        stack.call("GET", "/ecgs/twice", token).json,
        stack.call("GET", "/ecgs/twice/insights", token).json,
        objects(stack, bucket, "twice-uploader"),
    )
    assert after == before
    assert [item["id"] for item in stack.call("GET", "/ecgs", token).json["items"]] == ["twice"]


@pytest.mark.parametrize(
    "crash_at",
    [
        pytest.param("s3.PutObject,s3.CreateMultipartUpload", id="writing-the-signal"),
        pytest.param("s3.DeleteObjectTagging", id="committing-the-signal"),
    ],
)
def test_a_processing_that_crashes_part_way_is_completed_by_the_redelivery(tmp_path: Path, crash_at: str):
    """The stack's event source kills the first attempt of every message at that AWS call; SQS
    delivers the message again after the visibility timeout (1 s here) and it completes."""
    environment = {CRASH_ENVIRONMENT: crash_at, VISIBILITY_ENVIRONMENT: "1"}
    with running_stack(tmp_path, **environment) as crashing:
        token = user(crashing, "crash-uploader")
        signals = recording(20, 2, seed=11)
        data = edf_bytes(signals, LABELS[:2], RATE)
        ticket = announce(crashing, token, "crashed", len(data))
        assert send_file(ticket, data)[0] == 200
        shown = settled(crashing, token, "crashed")
        queue_drained(crashing)
        log = crashing.log()
        bucket = bucket_and_key(ticket)[0]
        assert shown["status"] == "ready", shown
        assert [lead["signal"] for lead in crashing.call("GET", "/ecgs/crashed", token).json["leads"]] == [
            signal.tolist() for signal in signals
        ]
        failures = [line for line in log.splitlines() if POLLER_FAILURE in line]
        assert len(failures) == 1 and "(receive 1 of 5): SimulatedCrash: s3." in failures[0], log
        assert len(lasting(crashing, bucket, "crash-uploader")) == 1, (
            "one committed signal; the upload is gone"
        )
        assert all(key.startswith("signals/") for key in objects(crashing, bucket, "crash-uploader"))


@pytest.mark.usefixtures("no_poller_failures")
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_an_upload_racing_its_users_deletion_leaves_only_what_lifecycle_expires(stack: Stack, delay: float):
    username = f"doomed-{int(delay * 1000)}"
    token = user(stack, username)
    data = edf_bytes(recording(300, 3, seed=13), LABELS, RATE)
    ticket = announce(stack, token, "raced", len(data))
    assert send_file(ticket, data)[0] == 200
    time.sleep(delay)
    assert stack.call("DELETE", f"/users/{username}", stack.login(*ADMIN)).status == 204
    queue_drained(stack)
    assert lasting(stack, bucket_and_key(ticket)[0], username) == []


def test_the_stack_s_bucket_is_the_one_ecg_signals_bucket_names(tmp_path: Path):
    with running_stack(tmp_path, ECG_SIGNALS_BUCKET="e2e-named-signals") as named:
        token = user(named, "named-uploader")
        data = edf_bytes(recording(10, 1), LABELS[:1], RATE)
        ticket = announce(named, token, "named", len(data))
        assert bucket_and_key(ticket)[0] == "e2e-named-signals"
        assert send_file(ticket, data)[0] == 200
        assert settled(named, token, "named")["status"] == "ready"
