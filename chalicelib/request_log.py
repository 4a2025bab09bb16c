"""One structured JSON log line per request: never a body, a header value, a password or a token.

Records propagate to the root logger: on Lambda its handler writes to CloudWatch, locally the
runner configures it to print. Standard logging keeps the authorizer's cold start free of a
logging framework; the line carries the fields Powertools' Logger would (level, message,
request id) plus route, status, latency, principal and source IP.
"""

from __future__ import annotations

import json
import logging

_logger = logging.getLogger("ecg_insights.requests")
_logger.setLevel(logging.INFO)


def log_request(
    request_id: str,
    method: str,
    route: str,
    status: int,
    latency_ms: float,
    principal: str | None,
    source_ip: str | None,
) -> None:
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
                "source_ip": source_ip,
            }
        )
    )
