"""The ECG repository: metadata items in DynamoDB, each the commit point of its signal in S3.

Writing an ECG: the signal object is put under the pending tag, then the item is created in one
transaction (conditional on the id being new and the owner still being an active account), then
the object is committed. A failure before the item exists leaves only a pending object, which
the lifecycle rule expires; a failure to commit removes the item again, so no reader ever
follows an item to an object that may expire. Deleting marks the objects pending, removes the
item (what readers see), then the objects, so a delete that fails part-way ends them anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound, ServiceError, Unauthenticated, Unavailable
from chalicelib.store import signals
from chalicelib.store.failures import aws_call, new_write_token, own_write
from chalicelib.store.models import EcgItem, UserItem, transaction_connection
from chalicelib.store.pages import split_page

TRANSACTION_ATTEMPTS = 3
logger = logging.getLogger(__name__)


class _Changed(ServiceError):
    """A condition on the ECG's state failed: it changed, or went, since it was read. Handled
    here, never shown to a client."""


def _transact(write: Callable[[TransactWrite], None], on_cancel: Callable[[list[str]], None]) -> None:
    """Run a write transaction; retry transaction conflicts, hand other cancellations to on_cancel."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with aws_call(), TransactWrite(connection=transaction_connection()) as transaction:
                write(transaction)
            return
        except TransactWriteError as error:
            codes = [reason.code if reason else "None" for reason in error.cancellation_reasons or []]
            if "TransactionConflict" in codes and attempt + 1 < TRANSACTION_ATTEMPTS:
                continue
            on_cancel(codes)
            if "ValidationError" in codes:
                raise
            raise Unavailable() from None


def _discard(key: str) -> None:
    """An object no item refers to: deleted, or else marked pending for the lifecycle rule."""
    try:
        signals.delete(key)
    except ServiceError:
        if signals.expires_anyway(key):
            logger.warning(json.dumps({"event": "object_left_to_expire", "key": key}))
        else:
            _left_behind(key)


def _left_behind(key: str) -> None:
    """Mark an object that could not be deleted pending, so the lifecycle rule removes it; if
    even that fails, log its key for an operator."""
    try:
        signals.mark_pending(key)
        logger.warning(json.dumps({"event": "object_left_to_expire", "key": key}))
    except ServiceError:
        logger.error(json.dumps({"event": "object_left_after_delete", "key": key}))


def _account_active() -> Condition:
    active: Condition = UserItem.username.exists() & (UserItem.deleting == False)  # noqa: E712
    return active


def _insert(item: EcgItem, token: str) -> None:
    """Create the item, all or nothing; a retry that finds this request's own item (by its write
    token) succeeded, and `item` takes the stored item's time and object keys."""
    item.write_token = token

    def applied() -> bool:
        found = get_ecg(item.owner, item.ecg_id)
        if found is None or found.write_token != token:
            return False
        item.created_at, item.signal_key, item.upload_key = (
            found.created_at,
            found.signal_key,
            found.upload_key,
        )
        return True

    def write(transaction: TransactWrite) -> None:
        transaction.condition_check(UserItem, item.owner, condition=_account_active())
        transaction.save(item, condition=EcgItem.ecg_id.does_not_exist())

    def on_cancel(codes: list[str]) -> None:
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise Unauthenticated("this account no longer exists", "account_deleted") from None
        if codes[1:2] == ["ConditionalCheckFailed"]:
            raise Conflict(f"an ECG with id {item.ecg_id!r} already exists", "id_taken") from None

    with own_write(applied):
        _transact(write, on_cancel)


def create_ecg(item: EcgItem, payload: bytes, write_token: str | None = None) -> None:
    """Store a ready ECG and its signal object (`item.signal_key`), all or nothing.

    `write_token` is the request's Idempotency-Key when it has one: a repeat of a request that
    was answered 503 finds the first attempt's item and completes it."""
    key = item.signal_key
    assert key is not None
    signals.put_pending(key, payload)
    try:
        _insert(item, write_token or new_write_token())
    except Unavailable:
        _take_back(item, key)  # it may have been written, its answer lost
        raise
    except ServiceError:
        _discard(key)
        raise
    if item.signal_key != key:  # a repeat: the first attempt's object is the one to keep
        _discard(key)
    _commit(item)


def _commit(item: EcgItem) -> None:
    """Commit the item's signal object; if that fails, take the item and the object back, 503."""
    key = item.signal_key
    assert key is not None
    try:
        signals.commit(key)
    except ServiceError:
        _take_back(item, key)
        raise Unavailable() from None


def _take_back(item: EcgItem, key: str) -> None:
    """Remove this request's item (if it was written) and then its object. If even that fails,
    the item may still refer to a pending object (a repeat of the request commits it), or be
    gone with the object committed (an orphan): an operator is told which key."""
    try:
        _delete_own(item)
    except ServiceError:
        logger.error(json.dumps({"event": "signal_commit_unknown", "key": key}))
        return
    _discard(key)


def _delete_own(item: EcgItem) -> None:
    """Take back this request's item; if it is already gone (a retry whose first answer was
    lost) or is another request's, there is nothing of ours to take back."""
    try:
        with aws_call(on_condition_failed=lambda: _Changed("gone")):
            item.delete(condition=EcgItem.write_token == item.write_token)
    except _Changed:
        return


def create_upload(item: EcgItem, write_token: str | None = None) -> None:
    """An announced upload: the item alone (`awaiting_upload`), created like any ECG."""
    _insert(item, write_token or new_write_token())


def get_ecg(owner: str, ecg_id: str) -> EcgItem | None:
    with aws_call():
        try:
            return EcgItem.get(owner, ecg_id, consistent_read=True)
        except EcgItem.DoesNotExist:
            return None


def get_payload(item: EcgItem) -> bytes:
    assert item.signal_key is not None
    return signals.read(item.signal_key)


@lru_cache(maxsize=64)
def _index_region(key: str, offset: int) -> bytes:
    """A signal object's index and trailer (a few KB per hour of recording). Objects never
    change (a rewrite gets a new key), so a warm function keeps the indexes it has read and
    reads a window with one ranged GET instead of two."""
    return signals.read_from(key, offset)


def range_reader(item: EcgItem) -> Callable[[int, int], bytes]:
    """Ranged reads of the item's signal object (windows, beats); index reads come from
    `_index_region`."""
    key, index = item.signal_key, item.signal_index
    assert key is not None and index is not None
    start = int(index)

    def read(offset: int, length: int) -> bytes:
        if offset >= start:
            return _index_region(key, start)[offset - start : offset - start + length]
        return signals.read_range(key, offset, length)

    return read


def list_ecgs(owner: str, limit: int, after: str | None) -> tuple[list[EcgItem], str | None]:
    """One page in id order; asks for one extra item so the last page has no next token."""
    start = {"owner": {"S": owner}, "ecg_id": {"S": after}} if after else None
    with aws_call():
        items = list(EcgItem.query(owner, limit=limit + 1, last_evaluated_key=start, consistent_read=True))
    return split_page(items, limit, lambda item: item.ecg_id)


def save_leads(item: EcgItem) -> None:
    """Persist insights computed after upload (an insight added to the registry later); an ECG
    deleted meanwhile has nothing to keep them for."""
    _update(item, [EcgItem.leads.set(item.leads)], EcgItem.ecg_id.exists())


def _update(item: EcgItem, actions: list[Any], condition: Condition) -> bool:
    """A conditional update; False when the condition failed (the ECG changed or is gone)."""
    try:
        with aws_call(on_condition_failed=lambda: _Changed("the ECG changed meanwhile")):
            item.update(actions=actions, condition=condition)
    except _Changed:
        return False
    return True


def start_processing(item: EcgItem) -> bool:
    """awaiting_upload → processing, for this upload; True when it is (or already was) processing."""
    if item.status == "processing":
        return True
    return _update(
        item,
        [EcgItem.status.set("processing")],
        (EcgItem.status == "awaiting_upload") & (EcgItem.upload_key == item.upload_key),
    )


def finish_processing(item: EcgItem) -> bool:
    """processing → ready with the item's leads, rate and signal object; False when the ECG was
    deleted or finished by another delivery meanwhile (the caller then discards its object)."""
    return _update(
        item,
        [
            EcgItem.status.set("ready"),
            EcgItem.leads.set(item.leads),
            EcgItem.sampling_rate_hz.set(item.sampling_rate_hz),
            EcgItem.signal_key.set(item.signal_key),
            EcgItem.signal_index.set(item.signal_index),
        ],
        (EcgItem.status == "processing") & (EcgItem.upload_key == item.upload_key),
    )


def mark_failed(item: EcgItem, error: str) -> bool:
    """awaiting_upload or processing → failed with a reason."""
    return _update(
        item,
        [EcgItem.status.set("failed"), EcgItem.error.set(error)],
        EcgItem.status.is_in("awaiting_upload", "processing") & (EcgItem.upload_key == item.upload_key),
    )


def commit_signal(item: EcgItem) -> None:
    """Idempotent: processing commits after the item refers to the object (and again on redelivery)."""
    assert item.signal_key is not None
    signals.commit(item.signal_key)


def _objects(item: EcgItem) -> list[str]:
    return [key for key in (item.signal_key, item.upload_key) if key]


class _StillThere(ServiceError):
    """A delete that failed while the item is known to be in place."""


def _delete_item(item: EcgItem) -> bool:
    """Delete the item if it is still in the state it was read in; False if it changed.
    botocore's retries reuse the transaction's ClientRequestToken, so a retry of an applied
    delete succeeds; if no answer comes at all, the ECG being gone means this delete happened.
    Raises _StillThere when it surely did not, Unavailable when that cannot be told."""

    def write(transaction: TransactWrite) -> None:
        transaction.delete(item, condition=EcgItem.status == item.status)

    def on_cancel(codes: list[str]) -> None:
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise _Changed("the ECG changed meanwhile") from None

    try:
        _transact(write, on_cancel)
    except _Changed:
        return False
    except Unavailable:
        if get_ecg(item.owner, item.ecg_id) is not None:
            raise _StillThere("the delete did not happen") from None
    return True


def _recommit(key: str | None) -> None:
    """The ECG stays: its signal, marked pending for the delete, is committed again."""
    if key is None:
        return
    try:
        signals.commit(key)
    except ServiceError:
        logger.error(json.dumps({"event": "signal_commit_unknown", "key": key}))


def delete_ecg(item: EcgItem) -> None:
    """Signal marked pending, then the item (what readers see), then the objects. A failure
    before the item is gone commits the signal again (503: the ECG is whole); a delete whose
    outcome is unknown leaves it pending, so it ends even if the item is gone and its key
    with it. The item's delete is conditional on the status read, so an upload finishing
    meanwhile is seen and its new object removed too."""
    for _ in range(TRANSACTION_ATTEMPTS):
        signal = item.signal_key  # not the upload: everything under uploads/ expires anyway
        if signal is not None:
            signals.mark_pending(signal)  # a failure here changed nothing: 503
        try:
            deleted = _delete_item(item)
        except _StillThere:
            _recommit(signal)
            raise Unavailable() from None
        except Unavailable:
            # Unknown: gone (its objects end with the lifecycle rule), or still there on pending
            # objects until the client repeats the DELETE, as a 503 asks it to.
            logger.error(json.dumps({"event": "delete_outcome_unknown", "key": signal}))
            raise
        if deleted:
            for key in _objects(item):
                _discard(key)
            return
        _recommit(signal)
        found = get_ecg(item.owner, item.ecg_id)
        if found is None:
            raise NotFound("no such ECG", "ecg_not_found")
        item = found
    raise Unavailable()


def delete_all_ecgs(owner: str) -> None:
    """Delete an owner's ECGs one whole ECG at a time (each delete is all-or-nothing)."""
    with aws_call():
        items = list(EcgItem.query(owner, consistent_read=True))
    for item in items:
        try:
            delete_ecg(item)
        except NotFound:
            continue
