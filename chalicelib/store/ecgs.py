"""The ECG repository: metadata items plus the chunk items that hold the packed signals.

An ECG is written in one DynamoDB transaction (metadata + every chunk), conditional on the id
being new and the owner still being an active account, so readers see all of it or nothing.
Chunks are only ever read by the exact keys the metadata lists, so nothing else can leak in.
"""

from __future__ import annotations

from collections.abc import Callable

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, NotFound, Unauthenticated, Unavailable
from chalicelib.store.failures import database_call, new_write_token, own_write
from chalicelib.store.models import EcgChunkItem, EcgItem, UserItem, transaction_connection
from chalicelib.store.pages import split_page

CHUNK_BYTES = 350_000
MAX_CHUNKS = 99
TRANSACTION_ATTEMPTS = 3


def chunk_key(ecg_id: str, index: int) -> str:
    return f"{ecg_id}#{index:04d}"


def split_payload(payload: bytes) -> list[bytes]:
    chunks = [payload[start : start + CHUNK_BYTES] for start in range(0, len(payload), CHUNK_BYTES)]
    if len(chunks) > MAX_CHUNKS:
        raise ValueError(f"payload of {len(payload)} bytes needs more than {MAX_CHUNKS} chunks")
    return chunks


def _transact(write: Callable[[TransactWrite], None], on_cancel: Callable[[list[str]], None]) -> None:
    """Run a write transaction; retry transaction conflicts, hand other cancellations to on_cancel."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with database_call(), TransactWrite(connection=transaction_connection()) as transaction:
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


def create_ecg(item: EcgItem, payload: bytes, write_token: str | None = None) -> None:
    """All or nothing; a retry that finds this request's own item (its write token: the
    request's Idempotency-Key when it has one) succeeded, and `item` takes the stored times."""
    chunks = split_payload(payload)
    item.chunk_count = len(chunks)
    item.write_token = token = write_token or new_write_token()

    def applied() -> bool:
        found = get_ecg(item.owner, item.ecg_id)
        if found is None or found.write_token != token:
            return False
        item.created_at = found.created_at
        return True

    def write(transaction: TransactWrite) -> None:
        transaction.condition_check(
            UserItem,
            item.owner,
            condition=UserItem.username.exists() & (UserItem.deleting == False),  # noqa: E712
        )
        transaction.save(item, condition=EcgItem.ecg_id.does_not_exist())
        for index, data in enumerate(chunks):
            transaction.save(EcgChunkItem(item.owner, chunk_key(item.ecg_id, index), data=data))

    def on_cancel(codes: list[str]) -> None:
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise Unauthenticated("this account no longer exists", "account_deleted") from None
        if codes[1:2] == ["ConditionalCheckFailed"]:
            raise Conflict(f"an ECG with id {item.ecg_id!r} already exists", "id_taken") from None

    with own_write(applied):
        _transact(write, on_cancel)


def get_ecg(owner: str, ecg_id: str) -> EcgItem | None:
    with database_call():
        try:
            return EcgItem.get(owner, ecg_id, consistent_read=True)
        except EcgItem.DoesNotExist:
            return None


def get_payload(item: EcgItem) -> bytes:
    keys = [(item.owner, chunk_key(item.ecg_id, index)) for index in range(int(item.chunk_count))]
    with database_call():
        found = {chunk.chunk_key: chunk.data for chunk in EcgChunkItem.batch_get(keys, consistent_read=True)}
    if len(found) != len(keys):
        raise RuntimeError(f"ECG {item.ecg_id!r} has {len(found)} of {len(keys)} chunks")
    return b"".join(found[key] for _, key in keys)


def list_ecgs(owner: str, limit: int, after: str | None) -> tuple[list[EcgItem], str | None]:
    """One page in id order; asks for one extra item so the last page has no next token."""
    start = {"owner": {"S": owner}, "ecg_id": {"S": after}} if after else None
    with database_call():
        items = list(EcgItem.query(owner, limit=limit + 1, last_evaluated_key=start, consistent_read=True))
    return split_page(items, limit, lambda item: item.ecg_id)


def save_leads(item: EcgItem) -> None:
    """Persist insights computed after upload (an insight added to the registry later)."""
    with database_call():
        item.update(actions=[EcgItem.leads.set(item.leads)], condition=EcgItem.ecg_id.exists())


def delete_ecg(item: EcgItem) -> None:
    """All or nothing. botocore's retries reuse the transaction's ClientRequestToken, so DynamoDB
    answers a retry of an applied delete with success; if no answer comes at all, the ECG being
    gone means this delete happened (the caller had just read it)."""

    def write(transaction: TransactWrite) -> None:
        transaction.delete(item, condition=EcgItem.ecg_id.exists())
        for index in range(int(item.chunk_count)):
            transaction.delete(EcgChunkItem(item.owner, chunk_key(item.ecg_id, index)))

    def on_cancel(codes: list[str]) -> None:
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise NotFound("no such ECG", "ecg_not_found") from None

    try:
        _transact(write, on_cancel)
    except Unavailable:
        if get_ecg(item.owner, item.ecg_id) is not None:
            raise


def delete_all_ecgs(owner: str) -> None:
    """Delete an owner's ECGs one whole ECG at a time (each delete is all-or-nothing)."""
    with database_call():
        items = list(
            EcgItem.query(owner, consistent_read=True, attributes_to_get=["owner", "ecg_id", "chunk_count"])
        )
    for item in items:
        try:
            delete_ecg(item)
        except NotFound:
            continue
