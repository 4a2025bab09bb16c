"""Accounts: login, registration, password changes and deletion (with the user's ECGs)."""

from __future__ import annotations

import re
import secrets
from typing import Annotated
from urllib.parse import parse_qs

import msgspec

from chalicelib.auth import passwords
from chalicelib.auth.secret import signing_secret
from chalicelib.auth.tokens import IssuedToken, Role, issue_token
from chalicelib.clock import now_iso
from chalicelib.errors import BadRequest, Conflict, NotFound, Unauthenticated
from chalicelib.http_body import check_size, decode_json, media_type
from chalicelib.settings import get_settings
from chalicelib.store import ecgs, users
from chalicelib.store.models import UserItem

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{3,64}")
RESERVED_USERNAMES = frozenset({"me"})
BAD_CREDENTIALS = "invalid username or password"
FORM = "application/x-www-form-urlencoded"

Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


class NewUserBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: Password
    role: Role = Role.USER


class PasswordChangeBody(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: Password


def is_valid_username(username: str) -> bool:
    return USERNAME_PATTERN.fullmatch(username) is not None and username not in RESERVED_USERNAMES


def user_view(user: UserItem) -> dict[str, str]:
    return {"username": user.username, "role": user.role, "created_at": user.created_at}


def _new_stamp() -> str:
    return secrets.token_hex(16)


def _login_form(raw_body: bytes) -> LoginBody:
    check_size(raw_body)
    try:
        fields = parse_qs(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw_body))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed form body") from None
    grant_type = fields.get("grant_type", ["password"])[-1]
    if grant_type != "password":
        raise BadRequest("unsupported grant_type; only `password` is supported")
    missing = [name for name in ("username", "password") if name not in fields]
    if missing:
        raise BadRequest(f"missing form field(s): {', '.join(missing)}")
    return LoginBody(fields["username"][-1], fields["password"][-1])


def login(raw_body: bytes, content_type: str | None) -> IssuedToken:
    """Unknown user and wrong password take the same time and give the same answer."""
    if media_type(content_type) == FORM:
        body = _login_form(raw_body)
    else:
        body = decode_json(raw_body, content_type, LoginBody)
    settings = get_settings()
    found = users.get_user(body.username) if is_valid_username(body.username) else None
    user = found if found is not None and not found.deleting else None
    password_hash = user.password_hash if user is not None else None
    if not passwords.check_password(body.password, password_hash, settings.bcrypt_rounds) or user is None:
        raise Unauthenticated(BAD_CREDENTIALS)
    return issue_token(
        user.username, Role(user.role), user.stamp, signing_secret(), settings.token_ttl_seconds
    )


def register(username: str, password: str, role: Role) -> UserItem:
    if not is_valid_username(username):
        raise BadRequest(
            "invalid body: `username` must be 3-64 characters of A-Z a-z 0-9 . _ @ - and not `me`"
            " - at `$.username`"
        )
    if not 8 <= len(password) <= 128:
        raise BadRequest("invalid body: `password` must be 8-128 characters - at `$.password`")
    user = UserItem(
        username,
        role=role.value,
        password_hash=passwords.hash_password(password, get_settings().bcrypt_rounds),
        created_at=now_iso(),
        stamp=_new_stamp(),
        deleting=False,
    )
    users.create_user(user)
    return user


def register_from_body(raw_body: bytes, content_type: str | None) -> UserItem:
    body = decode_json(raw_body, content_type, NewUserBody)
    return register(body.username, body.password, body.role)


def get_existing_user(username: str) -> UserItem:
    """An account being deleted is still shown until its deletion completes (retry the DELETE)."""
    user = users.get_user(username) if is_valid_username(username) else None
    if user is None:
        raise NotFound("no such user")
    return user


def list_page(limit: int, after: str | None) -> tuple[list[UserItem], str | None]:
    return users.list_users(limit, after)


def change_password(username: str, raw_body: bytes, content_type: str | None) -> None:
    """Checks the current password; the new stamp invalidates every token issued before."""
    body = decode_json(raw_body, content_type, PasswordChangeBody)
    settings = get_settings()
    user = users.get_user(username)
    if user is None or not passwords.check_password(
        body.current_password, user.password_hash, settings.bcrypt_rounds
    ):
        raise Unauthenticated("current_password is incorrect")
    new_hash = passwords.hash_password(body.new_password, settings.bcrypt_rounds)
    users.set_password(username, user.stamp, new_hash, _new_stamp())


def delete_account(acting_admin: str, username: str) -> None:
    """Mark, then delete every ECG, then the account: a failure part-way can simply be retried."""
    if username == acting_admin:
        raise Conflict("an admin cannot delete their own account")
    if not is_valid_username(username):
        raise NotFound("no such user")
    users.mark_deleting(username)
    ecgs.delete_all_ecgs(username)
    users.delete_user_item(username)
