"""GET /openapi.json: the contract, served to anyone.

openapi.yaml is the source; `make openapi` writes chalicelib/openapi.json from it (a test keeps
the two equal), so the function serves bytes as they are, with no YAML parser in the zip."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib.api.responses import JSON_HEADERS
from chalicelib.api.routing import route

docs_routes = Blueprint(__name__)
OPENAPI_JSON = Path(__file__).resolve().parent.parent / "openapi.json"


@cache
def openapi_json() -> str:
    return OPENAPI_JSON.read_text(encoding="utf-8")


@route(docs_routes, "/openapi.json", "GET", public=True)
def get_openapi() -> Response:
    return Response(body=openapi_json(), status_code=200, headers=dict(JSON_HEADERS))
