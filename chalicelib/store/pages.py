"""Opaque pagination tokens: a base64url JSON of the last key, validated on the way back in."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import msgspec

from chalicelib.errors import BadRequest

_INVALID = "next_token is not valid; pass the value from the previous page unchanged"


def encode_page_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode({"k": last_key})).decode("ascii").rstrip("=")


def decode_page_token(token: str, is_valid_key: Callable[[str], bool]) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = msgspec.json.decode(base64.urlsafe_b64decode(padded.encode("ascii")), type=dict[str, str])
    except (binascii.Error, UnicodeEncodeError, ValueError, msgspec.DecodeError):
        raise BadRequest(_INVALID) from None
    if set(decoded) != {"k"} or not is_valid_key(decoded["k"]):
        raise BadRequest(_INVALID)
    return decoded["k"]


def split_page[T](items: list[T], limit: int, key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """`items` was fetched with limit + 1: an extra item means another page exists."""
    if len(items) > limit:
        return items[:limit], key(items[limit - 1])
    return items, None
