"""GET /docs: Swagger UI over /openapi.json, served by the API with no CDN and a strict CSP.

The contract check of tests.helpers reads JSON bodies only, so these tests send requests
themselves and check the non-JSON answers against openapi.yaml here."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from chalicelib.api.docs import CONTENT_SECURITY_POLICY, WEB
from chalicelib.api.responses import SECURITY_HEADERS
from tests.contract import spec
from tests.helpers import Api, Reply

REQUIRED_CSP = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css"}
# A Lambda proxy response is at most 6 MB, its body JSON-escaped inside it.
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


class Page(HTMLParser):
    """What the checks need from the page: its tags, attributes and script contents."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self.script_text = ""
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "title":
            self.title += data
        if self._open and self._open[-1] == "script":
            self.script_text += data

    def links(self) -> list[str]:
        return [
            value
            for tag, attrs in self.tags
            for name, value in attrs.items()
            if name in {"src", "href"} and value is not None and tag != "a"
        ]


def get(api: Api, path: str, headers: dict[str, str] | None = None) -> Reply:
    """A GET without a token; every answer carries the headers every answer carries."""
    reply = api.send("GET", path, headers or {}, None)
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name.lower()) == value, f"GET {path} {reply.status} lacks {name}"
    return reply


def documented_media_type(path: str, status: int = 200) -> str:
    (media_type,) = spec()["paths"][path]["get"]["responses"][str(status)]["content"]
    return str(media_type)


def parse(html: bytes) -> Page:
    page = Page()
    page.feed(html.decode("utf-8"))
    page.close()
    return page


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = [directive.split() for directive in header.split(";") if directive.strip()]
    return {name: sources for name, *sources in directives}


@pytest.fixture
def docs(api: Api) -> Reply:
    reply = get(api, "/docs")
    assert reply.status == 200, reply.raw
    return reply


def test_docs_page_is_html_anyone_may_read(docs: Reply):
    assert docs.headers["content-type"] == "text/html; charset=utf-8"
    assert docs.headers["content-type"].startswith(documented_media_type("/docs"))
    page = parse(docs.raw)
    html = [attrs for tag, attrs in page.tags if tag == "html"]
    assert html == [{"lang": "en"}]
    assert "ECG Insights" in page.title
    assert ("main", {"id": "swagger-ui"}) in page.tags


def test_docs_page_has_the_strict_content_security_policy(docs: Reply):
    header = docs.headers["content-security-policy"]
    assert header == CONTENT_SECURITY_POLICY
    assert csp_directives(header) == REQUIRED_CSP
    assert "unsafe" not in header


def test_docs_page_has_no_inline_script_or_style(docs: Reply):
    page = parse(docs.raw)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    assert page.script_text.strip() == ""
    assert not any(tag == "style" for tag, _ in page.tags)
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
    assert "javascript:" not in docs.raw.decode()


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_docs_page_loads_only_same_origin_files_relative_to_itself(docs: Reply, prefix: str):
    """Relative links: under a stage prefix (/api on AWS) they stay inside the stage."""
    page = parse(docs.raw)
    page_url = f"https://example.test{prefix}/docs"
    for link in page.links():
        if link.startswith("data:"):
            continue
        assert not urlsplit(link).scheme and not link.startswith("/"), link
        assert urlsplit(urljoin(page_url, link)).path.startswith(f"{prefix}/docs/"), link


def test_every_file_the_page_loads_is_served_with_its_content_type(api: Api, docs: Reply):
    files = [link for link in parse(docs.raw).links() if not link.startswith("data:")]
    assert sorted(files) == ["docs/init.js", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]
    for link in files:
        path = urlsplit(urljoin("https://example.test/docs", link)).path
        reply = get(api, path)
        assert reply.status == 200, path
        expected = ASSET_TYPES[Path(path).suffix]
        assert reply.headers["content-type"] == f"{expected}; charset=utf-8", path
        assert expected == documented_media_type(path)
        assert reply.raw and b"\x00" not in reply.raw, path


def test_files_are_served_as_they_are_in_the_package(api: Api):
    served = {
        "/docs": "docs.html",
        "/docs/init.js": "init.js",
        "/docs/swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
        "/docs/swagger-ui.css": "swagger-ui/swagger-ui.css",
    }
    for path, name in served.items():
        assert get(api, path).raw == (WEB / name).read_bytes(), path


def test_docs_routes_are_public_and_documented_as_meta():
    for path in ("/docs", "/docs/init.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"):
        operation = spec()["paths"][path]["get"]
        assert operation["security"] == [] and operation["tags"] == ["meta"], path


def test_a_token_is_neither_needed_nor_in_the_way(api: Api):
    for token in ("not-a-token", api.admin_token):
        reply = get(api, "/docs/init.js", {"Authorization": f"Bearer {token}"})
        assert reply.status == 200


@pytest.mark.parametrize(
    "path", ["/docs/unknown.js", "/docs/swagger-ui.css.map", "/docs/../app.py", "/docs/index.html"]
)
def test_an_unknown_docs_file_is_404(api: Api, path: str):
    reply = get(api, path)
    assert reply.status == 404
    assert reply.json["code"] == "not_found"


def test_docs_with_a_trailing_slash_redirects_to_the_page(api: Api):
    """Relative to /docs/, the page's links would name /docs/docs/...; relative to a stage
    (/api/docs/), `../docs` is /api/docs."""
    reply = get(api, "/docs/")
    assert reply.status == 308 and reply.raw == b""
    assert reply.headers["location"] == "../docs"
    assert urljoin("https://example.test/api/docs/", reply.headers["location"]).endswith("/api/docs")


def test_init_script_finds_the_document_and_calls_nothing_elsewhere(api: Api):
    """It derives the API's base from its own URL, so it works under a stage prefix; it keeps
    tokens in memory and does not send the document to validator.swagger.io."""
    script = get(api, "/docs/init.js").raw.decode()
    assert "document.currentScript.src" in script and '"/openapi.json"' not in script
    assert "persistAuthorization: false" in script and "validatorUrl: null" in script
    assert "http://" not in script and "https://" not in script.replace("https://<host>", "")
    assert "localStorage." not in script


def test_the_largest_file_fits_in_a_lambda_response(api: Api):
    body = get(api, "/docs/swagger-ui-bundle.js").raw.decode()
    assert len(json.dumps({"statusCode": 200, "body": body}).encode()) < LAMBDA_RESPONSE_LIMIT / 2


def test_vendored_swagger_ui_matches_its_manifest():
    from devtools.swagger_ui import SWAGGER_UI
    from devtools.vendoring import check, read_manifest

    assert check(SWAGGER_UI) == []
    manifest = read_manifest(SWAGGER_UI)
    assert manifest["package"] == "swagger-ui-dist"
    assert set(manifest["files"]) == set(SWAGGER_UI.files.values())
    assert SWAGGER_UI.manifest.parent == WEB / "swagger-ui"
    assert f"swagger-ui-dist@{manifest['version']}" in (WEB / "README.md").read_text(encoding="utf-8")
    assert "Apache License" in (WEB / "swagger-ui" / "LICENSE").read_text(encoding="utf-8")


def test_the_password_flow_of_the_authorize_dialog_signs_in(api: Api):
    """Swagger UI's "Authorize" (oauth2 password flow) posts this form, with its own headers
    (client id and secret empty, as Basic credentials), to the tokenUrl the document names;
    "Try it out" then sends the token as a bearer token."""
    password_flow = spec()["components"]["securitySchemes"]["oauth2"]["flows"]["password"]
    assert password_flow["tokenUrl"] == "/auth/token"
    user, password = api.admin_credentials
    form = f"grant_type=password&username={user}&password={password}&scope="
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json, text/plain, */*",
        "X-Requested-With": "XMLHttpRequest",
        "Authorization": "Basic Og==",
    }
    reply = api.send("POST", password_flow["tokenUrl"], headers, form.encode())
    assert reply.status == 200, reply.raw
    assert reply.json["token_type"] == "bearer"
    me = api.call("GET", "/users/me", reply.json["access_token"])
    assert me.status == 200 and me.json["username"] == user
