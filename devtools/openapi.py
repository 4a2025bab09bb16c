"""`make openapi`: chalicelib/openapi.json from openapi.yaml, the source of the contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "chalicelib" / "openapi.yaml"
BUILT = ROOT / "chalicelib" / "openapi.json"


def load_source() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def main() -> None:
    BUILT.write_text(render(load_source()), encoding="utf-8")
    print(f"wrote {BUILT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
