"""GET /openapi.json: the contract in openapi.yaml, served as JSON to anyone."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.routing import json_response, route

docs_routes = Blueprint(__name__)
OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def openapi_document() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))


@route(docs_routes, "/openapi.json", "GET", public=True)
def get_openapi() -> Response:
    return json_response(openapi_document())
