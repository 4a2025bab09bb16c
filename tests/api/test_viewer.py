"""GET /, the ECG viewer: a static page and its files, served to anyone, with the strict CSP of
/docs (which also lets it send large files where POST /ecgs/uploads says), no inline script or
style, same-origin relative links and a vendored, pinned uPlot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from chalicelib.api.docs import CONTENT_SECURITY_POLICY, WEB
from chalicelib.api.viewer import ASSETS, content_security_policy
from chalicelib.auth.access import PUBLIC_ROUTES
from chalicelib.settings import get_settings
from chalicelib.store.signals import upload_origins
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

VIEWER = WEB / "viewer"


@pytest.fixture
def viewer(api: Api) -> Reply:
    reply = get(api, "/")
    assert reply.status == 200, reply.raw
    return reply


def test_the_viewer_is_an_html_page_anyone_may_read(viewer: Reply):
    page = html_page(viewer, "/")
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in page.tags


@pytest.fixture
def local_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The settings of `make run`: S3 on a loopback port (read afresh, and again after)."""
    endpoint = "http://127.0.0.1:45678"
    monkeypatch.setenv("ECG_S3_ENDPOINT", endpoint)
    get_settings.cache_clear()
    yield endpoint
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_viewer_has_the_strict_content_security_policy_plus_the_upload_origins(viewer: Reply):
    directives = csp_directives(viewer.headers["content-security-policy"])
    assert directives == {**REQUIRED_CSP, "connect-src": ["'self'", *upload_origins()]}
    assert upload_origins() == [
        "https://ecg-insights-test-signals.s3.amazonaws.com",
        "https://ecg-insights-test-signals.s3.us-east-1.amazonaws.com",
    ]


def test_the_viewer_may_send_files_where_the_upload_urls_point(api: Api, viewer: Reply):
    """The browser PUTs a large file to the presigned URL: the page's connect-src must allow it."""
    token = api.user_token("csp-uploader")
    ticket = api.call(
        "POST", "/ecgs/uploads", token, {"date": "2026-11-27T10:00:00Z", "format": "edf", "size_bytes": 1000}
    )
    assert ticket.status == 201, ticket.raw
    target = urlsplit(ticket.json["upload"]["url"])
    allowed = csp_directives(viewer.headers["content-security-policy"])["connect-src"]
    assert f"{target.scheme}://{target.netloc}" in allowed


def test_under_make_run_the_viewer_may_connect_to_the_local_s3(api: Api, local_s3: str):
    directives = csp_directives(get(api, "/").headers["content-security-policy"])
    assert directives == {**REQUIRED_CSP, "connect-src": ["'self'", local_s3]}


def test_the_policy_takes_only_origins_that_cannot_break_it():
    policy = content_security_policy(
        ["http://127.0.0.1:4566", "https://x.test; script-src *", "javascript:alert(1)", "https://a b"]
    )
    assert csp_directives(policy) == {**REQUIRED_CSP, "connect-src": ["'self'", "http://127.0.0.1:4566"]}
    assert content_security_policy([]) == CONTENT_SECURITY_POLICY


def test_the_viewer_has_no_inline_script_or_style(viewer: Reply):
    assert_no_inline_script_or_style(viewer.raw)


def test_every_form_control_has_a_label(viewer: Reply):
    page = parse(viewer.raw)
    labelled = {attrs.get("for") for tag, attrs in page.tags if tag == "label"}
    controls = [attrs for tag, attrs in page.tags if tag in {"input", "select", "textarea"}]
    assert controls
    for attrs in controls:
        assert attrs.get("id") in labelled or attrs.get("aria-label"), attrs


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_the_viewer_loads_only_same_origin_files_relative_to_itself(viewer: Reply, prefix: str):
    assert_links_stay_under(viewer.raw, f"https://example.test{prefix}/", f"{prefix}/viewer/")


def test_every_file_the_viewer_loads_is_served_as_it_is_in_the_package(api: Api, viewer: Reply):
    links = [link for link in parse(viewer.raw).links() if not link.startswith("data:")]
    paths = {urlsplit(urljoin("https://example.test/", link)).path for link in links}
    assert paths == set(ASSETS)
    for path, (name, content_type) in ASSETS.items():
        reply = get(api, path)
        assert reply.status == 200, path
        expected = ASSET_TYPES[Path(path).suffix]
        assert reply.headers["content-type"] == content_type == f"{expected}; charset=utf-8", path
        assert expected == documented_media_type(path)
        assert reply.raw == (WEB / name).read_bytes(), path


def test_viewer_routes_are_public_and_documented_as_meta():
    for path in ("/", *ASSETS):
        assert (path, "GET") in PUBLIC_ROUTES
        operation = spec()["paths"][path]["get"]
        assert operation["security"] == [] and operation["tags"] == ["meta"], path


def test_a_token_is_neither_needed_nor_in_the_way(api: Api):
    for token in ("not-a-token", api.admin_token):
        assert get(api, "/", {"Authorization": f"Bearer {token}"}).status == 200
        assert get(api, "/viewer/app.js", {"Authorization": f"Bearer {token}"}).status == 200


@pytest.mark.parametrize(
    "path", ["/viewer/unknown.js", "/viewer/index.html", "/viewer/vendor/LICENSE", "/viewer/../app.py"]
)
def test_an_unknown_viewer_file_is_404(api: Api, path: str):
    reply = get(api, path)
    assert reply.status == 404
    assert reply.json["code"] == "not_found"


def test_the_script_calls_only_its_own_api_and_keeps_the_token_out_of_cookies(api: Api):
    script = get(api, "/viewer/app.js").raw.decode()
    assert "document.currentScript.src" in script
    assert "http://" not in script and "https://" not in script
    assert "document.cookie" not in script and "localStorage" not in script
    assert "sessionStorage" in script and "innerHTML" not in script
    assert "XMLHttpRequest" in script and "upload" in script
    assert "ecgs/uploads" in script and "upload.method" in script and "upload.headers" in script


def test_the_viewer_never_asks_for_a_whole_recording(api: Api):
    """Leads are read by window (/signal, /beats); GET /ecgs/{id} of a ready ECG would carry
    every sample, so the one read of a whole ECG is of a failed one, for its error."""
    script = get(api, "/viewer/app.js").raw.decode()
    assert "/signal?lead=" in script and "/beats?lead=" in script
    whole = [match.start() for match in re.finditer(r'api\("GET", `ecgs/\$\{[^}]*\}`\)', script)]
    assert len(whole) == 1, "GET /ecgs/{id} is read in one place only"
    failure_of = script.index("async function failureOf(id) {")
    assert failure_of < whole[0] < script.index("\n  }\n", failure_of), "and only in failureOf"
    assert 'if (status === "failed") error = await failureOf(id);' in script


def test_vendored_uplot_matches_its_manifest():
    from devtools.uplot import UPLOT
    from devtools.vendoring import check, read_manifest

    assert check(UPLOT) == []
    manifest = read_manifest(UPLOT)
    assert manifest["package"] == "uplot"
    assert set(manifest["files"]) == set(UPLOT.files.values()) and UPLOT.manifest.parent == VIEWER / "vendor"
    assert f"uplot@{manifest['version']}" in (VIEWER / "README.md").read_text(encoding="utf-8")
    assert "MIT License" in (VIEWER / "vendor" / "LICENSE").read_text(encoding="utf-8")
