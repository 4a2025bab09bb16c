"""Domain errors, each carrying the HTTP status it maps to: the one place statuses are decided."""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """An error whose message is safe to show to the client."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ServiceError):
    status = 400


class Unauthenticated(ServiceError):
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class PayloadTooLarge(ServiceError):
    status = 413


class UnsupportedMediaType(ServiceError):
    status = 415


class Unavailable(ServiceError):
    """The database throttled or failed after botocore's retries; safe to retry later."""

    status = 503
    retry_after_seconds: ClassVar[int] = 1

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
