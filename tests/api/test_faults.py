"""DynamoDB and S3 throttling and internal errors at each write step.

Fewer consecutive faults than botocore's retry budget (tests/environment.py):
the call succeeds. More: 503 with Retry-After, and every route then shows the whole
ECG or user, or nothing of it; and no object is left that a lifecycle rule would not remove.
"""

from __future__ import annotations

import pytest

from chalicelib.ecg import service
from chalicelib.store import login_attempts
from chalicelib.store.models import EcgItem
from tests.environment import RETRY_BUDGET
from tests.faults import FaultPlan
from tests.helpers import Api, lasting_objects, stored_objects

BIG_SIGNAL = list(range(-300_000, 300_000, 3))


def ecg(ecg_id: str = "ecg-1", signal: list[int] | None = None) -> dict:
    return {
        "id": ecg_id,
        "date": "2026-11-27T10:00:00Z",
        "leads": [{"name": "I", "signal": signal or [1, -1, 2]}],
    }


@pytest.mark.parametrize("kind", ["throttle", "internal"])
def test_ecg_create_survives_faults_within_the_retry_budget(api: Api, faults: FaultPlan, kind: str):
    token = api.user_token("alice")
    faults.operation, faults.times, faults.kind = "TransactWriteItems", RETRY_BUDGET, kind
    assert api.call("POST", "/ecgs", token, ecg()).status == 201
    assert faults.injected == RETRY_BUDGET
    assert api.call("GET", "/ecgs/ecg-1", token).status == 200


@pytest.mark.parametrize("kind", ["throttle", "internal"])
def test_ecg_create_beyond_the_retry_budget_is_503_and_stores_nothing(api: Api, faults: FaultPlan, kind: str):
    token = api.user_token("alice")
    faults.operation, faults.times, faults.kind = "TransactWriteItems", RETRY_BUDGET + 1, kind
    reply = api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    assert "message" in reply.json
    assert api.call("GET", "/ecgs/ecg-1", token).status == 404
    assert lasting_objects("alice") == []
    assert api.call("POST", "/ecgs", token, ecg()).status == 201
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == [1, -1, 2]


# S3: the signal object is put pending, the item created, then the object committed.
SIGNAL_WRITE_STEPS = ["PutObject", "DeleteObjectTagging"]


@pytest.mark.parametrize("operation", SIGNAL_WRITE_STEPS)
@pytest.mark.parametrize("kind", ["throttle", "internal", "reset"])
def test_ecg_create_survives_storage_faults_within_the_retry_budget(
    api: Api, faults: FaultPlan, operation: str, kind: str
):
    token = api.user_token("alice")
    faults.operation, faults.times, faults.kind = operation, RETRY_BUDGET, kind
    assert api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL)).status == 201
    assert faults.injected == RETRY_BUDGET
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL
    assert len(lasting_objects("alice")) == 1


@pytest.mark.parametrize("operation", SIGNAL_WRITE_STEPS)
def test_ecg_create_with_storage_failing_is_503_and_leaves_nothing_lasting(
    api: Api, faults: FaultPlan, operation: str
):
    token = api.user_token("alice")
    faults.operation, faults.times = operation, RETRY_BUDGET + 1
    reply = api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    assert api.call("GET", "/ecgs/ecg-1", token).status == 404
    assert lasting_objects("alice") == []
    assert api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL)).status == 201
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL


def test_a_409_leaves_the_first_ecg_and_its_object_untouched(api: Api, faults: FaultPlan):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    first = stored_objects("alice")
    assert api.call("POST", "/ecgs", token, ecg()).status == 409
    assert lasting_objects("alice") == list(first)
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL


def test_an_object_that_cannot_be_removed_with_its_ecg_is_left_to_the_lifecycle_rule(
    api: Api, faults: FaultPlan
):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg())
    faults.operation, faults.times = "DeleteObject", RETRY_BUDGET + 1
    assert api.call("DELETE", "/ecgs/ecg-1", token).status == 204
    assert api.call("GET", "/ecgs/ecg-1", token).status == 404
    assert lasting_objects("alice") == []


def test_a_delete_that_cannot_hand_the_objects_to_the_lifecycle_rule_is_503_and_keeps_the_ecg(
    api: Api, faults: FaultPlan
):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    objects = stored_objects("alice")
    faults.operation, faults.times = "PutObjectTagging", RETRY_BUDGET + 1
    assert api.call("DELETE", "/ecgs/ecg-1", token).status == 503
    assert stored_objects("alice") == objects
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL


@pytest.mark.parametrize("operation", ["GetItem", "TransactWriteItems"])
def test_ecg_delete_survives_faults_within_the_retry_budget(api: Api, faults: FaultPlan, operation: str):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    faults.seen.clear()
    faults.operation, faults.times = operation, RETRY_BUDGET
    assert api.call("DELETE", "/ecgs/ecg-1", token).status == 204
    assert stored_objects("alice") == {}


@pytest.mark.parametrize("operation", ["GetItem", "TransactWriteItems"])
def test_ecg_delete_beyond_the_retry_budget_is_503_and_keeps_the_whole_ecg(
    api: Api, faults: FaultPlan, operation: str
):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    objects = stored_objects("alice")
    faults.seen.clear()
    faults.operation, faults.times = operation, RETRY_BUDGET + 1
    reply = api.call("DELETE", "/ecgs/ecg-1", token)
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL
    assert stored_objects("alice") == objects
    assert api.call("DELETE", "/ecgs/ecg-1", token).status == 204


@pytest.mark.parametrize("times", [RETRY_BUDGET, RETRY_BUDGET + 1])
def test_user_create_is_all_or_nothing(api: Api, faults: FaultPlan, times: int):
    admin = api.admin_token
    faults.operation, faults.times = "PutItem", times
    reply = api.call("POST", "/users", admin, {"username": "alice", "password": "user-password-1"})
    if times <= RETRY_BUDGET:
        assert reply.status == 201
        assert api.call("GET", "/users/alice", admin).status == 200
    else:
        assert reply.status == 503 and reply.headers["retry-after"] == "1"
        assert api.call("GET", "/users/alice", admin).status == 404


def alice_with_two_big_ecgs(api: Api) -> None:
    token = api.user_token("alice")
    for index in range(2):
        api.call("POST", "/ecgs", token, ecg(f"ecg-{index}", BIG_SIGNAL))


def fail(faults: FaultPlan, operation: str, occurrence: int, times: int) -> None:
    """From now on, fail the `occurrence`-th call of `operation` `times` times in a row."""
    faults.seen.clear()
    faults.operation, faults.occurrence, faults.times = operation, occurrence, times


USER_DELETE_STEPS = [
    ("UpdateItem", 1),
    ("Query", 1),
    ("TransactWriteItems", 1),
    ("TransactWriteItems", 2),
    ("DeleteItem", 1),
]


@pytest.mark.parametrize(("operation", "occurrence"), USER_DELETE_STEPS)
def test_user_delete_survives_faults_within_the_retry_budget(
    api: Api, faults: FaultPlan, operation: str, occurrence: int
):
    alice_with_two_big_ecgs(api)
    fail(faults, operation, occurrence, RETRY_BUDGET)
    assert api.call("DELETE", "/users/alice", api.admin_token).status == 204
    assert EcgItem.count("alice") == 0 and stored_objects("alice") == {}


@pytest.mark.parametrize(("operation", "occurrence"), USER_DELETE_STEPS)
def test_user_delete_beyond_the_retry_budget_is_503_and_can_be_retried(
    api: Api, faults: FaultPlan, operation: str, occurrence: int
):
    alice_with_two_big_ecgs(api)
    fail(faults, operation, occurrence, RETRY_BUDGET + 1)
    reply = api.call("DELETE", "/users/alice", api.admin_token)
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    assert api.call("GET", "/users/alice", api.admin_token).status == 200
    remaining = list(EcgItem.query("alice"))
    for item in remaining:
        assert service.read("alice", item.ecg_id).leads[0].signal == BIG_SIGNAL
    assert sorted(lasting_objects("alice")) == sorted(item.signal_key for item in remaining)
    faults.times = 0
    assert api.call("DELETE", "/users/alice", api.admin_token).status == 204
    assert api.call("GET", "/users/alice", api.admin_token).status == 404
    assert EcgItem.count("alice") == 0 and stored_objects("alice") == {}


def test_authorizer_database_failure_is_503_not_500(api: Api, faults: FaultPlan):
    token = api.user_token("alice")
    faults.operation, faults.times = "GetItem", 10
    reply = api.call("GET", "/users/me", token)
    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"


# Lost answers: the database applied the write, the answer never arrived, botocore retried.


@pytest.mark.parametrize("times", [1, RETRY_BUDGET + 1])
def test_user_create_whose_answer_was_lost_is_201_not_409(api: Api, faults: FaultPlan, times: int):
    admin = api.admin_token
    fail(faults, "PutItem", 1, times)
    faults.kind = "lost"
    reply = api.call("POST", "/users", admin, {"username": "alice", "password": "user-password-1"})
    assert reply.status == 201 and faults.injected == times
    assert api.login("alice", "user-password-1")


@pytest.mark.parametrize("times", [1, RETRY_BUDGET + 1])
def test_password_change_whose_answer_was_lost_is_204_not_409(api: Api, faults: FaultPlan, times: int):
    token = api.user_token("alice")
    fail(faults, "UpdateItem", 1, times)
    faults.kind = "lost"
    change = {"current_password": "user-password-1", "new_password": "pass-word-2"}
    assert api.call("PUT", "/users/me/password", token, change).status == 204
    assert api.login("alice", "pass-word-2")


@pytest.mark.parametrize("times", [1, RETRY_BUDGET + 1])
def test_ecg_create_whose_answer_was_lost_is_201_not_409(api: Api, faults: FaultPlan, times: int):
    token = api.user_token("alice")
    fail(faults, "TransactWriteItems", 1, times)
    faults.kind = "lost"
    assert api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL)).status == 201
    assert api.call("GET", "/ecgs/ecg-1", token).json["leads"][0]["signal"] == BIG_SIGNAL
    assert EcgItem.count("alice") == 1


@pytest.mark.parametrize("times", [1, RETRY_BUDGET + 1])
def test_ecg_delete_whose_answer_was_lost_is_204_not_404(api: Api, faults: FaultPlan, times: int):
    token = api.user_token("alice")
    api.call("POST", "/ecgs", token, ecg(signal=BIG_SIGNAL))
    fail(faults, "TransactWriteItems", 1, times)
    faults.kind = "lost"
    assert api.call("DELETE", "/ecgs/ecg-1", token).status == 204
    assert api.call("GET", "/ecgs/ecg-1", token).status == 404
    assert stored_objects("alice") == {}


def test_a_failed_login_whose_answer_was_lost_counts_once(api: Api, faults: FaultPlan):
    api.create_user("alice")
    fail(faults, "PutItem", 1, 1)
    faults.kind = "lost"
    wrong = {"username": "alice", "password": "wrong-password"}
    assert api.call("POST", "/auth/token", body=wrong).status == 401
    stored = login_attempts.read("alice")
    assert len(stored.failures) == 1


@pytest.mark.parametrize("operation", ["GetItem", "PutItem", "BatchGetItem"])
def test_reset_connections_beyond_the_retry_budget_are_503_on_login_too(
    api: Api, faults: FaultPlan, operation: str
):
    token = api.user_token("alice")
    fail(faults, operation, 1, RETRY_BUDGET + 1)
    faults.kind = "reset"
    if operation == "BatchGetItem":
        reply = api.call("GET", "/users/me", token)
    else:
        reply = api.call("POST", "/auth/token", body={"username": "alice", "password": "user-password-1"})
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
