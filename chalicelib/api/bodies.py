"""Request decoding at the edge: size, media type, UTF-8, JSON or form, then the typed value.

Use cases never see bytes: each route decodes its body here into a msgspec Struct whose field
types carry the rules (chalicelib.rules), and validation messages name the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import msgspec

from chalicelib.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from chalicelib.rules import readable

MAX_BODY_BYTES = 6_000_000
FORM = "application/x-www-form-urlencoded"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """application/json or a +json type; a body sent without a Content-Type is tried as JSON."""
    kind = media_type(content_type)
    return kind in ("", "application/json") or (kind.startswith("application/") and kind.endswith("+json"))


def as_bytes(raw_body: str | bytes) -> bytes:
    return raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body


def check_size(raw_body: bytes, limit: int = MAX_BODY_BYTES) -> None:
    if len(raw_body) > limit:
        raise PayloadTooLarge(f"request body is {len(raw_body)} bytes; the limit is {limit}")


def _check_utf8(raw_body: bytes) -> None:
    if raw_body.isascii():
        return
    try:
        raw_body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the body is not valid UTF-8 (byte {error.start})", "malformed_body") from None


def decode_json[T](
    raw_body: str | bytes, content_type: str | None, schema: type[T], limit: int = MAX_BODY_BYTES
) -> T:
    """Decode and validate in one pass; messages name the offending field (`$.leads[0].signal[3]`).

    The schema bounds nesting: a value deeper than its type allows fails where it starts."""
    body = as_bytes(raw_body)
    check_size(body, limit)
    if not is_json(content_type):
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
    if not body:
        raise BadRequest("the request body is empty; JSON is required", "malformed_body")
    _check_utf8(body)
    try:
        return msgspec.json.decode(body, type=schema)
    except msgspec.ValidationError as error:
        raise BadRequest(f"invalid body: {readable(str(error))}", "invalid_body") from None
    except msgspec.DecodeError as error:
        raise BadRequest(f"malformed JSON: {error}", "malformed_body") from None


def decode_form[T](raw_body: str | bytes, schema: type[T], limit: int, max_fields: int) -> T:
    """An application/x-www-form-urlencoded body into `schema` (the last value of a repeated name)."""
    body = as_bytes(raw_body)
    check_size(body, limit)
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=max_fields,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed form body", "malformed_body") from None
    try:
        return msgspec.convert({name: values[-1] for name, values in fields.items()}, schema)
    except msgspec.ValidationError as error:
        raise BadRequest(f"invalid form: {readable(str(error))}", "invalid_body") from None


def encode_json(value: Any) -> str:
    return msgspec.json.encode(value).decode("utf-8")


DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100
MAX_SAMPLE_INDEX = 2**40  # far beyond any recording; bounds the digits a query may carry


def query_integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in ASCII digits only (str.isdigit also admits ² and other
    scripts' digits, which int() then reads or rejects)."""
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high):
        raise BadRequest(f"{name} must be an integer from {low} to {high}", "invalid_query")
    return int(raw)


def page_limit(query: Mapping[str, str]) -> int:
    return query_integer(query, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
