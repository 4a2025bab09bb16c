"""Every response the app writes, errors included: the one place an error becomes HTTP."""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib.api.bodies import encode_json
from chalicelib.errors import InternalError, MethodNotAllowed, ServiceError, UnsupportedMediaType

JSON_HEADERS = {"Content-Type": "application/json"}
# Sent with every response: nothing the API answers may be cached or sniffed.
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# What Chalice itself may answer before or around a view, as our own errors.
_CHALICE_ERRORS: dict[int, type[ServiceError]] = {405: MethodNotAllowed, 415: UnsupportedMediaType}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=encode_json(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={})


def error_response(error: ServiceError) -> Response:
    body = {"message": error.message, "code": error.code, **error.details()}
    return json_response(body, error.status, error.headers())


def finish(response: Response) -> Response:
    """Chalice's own error bodies (`{"Code", "Message"}`) take our shape; every response gets
    the security headers."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Message" in body:
        kind = _CHALICE_ERRORS.get(response.status_code)
        error = kind(str(body["Message"])) if kind else InternalError("internal error")
        response = error_response(error)
    response.headers.update(SECURITY_HEADERS)
    return response
