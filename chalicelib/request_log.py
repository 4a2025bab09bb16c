"""One structured JSON log line per request: never a body, a header value, a password or a token."""

from __future__ import annotations

import json
import logging
import sys

_logger = logging.getLogger("ecg_insights.requests")


def _configure() -> None:
    if not _logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        _logger.addHandler(handler)
        _logger.setLevel(logging.INFO)
        _logger.propagate = False


def log_request(
    request_id: str, method: str, route: str, status: int, latency_ms: float, principal: str | None
) -> None:
    _configure()
    _logger.info(
        json.dumps(
            {
                "level": "INFO",
                "message": "request",
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(latency_ms, 2),
                "principal": principal,
            }
        )
    )
