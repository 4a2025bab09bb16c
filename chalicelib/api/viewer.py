"""GET /, the ECG viewer: a small static web app, served to anyone, that signs in with this API.

The page (chalicelib/web/viewer/index.html) loads its own script and stylesheet and uPlot,
vendored from npm (chalicelib/web/viewer/README.md), all from this origin and by relative link,
so it works under a stage prefix too. It calls the API same-origin (no CORS) with a bearer token
it keeps in sessionStorage, never in a cookie. No inline script or style: the page has the strict
Content-Security-Policy of /docs, with one addition: it may also connect to where large files
are uploaded (the presigned URLs of POST /ecgs/uploads point at the signals bucket, or at the
local S3 under `make run`), which depends on the stage's settings, so the header is built per
request, not at import."""

from __future__ import annotations

import re

from chalice.app import Blueprint, Response

from chalicelib.api.docs import CONTENT_SECURITY_POLICY, CSS, JAVASCRIPT, web_page, web_response
from chalicelib.api.routing import route

viewer_routes = Blueprint(__name__)

# An origin as a CSP source: scheme, host and port, nothing that could end the directive.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def content_security_policy(upload_origins: list[str]) -> str:
    """The strict policy of the web pages, whose connect-src also allows the upload origins."""
    origins = [origin for origin in upload_origins if _ORIGIN.fullmatch(origin)]
    directives = []
    for directive in CONTENT_SECURITY_POLICY.split(";"):
        name, *sources = directive.split()
        if name == "connect-src":
            sources += [origin for origin in origins if origin not in sources]
        directives.append(" ".join([name, *sources]))
    return "; ".join(directives)


# Route -> (file under chalicelib/web, content type).
ASSETS = {
    "/viewer/app.js": ("viewer/app.js", JAVASCRIPT),
    "/viewer/app.css": ("viewer/app.css", CSS),
    "/viewer/vendor/uPlot.iife.min.js": ("viewer/vendor/uPlot.iife.min.js", JAVASCRIPT),
    "/viewer/vendor/uPlot.min.css": ("viewer/vendor/uPlot.min.css", CSS),
}


def _asset(path: str) -> Response:
    return web_response(*ASSETS[path])


@route(viewer_routes, "/", "GET", public=True)
def get_viewer() -> Response:
    path = (viewer_routes.current_request.context or {}).get("path", "/")
    if not path.endswith("/"):
        # A stage's root asked without its slash (https://host/api): the page's relative links
        # would resolve against the host's root and miss the stage.
        return Response(body="", status_code=308, headers={"Location": path.rsplit("/", 1)[-1] + "/"})
    from chalicelib.store.signals import upload_origins

    response = web_page("viewer/index.html")
    response.headers["Content-Security-Policy"] = content_security_policy(upload_origins())
    return response


@route(viewer_routes, "/viewer/app.js", "GET", public=True)
def get_viewer_script() -> Response:
    return _asset("/viewer/app.js")


@route(viewer_routes, "/viewer/app.css", "GET", public=True)
def get_viewer_stylesheet() -> Response:
    return _asset("/viewer/app.css")


@route(viewer_routes, "/viewer/vendor/uPlot.iife.min.js", "GET", public=True)
def get_uplot_script() -> Response:
    return _asset("/viewer/vendor/uPlot.iife.min.js")


@route(viewer_routes, "/viewer/vendor/uPlot.min.css", "GET", public=True)
def get_uplot_stylesheet() -> Response:
    return _asset("/viewer/vendor/uPlot.min.css")
