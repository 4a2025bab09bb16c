"""Every response the API tests see is checked against openapi.yaml: the status must be
documented for the operation, a JSON body must match the documented schema (an error's `code`
included: each response lists its codes as an enum), and documented headers must be present
when required and match their schema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from chalice.local import RouteMatcher
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@cache
def _matcher() -> RouteMatcher:
    return RouteMatcher(list(spec()["paths"]))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def documented_operation(method: str, path: str) -> dict[str, Any] | None:
    try:
        template = _matcher().match_route(path).route
    except ValueError:
        return None
    return spec()["paths"][template].get(method.lower())


def check_response(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> None:
    operation = documented_operation(method, path)
    if operation is None:
        return
    responses = operation["responses"]
    assert str(status) in responses, (
        f"{method} {path} answered {status}, which openapi.yaml does not document"
    )
    response = _resolve(responses[str(status)])
    content = response.get("content")
    if not content:
        assert not body, f"{method} {path} {status} is documented without a body"
        check_headers(method, path, status, response, headers)
        return
    assert headers.get("content-type", "").startswith("application/json")
    schema = {"components": spec()["components"], **content["application/json"]["schema"]}
    Draft202012Validator(schema).validate(json.loads(body))
    check_headers(method, path, status, response, headers)


def check_headers(
    method: str, path: str, status: int, response: dict[str, Any], headers: dict[str, str]
) -> None:
    """Required headers are present; a documented header's value matches its schema."""
    for name, header in response.get("headers", {}).items():
        header = _resolve(header)
        value = headers.get(name.lower())
        if value is None:
            assert not header.get("required"), f"{method} {path} {status} lacks the required {name} header"
            continue
        schema = header.get("schema", {})
        typed: Any = int(value) if schema.get("type") == "integer" and value.isdigit() else value
        Draft202012Validator(schema).validate(typed)
