"""The real local stack (`make run`'s runner) in a subprocess, reached over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.local_stack import free_port
from tests.environment import FAST_BCRYPT_ROUNDS
from tests.helpers import Client, Reply, lower_keys

ADMIN = ("e2e-admin", "e2e-admin-password")


@dataclass
class Stack(Client):
    """The local stack over real HTTP."""

    base_url: str

    def send(self, method: str, path: str, headers: dict[str, str], payload: bytes | None) -> Reply:
        request = urllib.request.Request(self.base_url + path, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Reply(response.status, lower_keys(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, lower_keys(error.headers), error.read())


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Its output goes to a file: an unread pipe would fill up and block the server."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("stack") / "stack.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "ECG_ADMIN_USERNAME": ADMIN[0],
        "ECG_ADMIN_PASSWORD": ADMIN[1],
        "ECG_BCRYPT_ROUNDS": FAST_BCRYPT_ROUNDS,
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("ECG_DYNAMODB_HOST", "ECG_JWT_SECRET", "ECG_STAGE"):
        env.pop(name, None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack"], env=env, stdout=log, stderr=log
        )
        stack = Stack(f"http://127.0.0.1:{port}")
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
        yield stack
        process.terminate()
        process.wait(timeout=20)
