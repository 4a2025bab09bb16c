"""openapi.yaml and the app describe the same routes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from app import app
from tests.contract import _resolve, spec


def test_document_is_valid_openapi_3_1():
    assert spec()["openapi"].startswith("3.1")
    validate(spec())


def test_every_app_route_is_documented_and_every_documented_route_exists():
    app_routes = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    documented = {
        (path, method)
        for path, item in spec()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    assert app_routes == documented


def test_public_routes_are_exactly_the_ones_documented_without_security():
    public = {
        (path, method.upper())
        for path, item in spec()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security") == []
    }
    assert public == {
        (path, method)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is None
    }


def test_served_json_is_the_yaml_source_rebuilt():
    from devtools.openapi import BUILT, load_source, render

    assert BUILT.read_text(encoding="utf-8") == render(load_source()), "run `make openapi`"


def _error_codes(schema: dict[str, Any]) -> set[str]:
    return set(_resolve(_resolve(schema)["properties"]["code"])["enum"])


def _documented_errors() -> dict[tuple[str, str, str], set[str]]:
    """(path, method, status) -> the error codes its response lists."""
    found = {}
    for path, item in spec()["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = _resolve(response)["content"]["application/json"]["schema"]
                    found[(path, method, status)] = _error_codes(schema)
    return found


def test_every_error_response_lists_its_codes_as_an_enum():
    errors = _documented_errors()
    assert errors
    for where, codes in errors.items():
        assert codes and all(code.islower() for code in codes), where


def test_every_secured_operation_names_its_security_and_the_document_has_no_default():
    assert "security" not in spec()
    for item in spec()["paths"].values():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                assert operation["security"] in ([], [{"bearer": []}, {"oauth2": []}])


def _raised_codes() -> set[str]:
    """Every `code` the app or the gateway emulation can put in an error body, read from the
    source: an explicit code argument, or else the error class's default."""
    import chalicelib.errors as errors

    classes = {
        name: kind
        for name, kind in vars(errors).items()
        if isinstance(kind, type) and issubclass(kind, errors.ServiceError)
    }
    code_position = {name: 2 if name == "TooManyRequests" else 1 for name in classes}
    code_position["GatewayAnswer"] = 2  # devtools/gateway.py: (status, message, code, headers)
    root = Path(__file__).resolve().parents[2]
    sources = [*sorted((root / "chalicelib").rglob("*.py")), root / "devtools" / "gateway.py"]
    codes: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in code_position
            ):
                explicit = [keyword.value for keyword in node.keywords if keyword.arg == "code"]
                position = code_position[node.func.id]
                if len(node.args) > position:
                    explicit.append(node.args[position])
                if explicit and isinstance(explicit[0], ast.Constant):
                    codes.add(explicit[0].value)
                elif not explicit and node.func.id in classes:
                    codes.add(classes[node.func.id].default_code)
            if isinstance(node, ast.Tuple) and len(node.elts) >= 3 and isinstance(node.elts[0], ast.Constant):
                status, _, code = node.elts[:3]
                if (
                    isinstance(status.value, int)
                    and 400 <= status.value < 600
                    and isinstance(code, ast.Constant)
                ):
                    codes.add(code.value)
    return codes


def test_every_error_code_the_code_can_answer_is_documented():
    """`internal_error` is a bug's answer and `not_found` the answer to a path that is no
    operation: neither belongs to an operation. `throttled` is API Gateway's stage throttle."""
    documented = set().union(*_documented_errors().values())
    raised = _raised_codes()
    assert {"invalid_body", "ecg_not_found", "login_throttled", "unauthorized"} <= raised
    assert raised - {"internal_error", "not_found"} <= documented
    assert documented - raised <= {"throttled"}
