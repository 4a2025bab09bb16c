"""Pages of a list: `limit` and the opaque `next_token` (base64url JSON of the last key)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib.errors import BadRequest
from chalicelib.rules import is_valid

_INVALID = "next_token is not valid; pass the value from the previous page unchanged"


class Page[T](msgspec.Struct):
    items: list[T]
    next_token: str | None


def encode_page_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode({"k": last_key})).decode("ascii").rstrip("=")


def decode_page_token(token: str, key_rule: Any) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = msgspec.json.decode(base64.urlsafe_b64decode(padded.encode("ascii")), type=dict[str, str])
    except (binascii.Error, UnicodeEncodeError, ValueError, msgspec.DecodeError):
        raise BadRequest(_INVALID, "invalid_query") from None
    if set(decoded) != {"k"} or not is_valid(decoded["k"], key_rule):
        raise BadRequest(_INVALID, "invalid_query")
    return decoded["k"]


def page_after(query: Mapping[str, str], key_rule: Any) -> str | None:
    token = query.get("next_token")
    return None if token is None else decode_page_token(token, key_rule)


def page[T](items: list[T], last_key: str | None) -> Page[T]:
    return Page(items, encode_page_token(last_key) if last_key else None)
