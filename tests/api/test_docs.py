"""GET /docs: Swagger UI over /openapi.json, served by the API with no CDN and a strict CSP.

The contract check of tests.helpers reads JSON bodies only, so these tests send requests
themselves and check the non-JSON answers against openapi.yaml here."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from chalicelib.api.docs import CONTENT_SECURITY_POLICY, WEB
from tests.api.web_pages import (
    ASSET_TYPES,
    REQUIRED_CSP,
    assert_links_stay_under,
    assert_no_inline_script_or_style,
    csp_directives,
    documented_media_type,
    get,
    html_page,
    parse,
)
from tests.contract import spec
from tests.helpers import Api, Reply

# A Lambda proxy response is at most 6 MB, its body JSON-escaped inside it.
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


@pytest.fixture
def docs(api: Api) -> Reply:
    reply = get(api, "/docs")
    assert reply.status == 200, reply.raw
    return reply


def test_docs_page_is_html_anyone_may_read(docs: Reply):
    assert ("main", {"id": "swagger-ui"}) in html_page(docs, "/docs").tags


def test_docs_page_has_the_strict_content_security_policy(docs: Reply):
    header = docs.headers["content-security-policy"]
    assert header == CONTENT_SECURITY_POLICY
    assert csp_directives(header) == REQUIRED_CSP
    assert "unsafe" not in header


def test_docs_page_has_no_inline_script_or_style(docs: Reply):
    assert_no_inline_script_or_style(docs.raw)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_docs_page_loads_only_same_origin_files_relative_to_itself(docs: Reply, prefix: str):
    assert_links_stay_under(docs.raw, f"https://example.test{prefix}/docs", f"{prefix}/docs/")


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
