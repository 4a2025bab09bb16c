"""API Gateway, emulated faithfully for `make run` and the tests.

Chalice's LocalGateway differs from API Gateway where this service depends on it: an
authorizer failing with "Unauthorized" crashes it instead of answering 401, a denied policy
answers `{"Message": ...}`, unknown paths answer 403, and path parameters stay URL-encoded.
This subclass answers as the deployed stack does (see the gateway responses in the
CloudFormation template): `{"message": ...}` bodies, 401, 403, 404, and 503 when the
authorizer itself fails.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ForbiddenError,
    LambdaEventConverter,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    RouteMatcher,
)

from chalicelib.api.responses import JSON_HEADERS, SECURITY_HEADERS


class GatewayAnswer(LocalGatewayException):
    """A response API Gateway produces itself, without calling the route's function."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            {**JSON_HEADERS, **SECURITY_HEADERS, **(headers or {})},
            json.dumps({"message": message, "code": code}).encode("utf-8"),
        )
        self.CODE = status


UNAUTHORIZED = (401, "Unauthorized", "unauthorized", {"WWW-Authenticate": "Bearer"})
AUTHORIZER_DOWN = (503, "authorization is unavailable; retry later", "unavailable", {"Retry-After": "1"})


class DecodingEventConverter(LambdaEventConverter):
    """API Gateway hands Lambda URL-decoded path parameters."""

    def create_lambda_event(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> dict[str, Any]:
        event = super().create_lambda_event(method, path, headers, body)
        event["pathParameters"] = {name: unquote(value) for name, value in event["pathParameters"].items()}
        return event


class FaithfulAuthorizer(LocalGatewayAuthorizer):
    def authorize(self, raw_path: str, lambda_event: dict[str, Any], lambda_context: Any) -> Any:
        try:
            return super().authorize(raw_path, lambda_event, lambda_context)
        except ForbiddenError:
            raise GatewayAnswer(403, "this role may not call this route", "forbidden") from None
        except LocalGatewayException:
            raise GatewayAnswer(*UNAUTHORIZED) from None
        except Exception as error:
            raise GatewayAnswer(
                *(UNAUTHORIZED if str(error) == "Unauthorized" else AUTHORIZER_DOWN)
            ) from None


class FaithfulGateway(LocalGateway):
    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self.event_converter = DecodingEventConverter(
            RouteMatcher(list(app_object.routes)), app_object.api.binary_types
        )
        self._authorizer = FaithfulAuthorizer(app_object)
        self._matcher = RouteMatcher(list(app_object.routes))

    def handle_request(
        self, method: str, path: str, headers: dict[str, Any], body: bytes | None
    ) -> dict[str, Any]:
        try:
            route = self._matcher.match_route(path).route
        except ValueError:
            raise GatewayAnswer(404, "no such resource", "not_found") from None
        methods = self._app_object.routes[route]
        if method not in methods and method != "OPTIONS":
            raise GatewayAnswer(
                405,
                f"method {method} is not allowed here",
                "method_not_allowed",
                {"Allow": ", ".join(methods)},
            )
        return super().handle_request(method, path, headers, body)
