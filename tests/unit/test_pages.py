from __future__ import annotations

import pytest

from chalicelib.api.pages import decode_page_token, encode_page_token
from chalicelib.errors import BadRequest
from chalicelib.rules import EcgId


def test_page_token_round_trips():
    assert decode_page_token(encode_page_token("ecg:42"), EcgId) == "ecg:42"


@pytest.mark.parametrize("token", ["", "!!!", "not-base64-json", "e30", "eyJrIjogMX0", "é"])
def test_garbage_page_token_is_a_bad_request(token: str):
    with pytest.raises(BadRequest):
        decode_page_token(token, EcgId)


def test_page_token_with_a_key_the_rule_rejects_is_a_bad_request():
    with pytest.raises(BadRequest):
        decode_page_token(encode_page_token("bad key"), EcgId)
