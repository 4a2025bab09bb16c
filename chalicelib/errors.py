"""Domain errors. Each class carries its HTTP status and each error a stable `code`:
chalicelib.api.responses turns them into `{"message", "code"}`, the only error shape there is."""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """An error whose message is safe to show to the client."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def headers(self) -> dict[str, str]:
        return {}

    def details(self) -> dict[str, str]:
        """Fields the error body carries beside `message` and `code`."""
        return {}


class BadRequest(ServiceError):
    status = 400
    default_code = "invalid_request"


class Unauthenticated(ServiceError):
    status = 401
    default_code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServiceError):
    status = 403
    default_code = "forbidden"


class NotFound(ServiceError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(ServiceError):
    status = 405
    default_code = "method_not_allowed"


class Conflict(ServiceError):
    status = 409
    default_code = "conflict"


class NotReady(Conflict):
    """Insights, beats and signal exist only once an ECG is `ready`; the body says what it is."""

    default_code = "ecg_not_ready"

    def __init__(self, ecg_status: str) -> None:
        super().__init__(f"the ECG is {ecg_status}, not ready")
        self.ecg_status = ecg_status

    def details(self) -> dict[str, str]:
        return {"status": self.ecg_status}


class PayloadTooLarge(ServiceError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    default_code = "unsupported_media_type"


class UnprocessableContent(ServiceError):
    status = 422
    default_code = "idempotency_key_reused"


class TooManyRequests(ServiceError):
    status = 429
    default_code = "login_throttled"

    def __init__(self, message: str, retry_after_seconds: int, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class Unavailable(ServiceError):
    """The database throttled or failed after botocore's retries; safe to retry later."""

    status = 503
    default_code = "unavailable"
    retry_after_seconds: ClassVar[int] = 1
    default_message: ClassVar[str] = (
        "The storage is busy or did not answer; nothing was half-written and repeating this"
        " request is safe. Retry later."
    )

    def __init__(self, message: str | None = None, code: str | None = None) -> None:
        super().__init__(message or self.default_message, code)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class InternalError(ServiceError):
    """A bug: the details go to the log, never to the client."""
