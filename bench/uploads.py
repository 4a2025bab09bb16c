"""`make bench`: a 24-hour Holter recording through the upload path, against the issue's targets.

A 3-lead 250 Hz EDF of 24 hours (~130 MB) is written to disk, PUT to S3 (from another process)
and processed by the same function the queue invokes. S3 and DynamoDB are `make run`'s embedded
services in their own processes, so this process holds only what the processing function
would: its peak resident memory is read from the kernel (VmHWM, reset before each run). Then 10-second windows
are read by the handler's use case alone (what the API function spends: a GetItem and two ranged
GETs) and through the whole API (the Chalice test client, the authorizer's lookup included).

Targets: processing <= 60 s on one core, peak memory <= 512 MiB whatever the length, a 10 s
window <= 30 ms of handler time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

RATE = 250
HOURS = float(os.environ.get("BENCH_HOLTER_HOURS", "24"))
LEADS = ("I", "II", "V1")
RUNS = int(os.environ.get("BENCH_UPLOAD_RUNS", "3"))
WINDOW_READS = 30
TARGETS = {"seconds": 60.0, "peak_mib": 512.0, "window_ms": 30.0}


def holter(hours: float, seed: int = 7) -> Iterator[list[np.ndarray]]:
    """Minutes of a synthetic ambulatory ECG: beats with varying rate, baseline wander, noise."""
    rng = np.random.default_rng(seed)
    minute = 60 * RATE
    t = np.arange(minute) / RATE
    for index in range(int(hours * 60)):
        rr = 60 / (70 + 15 * np.sin(index / 90))
        beats = np.zeros(minute)
        for at in np.arange(rng.uniform(0, rr), 60, rr):
            beats += np.exp(-(((t - at) * RATE / 4) ** 2))
        wander = 60 * np.sin(2 * np.pi * 0.2 * t + index)
        yield [
            (900 * gain * beats + wander + rng.normal(0, 10, minute)).astype(np.int16)
            for gain in (1.0, 0.7, -0.5)
        ]


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    from bench.environment import ENVIRONMENT
    from devtools.local_stack import DYNAMODB_CHILD, STORAGE_CHILD, embedded_services

    os.environ.update(ENVIRONMENT)
    with embedded_services(DYNAMODB_CHILD, STORAGE_CHILD) as (dynamodb, storage):
        os.environ.update({"ECG_DYNAMODB_HOST": dynamodb, "ECG_S3_ENDPOINT": storage})
        run()


def upload(path: Path, bucket: str, key: str) -> None:
    """In another process: what this one holds afterwards is then the processing's alone."""
    code = (
        "import boto3, os, sys; boto3.client('s3', endpoint_url=os.environ['ECG_S3_ENDPOINT'])"
        ".upload_file(sys.argv[1], sys.argv[2], sys.argv[3])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), bucket, key], check=True)


def run() -> None:
    from app import app
    from bench.environment import bench_user_token
    from chalicelib.ecg import processing, service
    from chalicelib.ecg.model import UploadAnnouncement
    from chalicelib.settings import get_settings
    from chalicelib.store import ecgs
    from chalicelib.store.signals import client
    from devtools.tables import create_tables
    from devtools.test_client import make_client
    from tests.edf_files import write_edf

    create_tables()
    http = make_client(app).http
    headers = {"Authorization": f"Bearer {bench_user_token(http)}"}
    bucket = get_settings().signals_bucket
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "holter.edf"
        started = time.perf_counter()
        size = write_edf(path, holter(HOURS), LEADS, RATE)
        print(
            f"\n{HOURS:g} h, {len(LEADS)} leads at {RATE} Hz: EDF of {size / 1e6:.1f} MB written in {time.perf_counter() - started:.1f} s"
        )
        seconds, peaks = [], []
        for run_index in range(RUNS):
            ticket = service.announce(
                "bench-user", UploadAnnouncement(f"holter-{run_index}", "2026-11-27T10:00:00Z", "edf", size)
            )
            item = ecgs.get_ecg("bench-user", ticket.id)
            assert item is not None and item.upload_key is not None
            upload(path, bucket, item.upload_key)
            reset_peak()
            started = time.perf_counter()
            processing.process_upload(item.upload_key)
            seconds.append(time.perf_counter() - started)
            peaks.append(peak_mib())
    done = ecgs.get_ecg("bench-user", "holter-0")
    assert done is not None and done.status == "ready", done and done.error
    samples = sum(int(lead.number_of_samples) for lead in done.leads)
    stored = client().head_object(Bucket=bucket, Key=done.signal_key)["ContentLength"]

    rng = np.random.default_rng(1)
    per_lead = samples // len(LEADS)
    window_ms, handler_ms = [], []
    for _ in range(WINDOW_READS):
        start = int(rng.integers(0, per_lead - 10 * RATE))
        began = time.perf_counter()
        reply = http.request(
            "GET", f"/ecgs/holter-0/signal?lead=II&start={start}&count={10 * RATE}", headers=headers
        )
        window_ms.append((time.perf_counter() - began) * 1000)
        assert reply.status_code == 200
        began = time.perf_counter()
        service.read_window("bench-user", "holter-0", "II", start, 10 * RATE)
        handler_ms.append((time.perf_counter() - began) * 1000)

    beats = [lead.insights.as_dict()["beats"] for lead in done.leads]  # type: ignore[no-untyped-call]
    print(f"stored {stored / 1e6:.1f} MB ({stored / samples:.3f} B/sample), beats per lead {beats}")
    print(f"{'':<34}{'median':>10}{'min-max':>18}{'target':>10}")
    rows = [
        ("processing, s", seconds, TARGETS["seconds"]),
        ("peak resident memory, MiB", peaks, TARGETS["peak_mib"]),
        ("10 s window, handler's work, ms", handler_ms, TARGETS["window_ms"]),
        ("10 s window, API + authorizer, ms", window_ms, TARGETS["window_ms"]),
    ]
    for label, values, target in rows:
        median = statistics.median(values)
        verdict = "met" if median <= target else "MISSED"
        print(
            f"{label:<34}{median:>10.1f}{f'{min(values):.1f}-{max(values):.1f}':>18}{target:>10.0f}  {verdict}"
        )
    print(f"(processing: median of {RUNS} runs; windows: {WINDOW_READS} random starts in lead II)")


if __name__ == "__main__":
    main()
