"""/users: the admin's registry of accounts, and /users/me for anyone signed in."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from chalice.app import Blueprint, Response

from chalicelib import accounts
from chalicelib.api.bodies import decode_json, page_limit
from chalicelib.api.pages import page, page_after
from chalicelib.api.responses import empty_response, json_response
from chalicelib.api.routing import Principal, route
from chalicelib.rules import Username

user_routes = Blueprint(__name__)


@route(user_routes, "/users/me", "GET")
def get_me(principal: Principal) -> Response:
    return json_response(accounts.get_user(principal.username))


@route(user_routes, "/users/me/password", "PUT")
def change_my_password(principal: Principal) -> Response:
    request = user_routes.current_request
    change = decode_json(request.raw_body, request.headers.get("content-type"), accounts.PasswordChange)
    accounts.change_password(principal.username, change)
    return empty_response()


@route(user_routes, "/users", "POST", idempotent=True)
def create_user(principal: Principal, request_key: str | None) -> Response:
    request = user_routes.current_request
    new_user = decode_json(request.raw_body, request.headers.get("content-type"), accounts.NewUser)
    user = accounts.register(new_user, request_key)
    return json_response(user, 201, {"Location": f"/users/{quote(user.username, safe='@')}"})


@route(user_routes, "/users", "GET")
def list_users(principal: Principal) -> Response:
    query: Mapping[str, str] = user_routes.current_request.query_params or {}
    items, last = accounts.list_page(page_limit(query), page_after(query, Username))
    return json_response(page(items, last))


@route(user_routes, "/users/{username}", "GET")
def get_user(principal: Principal, username: str) -> Response:
    return json_response(accounts.get_user(username))


@route(user_routes, "/users/{username}", "DELETE")
def delete_user(principal: Principal, username: str) -> Response:
    accounts.delete_account(principal.username, username)
    return empty_response()
