"""Uploaded files become stored ECGs: the use case behind the uploads queue.

S3 announces each file on SQS; SQS may deliver a notice more than once, late, or after the ECG
was deleted, and a delivery may die part-way (the queue then delivers it again). So every step
is conditional on the ECG's state: `awaiting_upload` → `processing` → `ready` (or `failed` with a
reason the client can read), and a delivery that finds the work done only tidies up.

The file is streamed: read in chunks, each chunk fed to the insight accumulators and the block
encoder, whose output goes to S3 part by part, so memory does not grow with the recording.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.ecg import insights
from chalicelib.ecg.codec import SignalEncoder
from chalicelib.ecg.formats.edf import read_edf
from chalicelib.ecg.formats.json_file import read_json_file
from chalicelib.ecg.formats.recording import Recording, UnreadableFile
from chalicelib.ecg.service import overdue
from chalicelib.store import ecgs, queue, signals
from chalicelib.store.models import EcgItem, LeadSummaryAttribute

GAVE_UP = "the file could not be processed (every attempt failed); please upload it again"
logger = logging.getLogger(__name__)


def process_message(record: dict[str, Any]) -> None:
    """One record of Lambda's SQS event. A failure raises (SQS delivers the message again),
    after asking the queue to do so soon."""
    receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    try:
        process_notification(record["body"], receive_count)
    except Exception:
        queue.retry_soon(record["eventSourceARN"], record["receiptHandle"], receive_count)
        raise


def process_notification(body: str, receive_count: int) -> None:
    """One SQS message: an S3 event naming the files that arrived (or S3's test event)."""
    message: dict[str, Any] = json.loads(body)
    for record in message.get("Records", []):
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            key = unquote_plus(record["s3"]["object"]["key"])
            process_upload(key, last_attempt=receive_count >= queue.DELIVERY_ATTEMPTS)


def process_upload(key: str, last_attempt: bool = False) -> None:
    located = signals.upload_owner_and_id(key)
    if located is None:  # not an upload key: nothing this function may touch
        logger.warning(json.dumps({"event": "not_an_upload", "key": key}))
        return
    item = ecgs.get_ecg(*located)
    if item is None or item.upload_key != key:
        signals.delete(key)  # its ECG was deleted, or this is not a file we asked for
        return
    if item.status in ("ready", "failed"):  # a repeated delivery: the work is done
        if item.signal_key:
            ecgs.commit_signal(item)
        signals.delete(key)
        return
    late = overdue(item)
    if late is not None:
        _fail(item, late)
        return
    if last_attempt:
        _fail(item, GAVE_UP)
        return
    if not ecgs.start_processing(item):
        process_upload(key)  # it changed meanwhile (deleted, or finished by another delivery)
        return
    started = time.perf_counter()
    try:
        _store(item)
    except UnreadableFile as error:
        _fail(item, str(error))
        return
    logger.info(
        json.dumps(
            {
                "event": "upload_processed",
                "key": key,
                "samples": sum(int(lead.number_of_samples) for lead in item.leads),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    )


def _fail(item: EcgItem, error: str) -> None:
    assert item.upload_key is not None
    ecgs.mark_failed(item, error)
    signals.delete(item.upload_key)
    logger.info(json.dumps({"event": "upload_failed", "key": item.upload_key, "error": error}))


def _open(item: EcgItem) -> Recording:
    assert item.upload_key is not None
    opened = signals.open_upload(item.upload_key)
    if opened is None:
        raise UnreadableFile("the uploaded file is gone")
    stream, size = opened
    if size != item.size_bytes:
        raise UnreadableFile(f"the file has {size} bytes, but size_bytes announced {int(item.size_bytes)}")
    if item.upload_format == "edf":
        return read_edf(stream, size)
    return read_json_file(stream.read())


def _store(item: EcgItem) -> None:
    """Read, compute and pack chunk by chunk; then the item refers to the object, atomically."""
    recording = _open(item)
    names = recording.header.lead_names
    rate = recording.header.sampling_rate_hz
    encoder = SignalEncoder(len(names))
    streams = [insights.LeadStream(rate) for _ in names]
    target = signals.PendingObject(signals.signal_key(item.owner, item.ecg_id))
    try:
        for lead, samples in recording.chunks:
            streams[lead].feed(samples)
            target.write(encoder.add(lead, samples))
        lengths = encoder.lead_lengths
        if 0 in lengths:
            raise UnreadableFile(f"lead {names[lengths.index(0)]!r} has no samples")
        leads = []
        for lead, (name, stream) in enumerate(zip(names, streams, strict=True)):
            values, versions, beats = stream.finish()
            if beats is not None:
                encoder.set_beats(lead, beats)
            leads.append(
                LeadSummaryAttribute(  # type: ignore[no-untyped-call]
                    name=name, number_of_samples=lengths[lead], insights=values, insight_versions=versions
                )
            )
        target.write(encoder.finish())
        target.close()
    except BaseException:
        _abandon(target)
        raise
    item.leads, item.sampling_rate_hz = leads, rate
    item.signal_key, item.signal_index = target.key, encoder.index_offset
    if not ecgs.finish_processing(item) and not _finished_by_us(item):
        signals.delete(target.key)  # deleted, or finished by another delivery, meanwhile
        return
    ecgs.commit_signal(item)
    assert item.upload_key is not None
    signals.delete(item.upload_key)


def _finished_by_us(item: EcgItem) -> bool:
    """The update's condition failed: did it fail on its own retry (the first attempt applied,
    its answer lost)? Then the ECG is ready with this delivery's object."""
    found = ecgs.get_ecg(item.owner, item.ecg_id)
    return found is not None and found.status == "ready" and found.signal_key == item.signal_key


def _abandon(target: signals.PendingObject) -> None:
    """Best effort, never hiding the error that brought us here: what stays is pending or an
    incomplete upload, and lifecycle rules end both."""
    try:
        target.abort()
        signals.delete(target.key)
    except Exception:  # the original error is the one to report
        logger.warning(json.dumps({"event": "object_left_to_expire", "key": target.key}))
