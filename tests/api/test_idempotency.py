"""Idempotency-Key on the creates: one execution per caller and key, replayed to repeats."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import accounts
from chalicelib.api.ecg_body import parse_ecg
from chalicelib.ecg import service
from chalicelib.store.models import EcgItem, UserItem
from tests.environment import RETRY_BUDGET
from tests.faults import FaultPlan
from tests.helpers import Api

ECG = {"date": "2026-11-27T10:00:00Z", "leads": [{"name": "I", "signal": [1, -1, 2]}]}


@pytest.fixture
def alice(api: Api) -> str:
    return api.user_token("alice")


def post_ecg(api: Api, token: str, key: str, body: dict[str, Any] = ECG) -> Any:
    return api.call("POST", "/ecgs", token, body, headers={"Idempotency-Key": key})


def test_a_repeated_create_without_an_id_is_replayed_not_duplicated(api: Api, alice: str):
    first = post_ecg(api, alice, "k-1")
    again = post_ecg(api, alice, "k-1")
    assert first.status == again.status == 201
    assert again.json == first.json and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotency-replayed"] == "true" and "idempotency-replayed" not in first.headers
    assert EcgItem.count("alice") == 1


def test_the_same_key_with_another_body_is_422(api: Api, alice: str):
    post_ecg(api, alice, "k-1")
    reply = post_ecg(api, alice, "k-1", {**ECG, "id": "other"})
    assert reply.status == 422 and reply.json["code"] == "idempotency_key_reused"
    assert EcgItem.count("alice") == 1


def test_keys_are_scoped_per_caller(api: Api, alice: str):
    bob = api.user_token("bob")
    assert post_ecg(api, alice, "shared").status == 201
    reply = post_ecg(api, bob, "shared")
    assert reply.status == 201 and "idempotency-replayed" not in reply.headers


def test_a_client_error_is_kept_and_replayed(api: Api, alice: str):
    post_ecg(api, alice, "k-1", {**ECG, "id": "taken"})
    first = post_ecg(api, alice, "k-2", {**ECG, "id": "taken"})
    again = post_ecg(api, alice, "k-2", {**ECG, "id": "taken"})
    assert first.status == again.status == 409 and again.headers["idempotency-replayed"] == "true"


def test_a_503_is_not_kept_so_the_repeat_runs(api: Api, alice: str, faults: FaultPlan):
    faults.operation, faults.times = "TransactWriteItems", RETRY_BUDGET + 1
    assert post_ecg(api, alice, "k-1").status == 503
    faults.times = 0
    reply = post_ecg(api, alice, "k-1")
    assert reply.status == 201 and "idempotency-replayed" not in reply.headers


def test_the_same_key_with_another_body_after_a_503_is_still_422(api: Api, alice: str, faults: FaultPlan):
    faults.operation, faults.occurrence, faults.times = "PutObject", 1, RETRY_BUDGET + 1
    assert post_ecg(api, alice, "k-1", {**ECG, "id": "first"}).status == 503
    faults.times = 0
    reply = post_ecg(api, alice, "k-1", {**ECG, "id": "second"})
    assert reply.status == 422 and reply.json["code"] == "idempotency_key_reused"
    assert EcgItem.count("alice") == 0


def test_user_creation_is_replayed_too(api: Api):
    body = {"username": "carol", "password": "carol-password"}
    headers = {"Idempotency-Key": "new-carol"}
    first = api.call("POST", "/users", api.admin_token, body, headers=headers)
    again = api.call("POST", "/users", api.admin_token, body, headers=headers)
    assert (first.status, again.status) == (201, 201) and again.headers["idempotency-replayed"] == "true"
    assert UserItem.count() == 2  # the admin and carol


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_key_that_is_not_1_to_255_printable_ascii_is_400(api: Api, alice: str, key: str):
    reply = post_ecg(api, alice, key)
    assert reply.status == 400 and reply.json["code"] == "invalid_idempotency_key"


def test_a_create_run_again_with_the_same_request_key_finds_its_own_ecg(api: Api, alice: str):
    """What a repeat does after a 503 whose write had in fact been applied: no second ECG."""
    upload = parse_ecg(json.dumps(ECG).encode(), "application/json")
    first = service.create("alice", upload, "request-key-1")
    again = service.create("alice", upload, "request-key-1")
    assert again == first and EcgItem.count("alice") == 1


def test_a_registration_run_again_with_the_same_request_key_is_its_own(api: Api):
    new_user = accounts.NewUser("carol", "carol-password")
    assert accounts.register(new_user, "request-key-1") == accounts.register(new_user, "request-key-1")
