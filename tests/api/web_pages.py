"""What the tests of the two web pages (/docs and the viewer at /) share: reading a page,
fetching without a token, and the checks every page must pass."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

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


def html_page(reply: Reply, path: str) -> Page:
    """The checks every page passes (HTML as documented, in English, titled), and the page."""
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-type"].startswith(documented_media_type(path))
    page = parse(reply.raw)
    assert [attrs for tag, attrs in page.tags if tag == "html"] == [{"lang": "en"}]
    assert "ECG Insights" in page.title
    return page


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = [directive.split() for directive in header.split(";") if directive.strip()]
    return {name: sources for name, *sources in directives}


def assert_no_inline_script_or_style(raw: bytes) -> None:
    page = parse(raw)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    assert scripts and all(attrs.get("src") for attrs in scripts)
    assert page.script_text.strip() == ""
    assert not any(tag == "style" for tag, _ in page.tags)
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
    assert "javascript:" not in raw.decode()


def assert_links_stay_under(raw: bytes, page_url: str, folder: str) -> None:
    """Relative links only: under a stage prefix (/api on AWS) they stay inside the stage."""
    for link in parse(raw).links():
        if link.startswith("data:"):
            continue
        assert not urlsplit(link).scheme and not link.startswith("/"), link
        assert urlsplit(urljoin(page_url, link)).path.startswith(folder), link
