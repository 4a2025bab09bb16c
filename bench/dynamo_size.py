"""Item sizes as DynamoDB bills them: attribute names plus values (UTF-8 strings, binary
lengths, numbers at about one byte per two digits plus one, 3 bytes per list or map plus
one byte per element)."""

from __future__ import annotations

from typing import Any


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = len(data.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items())
    raise ValueError(f"unsupported attribute type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())
