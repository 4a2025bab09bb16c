"""The uploads queue, as the function it feeds sees it: how soon a failed delivery comes back.

The queue's visibility timeout is six times the function's timeout (AWS's guidance, so a slow
delivery is never handed to a second function meanwhile): left alone, a delivery that failed on
a passing error would come back after 90 minutes. The function shortens that for the message it
failed on, with a doubling back-off.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.settings import Settings, get_settings

# The queue's maxReceiveCount (the template's and make run's): the last delivery does not try
# again (a crash, a timeout or an out-of-memory kill would leave no trace); it marks the ECG
# failed before the message goes to the dead-letter queue.
DELIVERY_ATTEMPTS = 5
FIRST_RETRY_SECONDS = 60  # then 3, 9, 27 times that: the five deliveries span about 40 minutes
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit
logger = logging.getLogger(__name__)


@cache
def _client_for(settings: Settings, region: str) -> Any:
    import boto3

    return boto3.client("sqs", region_name=region, endpoint_url=settings.sqs_endpoint)


def retry_soon(queue_arn: str, receipt_handle: str, receive_count: int) -> None:
    """Make the message visible again after 1, 3, 9, 27 minutes (best effort: if this fails too,
    the queue's own timeout still brings it back)."""
    _, _, _, region, account, name = queue_arn.split(":")
    settings = get_settings()
    endpoint = settings.sqs_endpoint or f"https://sqs.{region}.amazonaws.com"
    seconds = min(FIRST_RETRY_SECONDS * 3 ** max(receive_count - 1, 0), MAX_VISIBILITY_SECONDS)
    try:
        _client_for(settings, region).change_message_visibility(
            QueueUrl=f"{endpoint}/{account}/{name}", ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
    except (BotoCoreError, ClientError) as error:
        logger.warning(json.dumps({"event": "retry_not_scheduled", "error": type(error).__name__}))
