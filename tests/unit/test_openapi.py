"""openapi.yaml and the app describe the same routes."""

from __future__ import annotations

from openapi_spec_validator import validate

from app import app
from tests.contract import spec


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
