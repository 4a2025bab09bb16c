"""GET /docs over real HTTP from the local stack: the page and every file it loads, as a
browser would fetch them (no browser here: tests/api/test_docs.py checks the page itself)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from chalicelib.api.docs import CONTENT_SECURITY_POLICY
from chalicelib.api.responses import SECURITY_HEADERS
from tests.e2e.conftest import ADMIN, Stack
from tests.helpers import Reply

CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def get(stack: Stack, path: str) -> Reply:
    reply = stack.send("GET", path, {"Accept": "text/html,*/*"}, None)
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name.lower()) == value, f"GET {path} {reply.status} lacks {name}"
    return reply


def test_docs_page_and_every_file_it_names_load(stack: Stack):
    page = get(stack, "/docs")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    html = page.raw.decode("utf-8")
    assert '<html lang="en">' in html and "<title>" in html
    links = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
    files = [link for link in links if not link.startswith("data:")]
    assert len(files) == 3, files
    page_url = stack.base_url + "/docs"
    for link in files:
        url = urljoin(page_url, link)
        assert url.startswith(stack.base_url + "/docs/"), link
        path = urlsplit(url).path
        reply = get(stack, path)
        assert reply.status == 200, path
        assert reply.headers["content-type"] == CONTENT_TYPES[path[path.rindex(".") :]], path
        assert int(reply.headers["content-length"]) == len(reply.raw) > 0, path
        assert "content-security-policy" not in reply.headers or path == "/docs", path


def test_swagger_ui_bundle_arrives_whole(stack: Stack):
    reply = get(stack, "/docs/swagger-ui-bundle.js")
    assert reply.status == 200 and len(reply.raw) > 1_000_000
    assert b"SwaggerUIBundle" in reply.raw


def test_the_document_the_page_asks_for_is_there(stack: Stack):
    """init.js asks for ../openapi.json relative to itself (/docs/init.js)."""
    document = urlsplit(urljoin(stack.base_url + "/docs/init.js", "../openapi.json")).path
    reply = stack.call("GET", document)
    assert reply.status == 200 and reply.json["paths"]["/docs"]["get"]["security"] == []


def test_unknown_docs_file_is_404_and_a_trailing_slash_leads_to_the_page(stack: Stack):
    missing = get(stack, "/docs/swagger-ui.js")
    assert missing.status == 404 and missing.json["code"] == "not_found"
    slash = get(stack, "/docs/")  # urllib follows the 308, as a browser does
    assert slash.status == 200 and slash.raw == get(stack, "/docs").raw


def test_authorize_dialog_login_then_try_it_out(stack: Stack):
    """The form Swagger UI's password flow posts to the tokenUrl, then a call with the token."""
    form = f"grant_type=password&username={ADMIN[0]}&password={ADMIN[1]}&scope="
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json, text/plain, */*",
        "Authorization": "Basic Og==",
    }
    token = stack.send("POST", "/auth/token", headers, form.encode())
    assert token.status == 200, token.raw
    me = stack.call("GET", "/users/me", token.json["access_token"])
    assert me.status == 200 and me.json["username"] == ADMIN[0]
