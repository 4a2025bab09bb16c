"""The Idempotency-Key header (IETF draft "The Idempotency-Key HTTP Header Field").

A repeat of a create with the same key from the same caller within 24 hours gets the first
response again, with `Idempotency-Replayed: true`, and changes nothing; the same key with a
different request is a 422. While the first request runs, a repeat waits for its response.
A 5xx response is not kept: the key is released, so the client can retry it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from chalice.app import Request, Response

from chalicelib.api.bodies import as_bytes, media_type
from chalicelib.api.responses import JSON_HEADERS
from chalicelib.errors import BadRequest, Conflict, Unavailable, UnprocessableContent
from chalicelib.store import idempotency
from chalicelib.store.failures import new_write_token

HEADER = "idempotency-key"
KEEP_SECONDS = 24 * 3600
LEASE_SECONDS = 30  # longer than the API function's timeout (29 s): a live claim is never taken over
RELEASE_ATTEMPTS = 3
WAIT_SECONDS, POLL_SECONDS = 10.0, 0.05
CLAIM_ROUNDS = 3  # a first request that fails releases the key; a waiting repeat then runs it
_logger = logging.getLogger("ecg_insights.idempotency")


def idempotency_key(request: Request) -> str | None:
    key: str | None = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= char <= "~" for char in key):
        raise BadRequest(
            "Idempotency-Key must be 1-255 printable ASCII characters", "invalid_idempotency_key"
        )
    return key


def fingerprint(request: Request) -> str:
    """The request a key stands for: method, path, media type and body."""
    digest = hashlib.sha256()
    for part in (
        request.method,
        request.context.get("path", ""),
        media_type(request.headers.get("content-type")),
    ):
        digest.update(part.encode("utf-8") + b"\n")
    digest.update(as_bytes(request.raw_body or b""))
    return digest.hexdigest()


def _replay(record: idempotency.Record) -> Response:
    headers: dict[str, str | list[str]] = {**JSON_HEADERS, "Idempotency-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(body=record.body or "", status_code=int(record.status or 500), headers=headers)


def _mismatch() -> UnprocessableContent:
    return UnprocessableContent("this Idempotency-Key was used with a different request")


def _response_of_holder(key: str, request_fingerprint: str) -> Response | None:
    """Wait for the request holding the key: its response, or None once its claim ended."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            record = idempotency.get(key)
        except Unavailable:  # one failed look is no answer; look again
            time.sleep(POLL_SECONDS)
            continue
        if record is None or (record.status is None and record.lease_until < time.time()):
            return None
        if record.fingerprint != request_fingerprint:
            raise _mismatch()
        if record.status is not None:
            return _replay(record)
        time.sleep(POLL_SECONDS)
    raise Conflict(
        "a request with this Idempotency-Key is still being processed; retry later", "idempotency_key_in_use"
    )


def _release(key: str, claim_token: str) -> None:
    """Let the key go after a failure, so that the client's repeat runs at once rather than
    waiting for the lease; if the database keeps failing, the lease ends it anyway."""
    for _ in range(RELEASE_ATTEMPTS):
        try:
            idempotency.release(key, claim_token)
            return
        except Unavailable:
            continue


def _execute_holding(key: str, claim_token: str, execute: Callable[[str], Response]) -> Response:
    try:
        response = execute(hashlib.sha256(key.encode("utf-8")).hexdigest())
    except BaseException:
        _release(key, claim_token)
        raise
    if response.status_code >= 500:
        _release(key, claim_token)
        return response
    body = response.body if isinstance(response.body, str) else ""
    location = response.headers.get("Location")
    try:
        idempotency.complete(
            key, claim_token, response.status_code, body, location if isinstance(location, str) else None
        )
    except Unavailable:  # the work is done; a repeat after the lease runs again and finds it
        _logger.warning('{"level": "WARNING", "message": "idempotency response not kept"}')
    return response


def run_once(caller: str, key: str, request: Request, execute: Callable[[str], Response]) -> Response:
    """Execute the request once per (caller, key); replay its response to repeats.

    `execute` gets a request key derived from (caller, key): the use case stores it with what
    it writes, so a repeat that runs again (after a 503 released the key) finds its own write."""
    scoped, request_fingerprint = f"{caller}\n{key}", fingerprint(request)
    for _ in range(CLAIM_ROUNDS):
        claim_token = new_write_token()
        try:
            held = idempotency.claim(
                scoped, request_fingerprint, claim_token, time.time(), LEASE_SECONDS, KEEP_SECONDS
            )
        except Unavailable:  # the claim may have been written: let it go
            _release(scoped, claim_token)
            raise
        if held is None:
            return _execute_holding(scoped, claim_token, execute)
        if held.fingerprint != request_fingerprint:
            raise _mismatch()
        if held.status is not None:
            return _replay(held)
        replayed = _response_of_holder(scoped, request_fingerprint)
        if replayed is not None:
            return replayed
    raise Unavailable("the request with this Idempotency-Key keeps failing; retry later")
