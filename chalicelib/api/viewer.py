"""GET /, the ECG viewer: a small static web app, served to anyone, that signs in with this API.

The page (chalicelib/web/viewer/index.html) loads its own script and stylesheet and uPlot,
vendored from npm (chalicelib/web/viewer/README.md), all from this origin and by relative link,
so it works under a stage prefix too. It calls the API same-origin (no CORS) with a bearer token
it keeps in sessionStorage, never in a cookie. No inline script or style: the page has the same
strict Content-Security-Policy as /docs."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.docs import CSS, JAVASCRIPT, web_page, web_response
from chalicelib.api.routing import route

viewer_routes = Blueprint(__name__)

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
    return web_page("viewer/index.html")


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
