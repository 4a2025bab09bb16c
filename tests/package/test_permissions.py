"""The policies grant exactly the DynamoDB actions the code calls, per function and table.

Every DynamoDB request of a full scenario is recorded (transactions and batches per item),
attributed to the authorizer or the API handler, and compared with devtools.deployment."""

from __future__ import annotations

import contextvars
import json
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from chalicelib.settings import get_settings
from chalicelib.store import models
from devtools.deployment import PERMISSIONS, TABLES
from tests.helpers import Api

IN_AUTHORIZER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_authorizer", default=False)
ITEM_ACTIONS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _table_ids() -> dict[str, str]:
    """The template's logical id of each table, by the name the settings give it."""
    settings = get_settings()
    return {
        getattr(settings, getattr(models, table.model).settings_field): logical_id
        for logical_id, table in TABLES.items()
    }


def _actions(operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    tables = _table_ids()
    if operation == "TransactWriteItems":
        return [
            (tables[item[kind]["TableName"]], ITEM_ACTIONS[kind])
            for item in body["TransactItems"]
            for kind in item
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(tables[name], operation) for name in body["RequestItems"]]
    return [(tables[body["TableName"]], operation)]


@pytest.fixture
def recorded(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, set[str]]]:
    from moto.core.botocore_stubber import BotocoreStubber

    from chalicelib.auth import authorizer

    calls: dict[str, dict[str, set[str]]] = {"APIHandler": defaultdict(set), "JwtAuth": defaultdict(set)}
    moto_answer = BotocoreStubber.__call__

    def record(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if operation and operation not in ("CreateTable", "DescribeTable"):
            function = "JwtAuth" if IN_AUTHORIZER.get() else "APIHandler"
            for table, action in _actions(operation, json.loads(request.body)):
                calls[function][table].add(action)
        return moto_answer(self, event_name, request, **kwargs)

    authenticate = authorizer.authenticate

    def attributed(header: str | None) -> Any:
        token = IN_AUTHORIZER.set(True)
        try:
            return authenticate(header)
        finally:
            IN_AUTHORIZER.reset(token)

    monkeypatch.setattr(BotocoreStubber, "__call__", record)
    monkeypatch.setattr(authorizer, "authenticate", attributed)
    return calls


def test_policies_grant_exactly_the_actions_the_code_calls(
    api: Api, recorded: dict, monkeypatch: pytest.MonkeyPatch
):
    from chalicelib.ecg import insights

    admin = api.admin_token
    api.create_user("alice")
    token = api.login("alice", "user-password-1")
    big = np.arange(-400_000, 400_000, 7).tolist()
    with monkeypatch.context() as before_zero_crossings:  # stored without it: computed and saved on read
        before_zero_crossings.delitem(insights.CALCULATORS, "zero_crossings")
        api.call(
            "POST",
            "/ecgs",
            token,
            {"id": "a", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": big}]},
        )
    api.call(
        "POST",
        "/ecgs",
        token,
        {"id": "b", "date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1]}]},
    )
    for _ in range(2):  # claimed, completed, then replayed
        api.call(
            "POST",
            "/ecgs",
            token,
            {"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [2]}]},
            headers={"Idempotency-Key": "k"},
        )
    api.call("GET", "/ecgs", token)
    api.call("GET", "/ecgs/a", token)
    api.call("GET", "/ecgs/a/insights", token)
    api.call("DELETE", "/ecgs/b", token)
    api.call(
        "PUT",
        "/users/me/password",
        token,
        {"current_password": "user-password-1", "new_password": "pass-word-2"},
    )
    token = api.login("alice", "pass-word-2")
    api.call("POST", "/auth/logout", token)
    api.call("GET", "/users", admin)
    api.call("GET", "/users/alice", admin)
    api.call("DELETE", "/users/alice", admin)
    for function, tables in PERMISSIONS.items():
        granted = {table: set(actions) for table, actions in tables.items()}
        assert dict(recorded[function]) == granted, function
