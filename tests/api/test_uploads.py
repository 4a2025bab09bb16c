"""POST /ecgs/uploads and the processing of what arrives: a file PUT to the handed-out key, then
the S3 event the queue delivers (here handed straight to the Chalice SQS handler)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from chalicelib.ecg import processing, service
from chalicelib.errors import Unavailable
from chalicelib.settings import get_settings
from chalicelib.store import queue
from chalicelib.store.signals import client
from tests.edf_files import edf_bytes
from tests.faults import FaultPlan
from tests.helpers import Api, lasting_objects, stored_objects

RATE = 250
DATE = "2026-11-27T10:00:00Z"


def recording(seconds: int = 40, leads: int = 2, seed: int = 1) -> list[np.ndarray]:
    """Beats at ~72 bpm on a wandering baseline with noise: enough for the detector to find."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * RATE) / RATE
    beats = np.zeros_like(t)
    for at in np.arange(0.4, seconds, 60 / 72):
        beats += 900 * np.exp(-(((t - at) * RATE / 4) ** 2))
    return [
        (beats * (1 - 0.3 * lead) + 80 * np.sin(t / 3 + lead) + rng.normal(0, 12, t.size)).astype(np.int32)
        for lead in range(leads)
    ]


def names(count: int) -> list[str]:
    return ["I", "II", "III", "V1"][:count]


def announce(api: Api, token: str, size: int, fmt: str = "edf", ecg_id: str = "holter", **extra: Any) -> Any:
    body = {"id": ecg_id, "date": DATE, "format": fmt, "size_bytes": size, **extra}
    return api.call("POST", "/ecgs/uploads", token, body)


def upload_key(ticket: dict[str, Any]) -> str:
    """The object key of the presigned URL (virtual-hosted, as on AWS: the bucket is the host)."""
    url = urlsplit(ticket["upload"]["url"])
    assert url.scheme == "https" and url.hostname.startswith(f"{get_settings().signals_bucket}.s3.")
    return unquote(url.path)[1:]


def put_file(ticket: dict[str, Any], data: bytes) -> str:
    key = upload_key(ticket)
    client().put_object(Bucket=get_settings().signals_bucket, Key=key, Body=data)
    return key


def s3_event(key: str) -> str:
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": get_settings().signals_bucket}, "object": {"key": key.replace(":", "%3A")}},
    }
    return json.dumps({"Records": [record]})


def deliver(
    key: str,
    receive_count: int = 1,
    queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:ecg-insights-uploads",
    receipt_handle: str = "r-1",
) -> None:
    """What Lambda's SQS event source hands the function for one message."""
    from app import process_uploads

    event = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": receipt_handle,
                "body": s3_event(key),
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }
    process_uploads(event, None)


def upload(api: Api, token: str, data: bytes, fmt: str = "edf", ecg_id: str = "holter") -> str:
    ticket = announce(api, token, len(data), fmt, ecg_id).json
    key = put_file(ticket, data)
    deliver(key)
    return key


@pytest.fixture
def alice(api: Api) -> str:
    return api.user_token("alice")


def test_an_announced_upload_is_awaiting_its_file_with_a_put_url_bound_to_its_size(api: Api, alice: str):
    reply = announce(api, alice, 12345)
    assert reply.status == 201
    assert reply.headers["location"] == "/ecgs/holter"
    ticket = reply.json
    assert ticket["id"] == "holter" and ticket["status"] == "awaiting_upload"
    assert ticket["upload"]["method"] == "PUT"
    assert ticket["upload"]["headers"]["Content-Length"] == "12345"
    assert "content-length" in ticket["upload"]["url"].lower()  # the length is signed
    assert upload_key(ticket).startswith("uploads/alice/holter/")


def test_an_ecg_awaiting_its_file_is_listed_without_leads(api: Api, alice: str):
    announce(api, alice, 100)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "awaiting_upload" and shown["leads"] == []
    assert api.call("GET", "/ecgs", alice).json["items"][0]["status"] == "awaiting_upload"


@pytest.mark.parametrize("path", ["/insights", "/beats?lead=I", "/signal?lead=I"])
def test_results_of_an_ecg_that_is_not_ready_are_409_with_its_status(api: Api, alice: str, path: str):
    announce(api, alice, 100)
    reply = api.call("GET", f"/ecgs/holter{path}", alice)
    assert reply.status == 409 and reply.json["status"] == "awaiting_upload"


def post_whole(api: Api, token: str, signals: list[np.ndarray]) -> None:
    """The same recording as one POST /ecgs, id `whole`."""
    leads = [
        {"name": name, "signal": s.tolist()} for name, s in zip(names(len(signals)), signals, strict=True)
    ]
    body = {"id": "whole", "date": DATE, "sampling_rate_hz": RATE, "leads": leads}
    assert api.call("POST", "/ecgs", token, body).status == 201


def test_an_edf_upload_becomes_ready_with_the_insights_of_the_same_ecg_posted_whole(api: Api, alice: str):
    signals = recording()
    upload(api, alice, edf_bytes(signals, names(2), RATE))
    post_whole(api, alice, signals)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "ready" and shown["sampling_rate_hz"] == RATE
    assert [lead["signal"] for lead in shown["leads"]] == [s.tolist() for s in signals]
    uploaded = api.call("GET", "/ecgs/holter/insights", alice).json["leads"]
    posted = api.call("GET", "/ecgs/whole/insights", alice).json["leads"]
    assert uploaded == posted
    assert uploaded[0]["beats"] > 40


def test_the_beats_of_an_upload_are_those_of_the_same_ecg_posted_whole(api: Api, alice: str):
    signals = recording()
    upload(api, alice, edf_bytes(signals, names(2), RATE))
    post_whole(api, alice, signals)
    stored = api.call("GET", "/ecgs/holter/beats?lead=I&start=2000&end=6000", alice).json["beats"]
    found = api.call("GET", "/ecgs/whole/beats?lead=I&start=2000&end=6000", alice).json["beats"]
    assert stored == found and stored


def test_a_window_of_an_uploaded_lead_is_its_samples(api: Api, alice: str):
    signals = recording(seconds=300)  # 75,000 samples: the window crosses a block boundary
    upload(api, alice, edf_bytes(signals, names(2), RATE))
    window = api.call("GET", "/ecgs/holter/signal?lead=II&start=65000&count=2500", alice).json
    assert window["signal"] == signals[1][65000:67500].tolist()


def test_a_json_upload_becomes_ready(api: Api, alice: str):
    signals = recording(leads=1)
    data = json.dumps(
        {"sampling_rate_hz": RATE, "leads": [{"name": "II", "signal": signals[0].tolist()}]}
    ).encode()
    upload(api, alice, data, fmt="json")
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "ready" and shown["leads"][0]["signal"] == signals[0].tolist()


def test_after_processing_only_the_committed_signal_object_remains(api: Api, alice: str):
    upload(api, alice, edf_bytes(recording(), names(2), RATE))
    objects = stored_objects("alice")
    assert len(objects) == 1 and lasting_objects("alice") == list(objects)
    assert next(iter(objects)).startswith("signals/alice/holter/")


def test_a_corrupt_file_fails_with_a_reason_and_is_removed(api: Api, alice: str):
    upload(api, alice, b"this is not an EDF file at all" * 20)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "failed" and shown["error"]
    assert stored_objects("alice") == {}


def test_a_file_of_another_size_than_announced_fails(api: Api, alice: str):
    data = edf_bytes(recording(), names(2), RATE)
    ticket = announce(api, alice, len(data) + 1).json
    deliver(put_file(ticket, data))
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "failed" and "size_bytes" in shown["error"]


def test_a_truncated_file_fails(api: Api, alice: str):
    data = edf_bytes(recording(), names(2), RATE)[:-100]
    upload(api, alice, data)
    assert api.call("GET", "/ecgs/holter", alice).json["status"] == "failed"


def test_a_repeated_delivery_changes_nothing(api: Api, alice: str):
    key = upload(api, alice, edf_bytes(recording(), names(2), RATE))
    before = (api.call("GET", "/ecgs/holter/insights", alice).json, stored_objects("alice"))
    deliver(key, receive_count=2)
    assert (api.call("GET", "/ecgs/holter/insights", alice).json, stored_objects("alice")) == before


def test_a_delivery_that_dies_part_way_is_completed_by_the_next(api: Api, alice: str, faults: FaultPlan):
    data = edf_bytes(recording(), names(2), RATE)
    ticket = announce(api, alice, len(data)).json
    key = put_file(ticket, data)
    faults.seen.clear()
    faults.operation, faults.occurrence, faults.times = "UpdateItem", 2, 10  # the step that makes it ready
    with pytest.raises(Unavailable):
        deliver(key)
    assert api.call("GET", "/ecgs/holter", alice).json["status"] == "processing"
    faults.times = 0
    deliver(key, receive_count=2)
    assert api.call("GET", "/ecgs/holter", alice).json["status"] == "ready"
    assert len(lasting_objects("alice")) == 1


def test_a_failed_delivery_asks_the_queue_for_it_again_soon(
    api: Api, alice: str, faults: FaultPlan, monkeypatch: pytest.MonkeyPatch
):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    data = edf_bytes(recording(), names(2), RATE)
    key = put_file(announce(api, alice, len(data)).json, data)
    sqs.send_message(QueueUrl=url, MessageBody=s3_event(key))
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=5400)["Messages"]
    monkeypatch.setattr(queue, "FIRST_RETRY_SECONDS", 0)  # due at once, instead of in 30 s
    faults.operation, faults.occurrence, faults.times = "UpdateItem", 2, 10
    with pytest.raises(Unavailable):
        deliver(key, queue_arn=arn, receipt_handle=message["ReceiptHandle"])
    assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1


def test_the_last_delivery_marks_the_ecg_failed_instead_of_trying_again(api: Api, alice: str):
    data = edf_bytes(recording(), names(2), RATE)
    ticket = announce(api, alice, len(data)).json
    deliver(put_file(ticket, data), receive_count=queue.DELIVERY_ATTEMPTS)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "failed" and shown["error"] == processing.GAVE_UP


def test_an_upload_not_sent_within_a_day_is_failed(api: Api, alice: str, monkeypatch: pytest.MonkeyPatch):
    announce(api, alice, 100)
    monkeypatch.setattr(service, "UPLOAD_DEADLINE", service.UPLOAD_DEADLINE * 0)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "failed" and shown["error"] == service.NOT_UPLOADED


def test_an_upload_whose_processing_never_finished_is_failed_after_a_day(
    api: Api, alice: str, monkeypatch: pytest.MonkeyPatch
):
    data = edf_bytes(recording(), names(2), RATE)
    key = put_file(announce(api, alice, len(data)).json, data)
    monkeypatch.setattr(processing, "_store", lambda item: pytest.fail("a late delivery processed"))
    item = processing.ecgs.get_ecg("alice", "holter")
    assert item is not None and processing.ecgs.start_processing(item)  # then every delivery died
    monkeypatch.setattr(service, "UPLOAD_DEADLINE", service.UPLOAD_DEADLINE * 0)
    shown = api.call("GET", "/ecgs/holter", alice).json
    assert shown["status"] == "failed" and shown["error"] == service.NOT_PROCESSED
    deliver(key)  # a late delivery fails it for good, and removes the file
    assert processing.ecgs.get_ecg("alice", "holter").status == "failed"
    assert stored_objects("alice") == {}


def test_a_file_for_a_deleted_ecg_is_removed_and_stores_nothing(api: Api, alice: str):
    data = edf_bytes(recording(), names(2), RATE)
    ticket = announce(api, alice, len(data)).json
    key = put_file(ticket, data)
    assert api.call("DELETE", "/ecgs/holter", alice).status == 204
    deliver(key)
    assert stored_objects("alice") == {}


def test_an_upload_racing_its_users_deletion_leaves_nothing_lasting(api: Api, alice: str, monkeypatch):
    data = edf_bytes(recording(), names(2), RATE)
    ticket = announce(api, alice, len(data)).json
    key = put_file(ticket, data)
    finish = processing.ecgs.finish_processing

    def user_deleted_first(item: Any) -> bool:
        assert api.call("DELETE", "/users/alice", api.admin_token).status == 204
        return finish(item)

    monkeypatch.setattr(processing.ecgs, "finish_processing", user_deleted_first)
    deliver(key)
    assert lasting_objects("alice") == []


def test_an_upload_id_is_taken_for_post_ecgs_too(api: Api, alice: str):
    announce(api, alice, 100)
    body = {"id": "holter", "date": DATE, "leads": [{"name": "I", "signal": [1]}]}
    assert api.call("POST", "/ecgs", alice, body).status == 409
    assert announce(api, alice, 100).status == 409


def test_an_upload_without_id_gets_a_uuid(api: Api, alice: str):
    reply = api.call("POST", "/ecgs/uploads", alice, {"date": DATE, "format": "json", "size_bytes": 10})
    assert reply.status == 201 and len(reply.json["id"]) == 36


@pytest.mark.parametrize(
    "change",
    [
        {"format": "csv"},
        {"size_bytes": 0},
        {"size_bytes": 2**31 + 1},
        {"size_bytes": 1.5},
        {"size_bytes": "10"},
        {"format": "json", "size_bytes": 2**28 + 1},
        {"id": "uploads"},
        {"date": "yesterday"},
        {"signal": [1]},
    ],
)
def test_a_bad_announcement_is_400(api: Api, alice: str, change: dict[str, Any]):
    body = {"date": DATE, "format": "edf", "size_bytes": 10, **change}
    assert api.call("POST", "/ecgs/uploads", alice, body).status == 400


def test_an_admin_may_not_announce_uploads(api: Api):
    body = {"date": DATE, "format": "edf", "size_bytes": 10}
    assert api.call("POST", "/ecgs/uploads", api.admin_token, body).status == 403


def test_a_delivery_whose_ready_update_answer_was_lost_keeps_the_signal(
    api: Api, alice: str, faults: FaultPlan
):
    data = edf_bytes(recording(), names(2), RATE)
    key = put_file(announce(api, alice, len(data)).json, data)
    faults.seen.clear()
    faults.operation, faults.occurrence, faults.times, faults.kind = "UpdateItem", 2, 1, "lost"
    deliver(key)
    assert (
        api.call("GET", "/ecgs/holter/signal?lead=I&count=10", alice).json["signal"]
        == recording()[0][:10].tolist()
    )
    assert lasting_objects("alice") == [next(iter(stored_objects("alice")))]
