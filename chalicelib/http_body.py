"""Request body rules shared by every JSON route: size first, then media type, then JSON."""

from __future__ import annotations

from typing import Any

import msgspec

from chalicelib.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 6_000_000


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    """application/json or a +json type; a body sent without a Content-Type is tried as JSON."""
    kind = media_type(content_type)
    return kind in ("", "application/json") or (kind.startswith("application/") and kind.endswith("+json"))


def check_size(raw_body: bytes) -> None:
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {len(raw_body)} bytes; the limit is {MAX_BODY_BYTES}")


def decode_json[T](raw_body: bytes, content_type: str | None, schema: type[T]) -> T:
    """Decode and validate in one pass; messages name the offending field (`$.leads[0].signal[3]`)."""
    check_size(raw_body)
    if not is_json(content_type):
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
    if not raw_body:
        raise BadRequest("the request body is empty; JSON is required")
    try:
        return msgspec.json.decode(raw_body, type=schema)
    except msgspec.ValidationError as error:
        raise BadRequest(f"invalid body: {error}") from None
    except msgspec.DecodeError as error:
        raise BadRequest(f"malformed JSON: {error}") from None


def encode_json(value: Any) -> str:
    return msgspec.json.encode(value).decode("utf-8")
