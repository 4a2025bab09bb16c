"""Schemathesis, an independent API fuzzer, against the local stack and openapi.yaml.

Every check is on (no 5xx, documented statuses, content types and headers, response
schemas, negative data rejected, positive data accepted, use-after-free, resource
availability, ignored auth), in every phase including the stateful one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ADMIN, Stack

CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
EXAMPLES_PER_OPERATION = int(os.environ.get("ECG_FUZZ_EXAMPLES", "30"))


def test_schemathesis_finds_no_failure(stack: Stack):
    admin = stack.login(*ADMIN)
    stack.call("POST", "/users", admin, {"username": "st-fuzz-user", "password": "fuzz-user-password"})
    user = stack.login("st-fuzz-user", "fuzz-user-password")
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{stack.base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "20261127",
        "--no-color",
        "--generation-database",
        "none",
        "--exclude-path",
        "/auth/logout",
    ]
    env = {**os.environ, "ECG_FUZZ_ADMIN_TOKEN": admin, "ECG_FUZZ_USER_TOKEN": user}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    summary = re.search(r"(\d+) generated", result.stdout)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert summary and int(summary.group(1)) > 100
