"""ECG Insights: the Chalice app. Wiring only; nothing runs at import."""

from __future__ import annotations

import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.api.auth import auth_routes
from chalicelib.api.docs import docs_routes
from chalicelib.api.ecgs import ecg_routes
from chalicelib.api.users import user_routes
from chalicelib.auth.authorizer import authorizer_blueprint
from chalicelib.http_body import encode_json
from chalicelib.request_log import log_request

app = Chalice(app_name="ecg-insights")

for blueprint in (authorizer_blueprint, auth_routes, user_routes, ecg_routes, docs_routes):
    app.register_blueprint(blueprint)


@app.middleware("http")
def json_errors_and_request_log(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice's own errors (405, 415, 500) become `{"message": ...}` like ours; log each request."""
    started = time.perf_counter()
    response = get_response(request)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Message" in body:
        message = body["Message"] if response.status_code < 500 else "internal error"
        response.body = encode_json({"message": message})
        response.headers["Content-Type"] = "application/json"
    context = request.context or {}
    log_request(
        request_id=getattr(app.lambda_context, "aws_request_id", "") or context.get("requestId", ""),
        method=request.method,
        route=context.get("resourcePath", ""),
        status=response.status_code,
        latency_ms=(time.perf_counter() - started) * 1000,
        principal=(context.get("authorizer") or {}).get("principalId"),
    )
    return response
