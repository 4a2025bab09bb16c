"""Make moto's DynamoDB behave as DynamoDB does where this service can tell the difference.

Development only: `make run` and the tests install it; the product code relies on the real
behaviour and never imports it. Each patch keeps moto's answers and changes what moto gets wrong:

- ClientRequestToken. botocore sends one with every TransactWriteItems and reuses it when it
  retries after a lost answer. DynamoDB then answers the retry with success without applying it
  again (for ten minutes; the same token with other items is IdempotentParameterMismatchException).
  moto ignores the token, so locally a retried transaction could answer 409 for its own write or
  404 for its own delete.
- Transactions that cost as much as the table is large. To undo a cancelled transaction moto
  deep-copies every table it touches, once per item, before it starts: a create of one ECG cost
  ~140 ms with ~320 stored, and grew with every upload. DynamoDB's cost does not depend on the
  table's size. Here the items the transaction names are kept instead, and put back if it is
  cancelled; moto's own code still decides everything else (all or nothing, the cancellation
  reason of each item, condition checks, one operation per item).
- Transactions that can interleave. moto's server answers each request on its own thread;
  DynamoDB isolates transactions from each other, so here one runs at a time.
- Item serialisation that costs as much as the item is large, in Python: moto's response
  serialiser walks every AttributeValue member by member through botocore's shape model (~40% of
  the local stack's time on GET /ecgs/{id}/insights). AttributeValues are written here directly,
  to the same JSON (binary values base64, as the model says).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import types
from typing import Any

TOKEN_LIFETIME_SECONDS = 600  # DynamoDB's idempotency window for ClientRequestToken
_applied: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()
_transactions = threading.RLock()  # one transaction at a time, as DynamoDB isolates them


def install() -> None:
    """Patch moto's DynamoDB once per process (idempotent)."""
    _honour_client_request_tokens()
    _roll_back_only_touched_items()
    _write_attribute_values_directly()


def _fingerprint(body: dict[str, Any]) -> str:
    items = json.dumps(body.get("TransactItems"), sort_keys=True, default=_digest)  # binary values too
    return hashlib.sha256(items.encode()).hexdigest()


def _digest(value: Any) -> str:
    """A binary value by its digest: hashing 200 KB takes a fraction of writing out its repr."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes sha256:{hashlib.sha256(value).hexdigest()}>"
    return repr(value)


def _honour_client_request_tokens() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items
    if getattr(original, "honours_client_request_token", False):
        return

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "The ClientRequestToken was used with different transaction items",
            )

    def transact_write_items(self: DynamoHandler) -> ActionResult:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        fingerprint, now = _fingerprint(self.body), time.monotonic()
        with _lock:  # one transaction per token at a time, as DynamoDB serialises them
            for expired in [key for key, (_, at) in _applied.items() if now - at > TOKEN_LIFETIME_SECONDS]:
                del _applied[expired]
            seen = _applied.get(token)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise IdempotentParameterMismatch()
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            result = original(self)
            _applied[token] = (fingerprint, now)
            return result

    transact_write_items.honours_client_request_token = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


# A transaction's undo record: (table, hash key, range key) -> the item as it was (None: absent),
# and each touched table's stream length.
Key = tuple[str, Any, Any]


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> dict[Key, Any]:
    """A deep copy of each item the transaction names, as it is before the transaction.

    An operation whose table or key moto cannot resolve is skipped: moto cancels it before
    writing anything for it."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    kept: dict[Key, Any] = {}
    for transact_item in transact_items:
        for op_type, op in transact_item.items():
            if not isinstance(op, dict):
                continue
            try:
                table = backend.get_table(op.get("TableName"))  # by name or by ARN
            except Exception:  # moto reports the unknown table itself
                continue
            attributes = op.get("Item") if op_type == "Put" else op.get("Key")
            if not isinstance(attributes, dict):
                continue
            try:
                hash_key = DynamoType(attributes[table.hash_key_attr])
                range_key = (
                    DynamoType(attributes[table.range_key_attr]) if table.range_key_attr is not None else None
                )
            except Exception:  # moto reports the malformed key itself
                continue
            key = (table.name, hash_key, range_key)
            if key not in kept:
                current = table.items.get(hash_key)  # .get: table.items is a defaultdict
                if range_key is not None:
                    current = current.get(range_key) if current is not None else None
                kept[key] = copy.deepcopy(current)
    return kept


def _put_back(backend: Any, kept: dict[Key, Any], streams: dict[str, int]) -> None:
    for (table_name, hash_key, range_key), item in kept.items():
        table = backend.tables.get(table_name)
        if table is None:
            continue
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    for table_name, length in streams.items():
        table = backend.tables.get(table_name)
        if table is not None and table.stream_shard is not None:
            del table.stream_shard.items[length:]


def _roll_back_only_touched_items() -> None:
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "rolls_back_touched_items", False):
        return

    def deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
        """moto's module keeps a "backup" of each table by deep copy and assigns it back on
        cancellation; a table is its own backup here (assigning it back changes nothing), and
        the items it would have saved are kept and put back by `transact_write_items` below.
        moto's other use of `copy` in that module (the old image of an updated item) is unchanged."""
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    setattr(backend_module, "copy", types.SimpleNamespace(deepcopy=deepcopy_but_tables))  # noqa: B010

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with _transactions:
            kept = _touched_items(self, transact_items)
            shards = {name: self.tables[name].stream_shard for name, _, _ in kept}
            streams = {name: len(shard.items) for name, shard in shards.items() if shard is not None}
            try:
                original(self, transact_items)
            except BaseException:
                _put_back(self, kept, streams)
                raise

    transact_write_items.rolls_back_touched_items = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _attribute_value(value: Any) -> dict[str, Any] | None:
    """An AttributeValue as moto's serialiser writes it (strings as str, binary as base64, maps
    and lists recursively); None for anything unusual, which moto's own path then serialises."""
    if type(value) is not dict:
        return None
    wire: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind == "S" or kind == "N":
            wire[kind] = str(member) if member not in ({}, []) else member
        elif kind == "BOOL" or kind == "NULL":
            wire[kind] = member
        elif kind == "B":
            wire[kind] = _base64(member)
        elif kind == "M" and type(member) is dict:
            mapping = {}
            for name, item in member.items():
                if item is None:
                    continue
                converted = _attribute_value(item)
                if converted is None:
                    return None
                mapping[name] = converted
            wire[kind] = mapping
        elif kind == "L" and type(member) is list:
            elements = []
            for item in member:
                converted = _attribute_value(item)
                if converted is None:
                    return None
                elements.append(converted)
            wire[kind] = elements
        elif (kind == "SS" or kind == "NS") and type(member) is list:
            wire[kind] = [str(item) for item in member]
        elif kind == "BS" and type(member) is list:
            wire[kind] = [_base64(item) for item in member]
        else:
            return None
    return wire


def _base64(value: str | bytes) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).strip().decode("utf-8")


DYNAMODB_SERVICES = ("dynamodb", "dynamodbstreams")


def _write_attribute_values_directly() -> None:
    from moto.core.serialize import BaseJSONSerializer, ResponseSerializer

    original = ResponseSerializer._serialize
    if getattr(BaseJSONSerializer._serialize, "writes_attribute_values", False):
        return

    def serialize(self: ResponseSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and not shape.serialization
            and self.operation_model.service_model.service_name in DYNAMODB_SERVICES
        ):
            wire = _attribute_value(value)
            if wire is not None:
                serialized[key] = wire
                return
        original(self, serialized, value, shape, key)

    serialize.writes_attribute_values = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize = serialize  # type: ignore[method-assign]


def single_service_application() -> Any:
    """moto's server application, which finds the service of each request from its host, path,
    headers and body under one lock for all threads; a DynamoDB request (its X-Amz-Target names
    the API) goes straight to the DynamoDB application instead. Anything else is dispatched as
    moto does."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Application(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self.dynamodb = create_backend_app("dynamodb")

        def get_application(self, environ: dict[str, Any]) -> Any:
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET):
                return self.dynamodb
            return super().get_application(environ)

    return Application()


DYNAMODB_TARGET = "DynamoDB_20120810."
