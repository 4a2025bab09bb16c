"""The uploads queue of `make run`, and the processing function run on it as Lambda runs it.

On AWS, S3 notifies the uploads queue of each object created under `uploads/`, and Lambda's SQS
event source polls the queue and invokes the processing function with one message per event
(batch size 1): a success deletes the message; an exception leaves it to become visible again
after the queue's visibility timeout, and after `DELIVERY_ATTEMPTS` receives SQS moves it to the
dead-letter queue. Here moto's S3 and SQS (one process, so that S3's notifications reach SQS)
play the services and `QueuePoller` plays the event source, in the process that serves the API.

Development only: nothing in chalicelib or app.py imports this module.

`ECG_LOCAL_UPLOADS_VISIBILITY_SECONDS` sets the queue's visibility timeout (default 30 s, so a
failed processing is tried again soon). `ECG_LOCAL_CRASH_FIRST_ATTEMPT_AT` (e.g. `s3.PutObject`,
comma separated) makes the first delivery of every message die when the handler makes that
AWS call, as a Lambda that crashes there would: the message is left to SQS, which delivers it
again. Both are read here only, never by the app.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.settings import APP_NAME
from chalicelib.store.queue import DELIVERY_ATTEMPTS
from chalicelib.store.signals import UPLOADS_PREFIX

log = logging.getLogger(__name__)

DEFAULT_VISIBILITY_SECONDS = 30  # locally short, so a failed processing is redelivered soon
LONG_POLL_SECONDS = 20  # what Lambda's pollers wait in ReceiveMessage
VISIBILITY_ENVIRONMENT = "ECG_LOCAL_UPLOADS_VISIBILITY_SECONDS"
CRASH_ENVIRONMENT = "ECG_LOCAL_CRASH_FIRST_ATTEMPT_AT"
# As .chalice/config.json configures the function on AWS: the context's remaining time and memory.
FUNCTION_TIMEOUT_SECONDS = 900
FUNCTION_MEMORY_MB = 1769

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str
    dead_letter_url: str
    dead_letter_arn: str
    visibility_seconds: int


def queue_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-uploads"


def visibility_seconds() -> int:
    raw = os.environ.get(VISIBILITY_ENVIRONMENT)
    return DEFAULT_VISIBILITY_SECONDS if raw in (None, "") else int(raw)


def create_uploads_queue(sqs: Any, s3: Any, bucket: str, stage: str) -> Queue:
    """The queue, its dead-letter queue, and the bucket's notification of `uploads/` to it.

    As the template does on AWS: the queue policy lets S3 send only this bucket's events."""
    name = queue_name(stage)
    dead_letter_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dead_letter_arn = _arn(sqs, dead_letter_url)
    visibility = visibility_seconds()
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(DELIVERY_ATTEMPTS)}
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    arn = _arn(sqs, url)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "uploads",
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOADS_PREFIX}]}},
                }
            ]
        },
    )
    return Queue(url, arn, dead_letter_url, dead_letter_arn, visibility)


def _arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def lambda_event(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source passes for one received message (ReceiveMessage's
    shape, renamed into the event's camelCase; attribute values stay strings)."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return {"Records": [record]}


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


class SimulatedCrash(BaseException):
    """The processing function dies here (a BaseException: the app's `except Exception` must not
    mistake it for an error it handles)."""


class _Attempt(threading.local):
    crash_at: frozenset[str] = frozenset()


_attempt = _Attempt()


def install_crash(operations: frozenset[str]) -> None:
    """Every boto3 client created from now on (a client copies its session's hooks when it is
    created: call this first) raises SimulatedCrash when a first delivery's processing calls
    one of `operations` ("s3.PutObject"), before the call is sent."""
    import boto3

    if not operations:
        return
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None

    def crash(event_name: str, **kwargs: Any) -> None:
        service, operation = event_name.split(".")[1:3]
        if f"{service}.{operation}" in _attempt.crash_at:
            raise SimulatedCrash(f"{service}.{operation}")

    boto3.DEFAULT_SESSION.events.register("before-call", crash)


def crash_operations() -> frozenset[str]:
    raw = os.environ.get(CRASH_ENVIRONMENT) or ""
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


class QueuePoller:
    """Lambda's SQS event source for one function: long-polls the queue for one message at a
    time, invokes the handler with the event Lambda would build, deletes the message when the
    handler returns, and leaves it to SQS when the handler raises (one log line).

    One worker: processing is the app's CPU-bound Python, in this process beside the API's
    request threads, so a second worker would only share the same GIL; and with one worker a
    processing that outlasts the short local visibility timeout is never run twice at once."""

    def __init__(
        self,
        sqs: Any,
        queue: Queue,
        region: str,
        handler: Handler,
        function_name: str,
        crash_at: frozenset[str] = frozenset(),
    ) -> None:
        self._sqs = sqs
        self._queue = queue
        self._region = region
        self._handler = handler
        self._function_name = function_name
        self._crash_at = crash_at
        self._stop = threading.Event()
        self._busy = threading.Event()  # a message is being processed
        self._thread = threading.Thread(target=self._run, name="uploads-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """No new message is taken. A long poll is abandoned at once, and a processing under
        way is waited for up to `timeout`: the thread is a daemon, and a message it leaves
        unfinished stays in the queue, as when Lambda's container is killed."""
        self._stop.set()
        if self._busy.is_set():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive()
            except Exception as error:
                if self._stop.is_set():
                    return
                log.warning("uploads poller: ReceiveMessage failed: %s", _one_line(error))
                self._stop.wait(1)
                continue
            for message in messages:
                if self._stop.is_set():
                    return  # received, not processed: SQS delivers it again
                self._busy.set()
                try:
                    self.process(message)
                except Exception as error:  # the delete: SQS delivers the message again
                    if self._stop.is_set():
                        return
                    log.warning("uploads poller: DeleteMessage failed: %s", _one_line(error))
                finally:
                    self._busy.clear()

    def _receive(self) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue.url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=LONG_POLL_SECONDS,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def process(self, message: dict[str, Any]) -> bool:
        """One invocation; True when the message was processed and deleted."""
        from chalice.local import LambdaContext

        receives = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        event = lambda_event(message, self._queue.arn, self._region)
        context = LambdaContext(
            self._function_name, FUNCTION_MEMORY_MB, max_runtime_ms=FUNCTION_TIMEOUT_SECONDS * 1000
        )
        _attempt.crash_at = self._crash_at if receives == 1 else frozenset()
        try:
            self._handler(event, context)
        except (Exception, SimulatedCrash) as error:
            if self._stop.is_set():
                return False  # the stack is stopping under it: not the function's failure
            then = (
                "it goes to the dead-letter queue"
                if receives >= DELIVERY_ATTEMPTS
                else f"SQS delivers it again in {self._queue.visibility_seconds} s"
            )
            log.warning(
                "%s failed on message %s (receive %d of %d): %s; %s",
                self._function_name,
                message["MessageId"],
                receives,
                DELIVERY_ATTEMPTS,
                _one_line(error),
                then,
            )
            return False
        finally:
            _attempt.crash_at = frozenset()
        self._sqs.delete_message(QueueUrl=self._queue.url, ReceiptHandle=message["ReceiptHandle"])
        return True


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
