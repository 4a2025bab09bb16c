"""Roles by routes, computed from the app's own routes so a new unmapped route fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import app
from chalicelib.auth.access import PUBLIC_ROUTES, ROUTE_ROLES
from chalicelib.auth.authorizer import policy_routes
from chalicelib.auth.tokens import Role
from tests.helpers import Api

APP_ROUTES = sorted((path, method) for path, methods in app.routes.items() for method in methods)
PROTECTED = [route for route in APP_ROUTES if route not in PUBLIC_ROUTES]


def test_every_app_route_is_public_or_has_roles():
    unmapped = [route for route in PROTECTED if route not in ROUTE_ROLES]
    assert unmapped == []


def test_every_role_table_entry_is_a_real_route():
    assert set(ROUTE_ROLES) <= set(APP_ROUTES)


def test_exactly_the_public_routes_of_the_access_table_have_no_authorizer():
    public = [route for route in APP_ROUTES if app.routes[route[0]][route[1]].authorizer is None]
    assert sorted(public) == sorted(PUBLIC_ROUTES)


def _concrete(path: str) -> str:
    return path.replace("{username}", "someone").replace("{id}", "some-ecg")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("path", "method"), PROTECTED)
def test_role_may_call_exactly_its_routes(api: Api, role: Role, path: str, method: str):
    token = api.admin_token if role is Role.ADMIN else api.user_token("matrix-user")
    reply = api.call(method, _concrete(path), token, body={} if method in ("POST", "PUT") else None)
    if role in ROUTE_ROLES[(path, method)]:
        assert reply.status not in (401, 403), reply.json
    else:
        assert reply.status == 403
        assert "message" in reply.json


@pytest.mark.parametrize(("path", "method"), PROTECTED)
def test_every_protected_route_needs_a_token(api: Api, path: str, method: str):
    assert api.call(method, _concrete(path)).status == 401


@pytest.mark.parametrize("role", list(Role))
def test_policy_lists_every_route_of_the_role(role: Role):
    allowed = {(route.path, tuple(route.methods)) for route in policy_routes(role)}
    expected = {
        (path.replace("{username}", "*").replace("{id}", "*"), (method,))
        for (path, method), roles in ROUTE_ROLES.items()
        if role in roles
    }
    assert allowed == expected


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": "."},
    )
    return set(result.stdout.split())


def test_authorizer_import_path_does_not_load_numpy():
    assert "numpy" not in _modules_loaded_by("import chalicelib.auth.authorizer")


def test_app_import_does_not_load_numpy():
    assert "numpy" not in _modules_loaded_by("import app")


def test_unknown_path_is_not_found(api: Api):
    assert api.call("GET", "/nothing-here", api.admin_token).status == 404


def test_unsupported_method_is_405_with_json_message(api: Api):
    reply = api.call("PATCH", "/users", api.admin_token)
    assert reply.status == 405
    assert "message" in reply.json


def test_openapi_document_is_public(api: Api):
    reply = api.call("GET", "/openapi.json")
    assert reply.status == 200
    assert reply.json["openapi"].startswith("3.1")
