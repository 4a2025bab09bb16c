"""The local stack (`make run`) as a client meets it: the real runner in a subprocess, over HTTP.

Measures GET /ecgs/{id}/insights on a kept-alive connection and on a fresh connection per
request, POST /ecgs latency with few and with many ECGs stored, and upload throughput from
one client and from four concurrent clients (each on its own kept-alive connection). The body
is a real record: twelve slices of MIT-BIH record 100 as twelve leads at 360 Hz, ~540 KB of JSON.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "tests" / "data" / "ecg-records" / "mitdb_100.npz"
LEADS = 12
SAMPLES_PER_LEAD = 11_250  # 12 x 11,250 samples of record 100: ~540 KB of compact JSON
ADMIN = ("bench-admin", "bench-admin-password")
USER = ("bench-http-user", "bench-http-password")
CLIENTS = 4
SEED_UPLOADS_PER_SECOND = 16.5  # the seed (FastAPI + uvicorn + PostgreSQL, one worker), 4 clients
FEW, MANY = 10, int(os.environ.get("BENCH_STORED", "1000"))


def record_body() -> dict[str, Any]:
    """Twelve consecutive slices of a real recording, in ADC units relative to its baseline."""
    record = np.load(RECORD)
    signal = record["signal"].astype(np.int32) - int(record["baseline"])
    return {
        "date": "2026-11-27T10:00:00Z",
        "sampling_rate_hz": int(record["fs"]),
        "leads": [
            {
                "name": f"lead-{lead + 1}",
                "signal": signal[lead * SAMPLES_PER_LEAD : (lead + 1) * SAMPLES_PER_LEAD].tolist(),
            }
            for lead in range(LEADS)
        ],
    }


class Connection:
    """One HTTP/1.1 client connection, kept alive across requests (as requests.Session does)
    unless `fresh`, which opens a new one per request and asks the server to close it."""

    def __init__(self, port: int, fresh: bool = False) -> None:
        self.port, self.fresh = port, fresh
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        all_headers = {**(headers or {}), **({"Connection": "close"} if self.fresh else {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            self.connection.request(method, path, body=body, headers=all_headers)
            response = self.connection.getresponse()
            answer = (response.status, response.read())
        except Exception:
            self.close()
            raise
        if self.fresh or response.will_close:
            self.close()
        return answer

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@contextmanager
def local_stack() -> Iterator[int]:
    """`python -m devtools.local_stack` on a free port; its output goes to a file (an unread
    pipe would fill up and block it)."""
    sys.path.insert(0, str(ROOT))
    from devtools.local_stack import free_port

    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "ECG_ADMIN_USERNAME": ADMIN[0],
        "ECG_ADMIN_PASSWORD": ADMIN[1],
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("ECG_DYNAMODB_HOST", "ECG_JWT_SECRET", "ECG_STAGE"):
        env.pop(name, None)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Connection(port, fresh=True).request("GET", "/openapi.json")[0] == 200:
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(
                            f"the local stack did not start: {log.read().decode()[-2000:]}"
                        ) from None
                    time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def login(port: int, username: str, password: str) -> str:
    status, raw = Connection(port, fresh=True).request(
        "POST", "/auth/token", json.dumps({"username": username, "password": password}).encode()
    )
    assert status == 200, raw[:200]
    return str(json.loads(raw)["access_token"])


@dataclass
class Uploader:
    port: int
    token: str
    template: bytes  # the body with `"id":"` first, so an id is spliced in without re-encoding
    next_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> str:
        with self.lock:
            self.next_id += 1
            return f"rec-{self.next_id:06d}"

    def upload(self, connection: Connection) -> tuple[str, float]:
        ecg_id = self.new_id()
        body = self.template.replace(b'"id":"', f'"id":"{ecg_id}'.encode(), 1)
        started = time.perf_counter()
        status, raw = connection.request("POST", "/ecgs", body, {"Authorization": f"Bearer {self.token}"})
        elapsed = time.perf_counter() - started
        assert status == 201, raw[:300]
        return ecg_id, elapsed

    def post_latencies(self, runs: int) -> list[float]:
        connection = Connection(self.port)
        try:
            return [self.upload(connection)[1] for _ in range(runs)]
        finally:
            connection.close()

    def throughput(self, clients: int, uploads: int) -> float:
        """Uploads per second from `clients` threads, each on its own kept-alive connection."""
        remaining = [uploads]
        failures: list[BaseException] = []

        def client() -> None:
            connection = Connection(self.port)
            try:
                while True:
                    with self.lock:
                        if remaining[0] <= 0 or failures:
                            return
                        remaining[0] -= 1
                    self.upload(connection)
            except BaseException as error:
                failures.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise failures[0]
        return uploads / elapsed


def get_latencies(port: int, token: str, path: str, runs: int, fresh: bool) -> list[float]:
    connection = Connection(port, fresh=fresh)
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    try:
        for run in range(runs + 3):
            started = time.perf_counter()
            status, raw = connection.request("GET", path, headers=headers)
            elapsed = time.perf_counter() - started
            assert status == 200, raw[:200]
            if run >= 3:
                timings.append(elapsed)
    finally:
        connection.close()
    return timings


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def run(runs: int = 30) -> None:
    body = record_body()
    template = json.dumps({"id": "", **body}, separators=(",", ":")).encode()
    with local_stack() as port:
        admin = login(port, *ADMIN)
        status, raw = Connection(port, fresh=True).request(
            "POST",
            "/users",
            json.dumps({"username": USER[0], "password": USER[1]}).encode(),
            {"Authorization": f"Bearer {admin}"},
        )
        assert status == 201, raw[:200]
        uploader = Uploader(port, login(port, *USER), template)
        uploader.post_latencies(FEW)  # FEW stored (and a warm server)
        insights = f"/ecgs/rec-{FEW:06d}/insights"
        kept_alive = get_latencies(port, uploader.token, insights, runs * 2, fresh=False)
        fresh = get_latencies(port, uploader.token, insights, runs * 2, fresh=True)
        few_stored = uploader.next_id
        post_few = uploader.post_latencies(runs // 2)
        single = uploader.throughput(1, runs)
        concurrent = uploader.throughput(CLIENTS, max(runs * 3, MANY - uploader.next_id))
        many_stored = uploader.next_id
        post_many = uploader.post_latencies(runs // 2)
    ratio = statistics.median(post_many) / statistics.median(post_few)
    print(
        f"\nlocal stack over HTTP (`make run` in a subprocess), body {len(template) / 1000:.0f} KB:"
        f" {LEADS} leads x {SAMPLES_PER_LEAD} samples of {RECORD.stem} at 360 Hz; medians (min-max)"
    )
    print(f"  GET insights, kept-alive connection          {ms(kept_alive)}   target <= 10 ms")
    print(f"  GET insights, fresh connection per request   {ms(fresh)}   target <= 10 ms")
    print(f"  POST /ecgs, {few_stored:>5} ECGs stored              {ms(post_few)}")
    print(
        f"  POST /ecgs, {many_stored:>5} ECGs stored              {ms(post_many)}   {ratio:.2f}x, target <= 1.5x"
    )
    print(f"  uploads/s, 1 client                          {single:8.1f}")
    print(
        f"  uploads/s, {CLIENTS} clients                         {concurrent:8.1f}"
        f"   target >= {2 * SEED_UPLOADS_PER_SECOND:.0f} (2x the seed's {SEED_UPLOADS_PER_SECOND}/s)"
    )


if __name__ == "__main__":
    run(int(os.environ.get("BENCH_RUNS", "20")))
