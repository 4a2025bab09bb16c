"""Idempotency-Key over real HTTP against the local stack, as mobile clients retry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import ADMIN, Stack

ECG = {
    "date": "2026-11-27T10:00:00Z",
    "sampling_rate_hz": 360,
    "leads": [{"name": "I", "signal": [3, -1, 4]}],
}


def user_token(stack: Stack, name: str) -> str:
    admin = stack.login(*ADMIN)
    assert stack.call("POST", "/users", admin, {"username": name, "password": "idem-password"}).status == 201
    return stack.login(name, "idem-password")


def test_parallel_repeats_of_one_key_store_one_ecg_and_all_get_its_answer(stack: Stack):
    token = user_token(stack, "idem-parallel")

    def post(_: int) -> tuple[int, str]:
        reply = stack.call("POST", "/ecgs", token, ECG, headers={"Idempotency-Key": "tap-once"})
        return reply.status, reply.json["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(post, range(6)))
    assert {status for status, _ in outcomes} == {201}
    assert len({ecg_id for _, ecg_id in outcomes}) == 1
    assert len(stack.call("GET", "/ecgs", token).json["items"]) == 1


def test_a_reused_key_with_another_body_is_422_over_http(stack: Stack):
    token = user_token(stack, "idem-reuse")
    assert stack.call("POST", "/ecgs", token, ECG, headers={"Idempotency-Key": "k"}).status == 201
    other = {**ECG, "leads": [{"name": "I", "signal": [9]}]}
    reply = stack.call("POST", "/ecgs", token, other, headers={"Idempotency-Key": "k"})
    assert reply.status == 422 and reply.json["code"] == "idempotency_key_reused"
