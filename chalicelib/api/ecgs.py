"""/ecgs: a user's own ECGs.

The ECG service (and with it NumPy) is imported on first use, not at module import: the app
module is also what API Gateway's other functions load, and cold starts are paid per function.
"""

from __future__ import annotations

from types import ModuleType

from chalice import Blueprint, Response

from chalicelib.api.routing import Principal, empty_response, json_response, page, page_params, route
from chalicelib.ecg.ids import is_valid_ecg_id

ecg_routes = Blueprint(__name__)


def _service() -> ModuleType:
    from chalicelib.ecg import service

    return service


@route(ecg_routes, "/ecgs", "POST")
def create_ecg(principal: Principal) -> Response:
    request = ecg_routes.current_request
    created = _service().create(principal.username, request.raw_body, request.headers.get("content-type"))
    return json_response(created, 201, {"Location": f"/ecgs/{created['id']}"})


@route(ecg_routes, "/ecgs", "GET")
def list_ecgs(principal: Principal) -> Response:
    limit, after = page_params(ecg_routes.current_request, is_valid_ecg_id)
    items, last = _service().list_page(principal.username, limit, after)
    return json_response(page(items, last))


@route(ecg_routes, "/ecgs/{id}", "GET")
def get_ecg(principal: Principal, id: str) -> Response:
    return json_response(_service().read(principal.username, id))


@route(ecg_routes, "/ecgs/{id}/insights", "GET")
def get_ecg_insights(principal: Principal, id: str) -> Response:
    return json_response(_service().read_insights(principal.username, id))


@route(ecg_routes, "/ecgs/{id}", "DELETE")
def delete_ecg(principal: Principal, id: str) -> Response:
    _service().delete(principal.username, id)
    return empty_response()
