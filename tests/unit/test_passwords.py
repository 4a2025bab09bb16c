from __future__ import annotations

from chalicelib.auth.passwords import check_password, hash_password

ROUNDS = 4


def test_correct_password_checks():
    assert check_password("correct horse", hash_password("correct horse", ROUNDS), ROUNDS)


def test_wrong_password_does_not_check():
    assert not check_password("wrong horse", hash_password("correct horse", ROUNDS), ROUNDS)


def test_passwords_sharing_their_first_72_bytes_are_different():
    common = "x" * 72
    hashed = hash_password(common + "a", ROUNDS)
    assert not check_password(common + "b", hashed, ROUNDS)


def test_128_multibyte_characters_work():
    password = "🫀" * 128
    assert check_password(password, hash_password(password, ROUNDS), ROUNDS)


def test_unknown_user_never_checks():
    assert not check_password("anything", None, ROUNDS)


def test_hash_is_bcrypt_and_does_not_contain_the_password():
    hashed = hash_password("a-secret-password", ROUNDS)
    assert hashed.startswith("$2b$04$")
    assert "a-secret-password" not in hashed
