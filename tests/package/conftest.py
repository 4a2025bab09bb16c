"""`make package STAGE=dev` once per session, into a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.deployment import package


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package("dev", tmp_path_factory.mktemp("package-dev"))


@pytest.fixture(scope="session")
def template(package_dir: Path) -> dict[str, Any]:
    return json.loads((package_dir / "sam.json").read_text())
