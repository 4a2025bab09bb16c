"""/users: the admin's registry of accounts, and /users/me for anyone signed in."""

from __future__ import annotations

from urllib.parse import quote

from chalice import Blueprint, Response

from chalicelib import accounts
from chalicelib.api.routing import Principal, empty_response, json_response, page, page_params, route

user_routes = Blueprint(__name__)


@route(user_routes, "/users/me", "GET")
def get_me(principal: Principal) -> Response:
    return json_response(accounts.user_view(accounts.get_existing_user(principal.username)))


@route(user_routes, "/users/me/password", "PUT")
def change_my_password(principal: Principal) -> Response:
    request = user_routes.current_request
    accounts.change_password(principal.username, request.raw_body, request.headers.get("content-type"))
    return empty_response()


@route(user_routes, "/users", "POST")
def create_user(principal: Principal) -> Response:
    request = user_routes.current_request
    user = accounts.register_from_body(request.raw_body, request.headers.get("content-type"))
    return json_response(
        accounts.user_view(user), 201, {"Location": f"/users/{quote(user.username, safe='@')}"}
    )


@route(user_routes, "/users", "GET")
def list_users(principal: Principal) -> Response:
    limit, after = page_params(user_routes.current_request, accounts.is_valid_username)
    items, last = accounts.list_page(limit, after)
    return json_response(page([accounts.user_view(user) for user in items], last))


@route(user_routes, "/users/{username}", "GET")
def get_user(principal: Principal, username: str) -> Response:
    return json_response(accounts.user_view(accounts.get_existing_user(username)))


@route(user_routes, "/users/{username}", "DELETE")
def delete_user(principal: Principal, username: str) -> Response:
    accounts.delete_account(principal.username, username)
    return empty_response()
