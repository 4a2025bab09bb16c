"""GET /openapi.json, the contract, and GET /docs, Swagger UI over it: served to anyone.

openapi.yaml is the source; `make openapi` writes chalicelib/openapi.json from it (a test keeps
the two equal), so the function serves bytes as they are, with no YAML parser in the zip.

/docs is a page (chalicelib/web/docs.html) and three same-origin files it loads: Swagger UI's
bundle and stylesheet, vendored from npm (chalicelib/web/README.md), and init.js, which starts
it. No CDN, no inline script or style: the page's Content-Security-Policy allows this origin
only (images also as `data:` URLs, which Swagger UI's stylesheet uses for its icons)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib.api.responses import JSON_HEADERS
from chalicelib.api.routing import route

docs_routes = Blueprint(__name__)
OPENAPI_JSON = Path(__file__).resolve().parent.parent / "openapi.json"
WEB = Path(__file__).resolve().parent.parent / "web"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
HTML = "text/html; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"


@cache
def openapi_json() -> str:
    return OPENAPI_JSON.read_text(encoding="utf-8")


@cache
def web_file(name: str) -> str:
    """A file of chalicelib/web, read on its first request (nothing is read at import)."""
    return (WEB / name).read_text(encoding="utf-8")


def web_response(name: str, content_type: str) -> Response:
    return Response(body=web_file(name), status_code=200, headers={"Content-Type": content_type})


def web_page(name: str) -> Response:
    """An HTML page of chalicelib/web, under the strict Content-Security-Policy."""
    response = web_response(name, HTML)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@route(docs_routes, "/openapi.json", "GET", public=True)
def get_openapi() -> Response:
    return Response(body=openapi_json(), status_code=200, headers=dict(JSON_HEADERS))


@route(docs_routes, "/docs", "GET", public=True)
def get_docs() -> Response:
    path = (docs_routes.current_request.context or {}).get("path", "")
    if path.endswith("/"):
        # /docs/ reaches this view too (`make run` routes it here); the page's relative links
        # would miss its files from there.
        return Response(body="", status_code=308, headers={"Location": "../docs"})
    return web_page("docs.html")


@route(docs_routes, "/docs/swagger-ui-bundle.js", "GET", public=True)
def get_swagger_ui_bundle() -> Response:
    return web_response("swagger-ui/swagger-ui-bundle.js", JAVASCRIPT)


@route(docs_routes, "/docs/swagger-ui.css", "GET", public=True)
def get_swagger_ui_css() -> Response:
    return web_response("swagger-ui/swagger-ui.css", CSS)


@route(docs_routes, "/docs/init.js", "GET", public=True)
def get_docs_init() -> Response:
    return web_response("init.js", JAVASCRIPT)
