"""Pages as DynamoDB gives them: fetch one item more than asked to know whether another follows."""

from __future__ import annotations

from collections.abc import Callable


def split_page[T](items: list[T], limit: int, key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """`items` was fetched with limit + 1: an extra item means another page exists."""
    if len(items) > limit:
        return items[:limit], key(items[limit - 1])
    return items, None
