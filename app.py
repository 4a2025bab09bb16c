"""ECG Insights: the Chalice app. Wiring only; nothing runs at import."""

from __future__ import annotations

import time
from collections.abc import Callable

from chalice.app import Chalice, Request, Response, SQSEvent

from chalicelib.api.auth import auth_routes
from chalicelib.api.docs import docs_routes
from chalicelib.api.ecgs import ecg_routes
from chalicelib.api.responses import finish
from chalicelib.api.users import user_routes
from chalicelib.api.viewer import viewer_routes
from chalicelib.auth.authorizer import authorizer_blueprint
from chalicelib.request_log import log_request

app = Chalice(app_name="ecg-insights")

for blueprint in (authorizer_blueprint, auth_routes, user_routes, ecg_routes, docs_routes, viewer_routes):
    app.register_blueprint(blueprint)


@app.middleware("http")
def shape_and_log(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every response leaves through chalicelib.api.responses.finish; one log line per request."""
    started = time.perf_counter()
    response = finish(get_response(request))
    context = request.context or {}
    log_request(
        request_id=getattr(app.lambda_context, "aws_request_id", "") or context.get("requestId", ""),
        method=request.method,
        route=context.get("resourcePath", ""),
        status=response.status_code,
        latency_ms=(time.perf_counter() - started) * 1000,
        principal=(context.get("authorizer") or {}).get("principalId"),
        source_ip=(context.get("identity") or {}).get("sourceIp"),
    )
    return response


UPLOADS_QUEUE = "ecg-insights-uploads"  # on AWS the merge template points this at the stage's queue


@app.on_sqs_message(queue=UPLOADS_QUEUE, batch_size=1, name="process_uploads")
def process_uploads(event: SQSEvent) -> None:
    """S3 tells SQS that an uploaded file arrived; this turns it into a stored ECG.

    A failure raises, so SQS delivers the message again (and after a few tries to the
    dead-letter queue); processing is idempotent, so redelivery is safe."""
    from chalicelib.ecg.processing import process_message

    for record in event:
        process_message(record.to_dict())
