"""/ecgs: a user's own ECGs.

The ECG modules (and with them NumPy) are imported inside the views, not at module import:
logins and user administration run in the same function and need not pay for NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalice.app import Blueprint, Response

from chalicelib.api.bodies import MAX_SAMPLE_INDEX, page_limit, query_integer
from chalicelib.api.pages import page, page_after
from chalicelib.api.responses import empty_response, json_response
from chalicelib.api.routing import Principal, route
from chalicelib.errors import BadRequest
from chalicelib.rules import EcgId

ecg_routes = Blueprint(__name__)
MAX_WINDOW_SAMPLES = 500_000


@route(ecg_routes, "/ecgs", "POST", idempotent=True)
def create_ecg(principal: Principal, request_key: str | None) -> Response:
    from chalicelib.api.ecg_body import parse_ecg
    from chalicelib.ecg import service

    request = ecg_routes.current_request
    created = service.create(
        principal.username, parse_ecg(request.raw_body, request.headers.get("content-type")), request_key
    )
    return json_response(created, 201, {"Location": f"/ecgs/{created.id}"})


@route(ecg_routes, "/ecgs/uploads", "POST", idempotent=True)
def announce_upload(principal: Principal, request_key: str | None) -> Response:
    from chalicelib.api.ecg_body import parse_upload
    from chalicelib.ecg import service

    request = ecg_routes.current_request
    ticket = service.announce(
        principal.username, parse_upload(request.raw_body, request.headers.get("content-type")), request_key
    )
    return json_response(ticket, 201, {"Location": f"/ecgs/{ticket.id}"})


@route(ecg_routes, "/ecgs", "GET")
def list_ecgs(principal: Principal) -> Response:
    from chalicelib.ecg import service

    query: Mapping[str, str] = ecg_routes.current_request.query_params or {}
    items, last = service.list_page(principal.username, page_limit(query), page_after(query, EcgId))
    return json_response(page(items, last))


@route(ecg_routes, "/ecgs/{id}", "GET")
def get_ecg(principal: Principal, id: str) -> Response:
    from chalicelib.ecg import service

    return json_response(service.read(principal.username, id))


@route(ecg_routes, "/ecgs/{id}/insights", "GET")
def get_ecg_insights(principal: Principal, id: str) -> Response:
    from chalicelib.ecg import service

    return json_response(service.read_insights(principal.username, id))


def _lead(query: Mapping[str, str]) -> str:
    lead = query.get("lead")
    if lead is None:
        raise BadRequest("the `lead` query parameter is required", "invalid_query")
    return lead


@route(ecg_routes, "/ecgs/{id}/signal", "GET")
def get_ecg_signal(principal: Principal, id: str) -> Response:
    from chalicelib.ecg import service

    query: Mapping[str, str] = ecg_routes.current_request.query_params or {}
    lead = _lead(query)
    start = query_integer(query, "start", 0, 0, MAX_SAMPLE_INDEX)
    count = query_integer(query, "count", MAX_WINDOW_SAMPLES, 1, MAX_WINDOW_SAMPLES)
    return json_response(service.read_window(principal.username, id, lead, start, count))


@route(ecg_routes, "/ecgs/{id}/beats", "GET")
def get_ecg_beats(principal: Principal, id: str) -> Response:
    from chalicelib.ecg import service

    query: Mapping[str, str] = ecg_routes.current_request.query_params or {}
    lead = _lead(query)
    start = query_integer(query, "start", 0, 0, MAX_SAMPLE_INDEX)
    end = query_integer(query, "end", MAX_SAMPLE_INDEX, 0, MAX_SAMPLE_INDEX) if "end" in query else None
    return json_response(service.read_beats(principal.username, id, lead, start, end))


@route(ecg_routes, "/ecgs/{id}", "DELETE")
def delete_ecg(principal: Principal, id: str) -> Response:
    from chalicelib.ecg import service

    service.delete(principal.username, id)
    return empty_response()
