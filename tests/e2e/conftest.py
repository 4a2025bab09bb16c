"""The real local stack (`make run`'s runner) in a subprocess, reached over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.local_stack import free_port
from tests.environment import FAST_BCRYPT_ROUNDS
from tests.helpers import Client, Reply, lower_keys

ADMIN = ("e2e-admin", "e2e-admin-password")
STORAGE_LINE = re.compile(r"^S3 and SQS: (http://127\.0\.0\.1:\d+) \(uploads queue (\S+)\)$", re.MULTILINE)


@dataclass
class Stack(Client):
    """The local stack over real HTTP; its S3 and SQS (moto) for what a client cannot see."""

    base_url: str
    storage_url: str = ""
    queue_url: str = ""
    log_path: Path | None = None

    def send(self, method: str, path: str, headers: dict[str, str], payload: bytes | None) -> Reply:
        request = urllib.request.Request(self.base_url + path, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Reply(response.status, lower_keys(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, lower_keys(error.headers), error.read())

    def aws(self, service: str) -> Any:
        """A boto3 client of the stack's S3 or SQS."""
        import boto3

        return boto3.client(service, endpoint_url=self.storage_url, region_name="us-east-1")

    def log(self) -> str:
        assert self.log_path is not None
        return self.log_path.read_text()


@contextmanager
def running_stack(directory: Path, **environment: str) -> Iterator[Stack]:
    """`python -m devtools.local_stack` on a free port, with `environment` on top of the test
    process's. Its output goes to a file: an unread pipe would fill up and block the server."""
    port = free_port()
    log_path = directory / "stack.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "ECG_ADMIN_USERNAME": ADMIN[0],
        "ECG_ADMIN_PASSWORD": ADMIN[1],
        "ECG_BCRYPT_ROUNDS": FAST_BCRYPT_ROUNDS,
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("ECG_DYNAMODB_HOST", "ECG_JWT_SECRET", "ECG_STAGE", "ECG_S3_ENDPOINT", "ECG_SIGNALS_BUCKET"):
        env.pop(name, None)
    env.update(environment)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack"], env=env, stdout=log, stderr=log
        )
        stack = Stack(f"http://127.0.0.1:{port}", log_path=log_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if stack.call("GET", "/openapi.json").status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            process.kill()
            raise RuntimeError(f"local stack did not start: {log_path.read_text()}")
        found = STORAGE_LINE.search(log_path.read_text())
        assert found, f"the stack names its S3 and SQS endpoint: {log_path.read_text()}"
        stack.storage_url, stack.queue_url = found.group(1), found.group(2)
        try:
            yield stack
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running
