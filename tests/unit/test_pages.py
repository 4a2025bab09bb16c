from __future__ import annotations

import pytest

from chalicelib.errors import BadRequest
from chalicelib.store.pages import decode_page_token, encode_page_token


def always(_: str) -> bool:
    return True


def test_page_token_round_trips():
    assert decode_page_token(encode_page_token("ecg:42"), always) == "ecg:42"


@pytest.mark.parametrize("token", ["", "!!!", "not-base64-json", "e30", "eyJrIjogMX0", "é"])
def test_garbage_page_token_is_a_bad_request(token: str):
    with pytest.raises(BadRequest):
        decode_page_token(token, always)


def test_page_token_with_a_key_the_caller_rejects_is_a_bad_request():
    with pytest.raises(BadRequest):
        decode_page_token(encode_page_token("bad key"), lambda key: " " not in key)
