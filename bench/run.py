"""`make bench`: where the time and the bytes of the ingest path go, against a floor.

Runs in one process with moto's in-memory DynamoDB and S3 and the Chalice test client (the same
path as the API tests). Prints medians of repeated runs with min-max. Then the local stack as a
client meets it, over HTTP (bench/local_stack.py, which also runs alone).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.environment import ENVIRONMENT, bench_user_token  # noqa: E402

os.environ.update(ENVIRONMENT)

import msgspec  # noqa: E402
import numpy as np  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench.dynamo_size import item_size  # noqa: E402
from bench.signals import ecg_body  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
WARMUP = 3
STAGES = ("decode+validate", "insights", "encode", "storage")


class StageTimer:
    """Wraps the service's collaborators so the real handler path reports where time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.decodes = 0

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return timed


@contextmanager
def instrumented() -> Iterator[StageTimer]:
    """Time the real collaborators of the handler and its authorizer, by stage."""
    from chalicelib.api import ecg_body
    from chalicelib.ecg import codec, insights
    from chalicelib.store import ecgs, sessions, users

    timer = StageTimer()
    targets = [
        (ecg_body, "parse_ecg", "decode+validate"),
        (insights, "compute_many", "insights"),
        (codec, "encode_signals", "encode"),
        (ecgs, "create_ecg", "storage"),
        (ecgs, "get_ecg", "storage"),
        (users, "get_user", "storage"),
        (sessions, "account_and_revocation", "storage"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in targets]
    for module, name, stage in targets:
        setattr(module, name, timer.wrap(stage, getattr(module, name)))
    decode = codec.decode_signals

    def counting_decode(payload: bytes) -> Any:
        timer.decodes += 1
        return decode(payload)

    codec.decode_signals = counting_decode
    try:
        yield timer
    finally:
        for module, name, function in originals:
            setattr(module, name, function)
        codec.decode_signals = decode


def floor_seconds(raw: bytes) -> float:
    """The fastest JSON decode available here, then each lead to int32 and its zero crossings."""
    from chalicelib.ecg.insights import zero_crossings

    started = time.perf_counter()
    body = msgspec.json.decode(raw)
    for lead in body["leads"]:
        zero_crossings(np.array(lead["signal"], dtype=np.int32))
    return time.perf_counter() - started


def median_range(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:9.2f} ({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"


def stored_bytes(owner: str, ecg_id: str) -> int:
    """The item in DynamoDB plus the signal object in S3."""
    from chalicelib.settings import get_settings
    from chalicelib.store.models import EcgItem
    from chalicelib.store.signals import client

    item = EcgItem.get(owner, ecg_id)
    head = client().head_object(Bucket=get_settings().signals_bucket, Key=item.signal_key)
    return item_size(item.serialize()) + int(head["ContentLength"])


def measure(http: Any, token: str, label: str, body: dict[str, Any], runs: int) -> dict[str, Any]:
    samples = sum(len(lead["signal"]) for lead in body["leads"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    totals, own, floors, insights_reads = [], [], [], []
    stages: dict[str, list[float]] = defaultdict(list)
    decodes_on_insights = 0
    raw = b""
    for run in range(WARMUP + runs):
        raw = json.dumps({"id": f"{label}-{run}", **body}, separators=(",", ":")).encode()
        with instrumented() as timer:
            started = time.perf_counter()
            reply = http.request("POST", "/ecgs", headers=headers, body=raw)
            total = time.perf_counter() - started
        assert reply.status_code == 201, reply.body[:200]
        with instrumented() as reader:
            started = time.perf_counter()
            reply = http.request("GET", f"/ecgs/{label}-{run}/insights", headers=headers)
            read = time.perf_counter() - started
        assert reply.status_code == 200
        floor = floor_seconds(raw)
        if run < WARMUP:
            continue
        decodes_on_insights += reader.decodes
        totals.append(total)
        own.append(total - timer.seconds["dynamodb"])
        floors.append(floor)
        insights_reads.append(read)
        for stage in STAGES:
            stages[stage].append(timer.seconds[stage])
    tracemalloc.start()
    http.request("POST", "/ecgs", headers=headers, body=raw.replace(b'"id":"', b'"id":"mem-', 1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "label": label,
        "samples": samples,
        "body_bytes": len(raw),
        "totals": totals,
        "own": own,
        "floors": floors,
        "stages": stages,
        "insights_reads": insights_reads,
        "decodes_on_insights": decodes_on_insights,
        "stored_bytes": stored_bytes("bench-user", f"{label}-{WARMUP}"),
        "peak_bytes": peak,
    }


RUNTIME = ROOT / "build" / "runtime"


def runtime_site_packages() -> Path:
    """requirements.txt alone, installed apart: what a Lambda function has on its path
    (the dev venv also holds moto's dependencies, e.g. cryptography, which PyJWT would load)."""
    stamp = RUNTIME / ".requirements"
    wanted = (ROOT / "requirements.txt").read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--upgrade",
                "--target",
                str(RUNTIME),
                "-r",
                str(ROOT / "requirements.txt"),
                "chalice==1.34.0",
            ],
            check=True,
        )
        stamp.write_text(wanted)
    return RUNTIME


def cold_import_ms(statement: str, runs: int = 10) -> tuple[float, bool]:
    code = (
        "import sys, time; started = time.perf_counter(); "
        f"{statement}; print((time.perf_counter() - started) * 1000, 'numpy' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{runtime_site_packages()}"}
    timings, loads_numpy = [], False
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-S", "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.split()
        timings.append(float(output[0]))
        loads_numpy = loads_numpy or output[1] == "True"
    return statistics.median(timings), loads_numpy


def main() -> None:
    from app import app
    from devtools.tables import create_tables
    from devtools.test_client import make_client

    largest = ecg_body(166_000)
    cases = [
        ("12-lead-10s", ecg_body(5000), RUNS),
        ("1k", ecg_body(1000, leads=1), RUNS),
        ("10k", ecg_body(10_000, leads=1), RUNS),
        ("100k", ecg_body(100_000, leads=1), RUNS),
        ("5.9MB", largest, max(5, RUNS // 2)),
    ]
    results = []
    with mock_aws():
        create_tables()
        http = make_client(app).http
        token = bench_user_token(http)
        for label, body, runs in cases:
            results.append(measure(http, token, label, body, runs))

    print(
        f"\nECG Insights ingest benchmark: medians of {RUNS} runs after {WARMUP} warm-up (min-max), milliseconds"
    )
    print(
        f"{'body':<12}{'samples':>9}{'bytes':>10}  {'POST total':>24}{'handler own':>24}{'floor':>24}{'own/floor':>10}"
    )
    for result in results:
        ratio = statistics.median(result["own"]) / statistics.median(result["floors"])
        print(
            f"{result['label']:<12}{result['samples']:>9}{result['body_bytes']:>10}  {median_range(result['totals']):>24}"
            f"{median_range(result['own']):>24}{median_range(result['floors']):>24}{ratio:>9.2f}x"
        )
    print(f"\n{'body':<12}" + "".join(f"{stage:>24}" for stage in STAGES) + f"{'GET insights':>24}")
    for result in results:
        print(
            f"{result['label']:<12}"
            + "".join(f"{median_range(result['stages'][stage]):>24}" for stage in STAGES)
            + f"{median_range(result['insights_reads']):>24}"
        )
    print(
        f"\n{'body':<12}{'stored B/sample':>16}{'JSON B/sample':>15}{'peak MiB':>10}{'peak/body':>10}{'signal decodes on GET insights':>32}"
    )
    for result in results:
        print(
            f"{result['label']:<12}{result['stored_bytes'] / result['samples']:>16.3f}"
            f"{result['body_bytes'] / result['samples']:>15.3f}{result['peak_bytes'] / 2**20:>10.1f}"
            f"{result['peak_bytes'] / result['body_bytes']:>10.1f}{result['decodes_on_insights']:>32}"
        )
    app_ms, app_numpy = cold_import_ms("import app")
    auth_ms, auth_numpy = cold_import_ms("import chalicelib.auth.authorizer")
    print("\ncold import, fresh interpreter with only requirements.txt on the path, median of 10")
    print(f"  app.py                       {app_ms:7.1f} ms   imports NumPy: {app_numpy}")
    print(f"  chalicelib.auth.authorizer   {auth_ms:7.1f} ms   imports NumPy: {auth_numpy}")

    from bench.local_stack import run as local_stack_over_http

    local_stack_over_http(RUNS)


if __name__ == "__main__":
    main()
