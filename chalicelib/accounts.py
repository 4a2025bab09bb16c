"""Accounts: login, registration, password changes and deletion (with the user's ECGs)."""

from __future__ import annotations

import secrets

import msgspec

from chalicelib.auth import passwords, throttle
from chalicelib.auth.secret import signing_keys
from chalicelib.auth.tokens import IssuedToken, Role, issue_token
from chalicelib.clock import now_iso
from chalicelib.errors import Conflict, NotFound, Unauthenticated
from chalicelib.rules import Password, Username, is_valid
from chalicelib.settings import get_settings
from chalicelib.store import ecgs, users
from chalicelib.store.models import UserItem

BAD_CREDENTIALS = "invalid username or password"


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    """Any strings: a username that breaks the rules simply fails like a wrong password."""

    username: str
    password: str


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    password: Password
    role: Role = Role.USER


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: Password


class UserView(msgspec.Struct):
    username: str
    role: str
    created_at: str


def user_view(user: UserItem) -> UserView:
    return UserView(user.username, user.role, user.created_at)


def _new_stamp() -> str:
    return secrets.token_hex(16)


def login(credentials: Credentials) -> IssuedToken:
    """Unknown user and wrong password take the same time and give the same answer."""
    settings = get_settings()
    throttle.reserve_attempt(credentials.username)
    found = users.get_user(credentials.username) if is_valid(credentials.username, Username) else None
    active = found if found is not None and not found.deleting else None
    password_hash = active.password_hash if active is not None else None
    password_matches = passwords.check_password(credentials.password, password_hash, settings.bcrypt_rounds)
    if active is None or not password_matches:
        raise Unauthenticated(BAD_CREDENTIALS, "invalid_credentials")
    throttle.succeeded(credentials.username)
    return issue_token(
        active.username, Role(active.role), active.stamp, signing_keys(), settings.token_ttl_seconds
    )


def register(new_user: NewUser, request_key: str | None = None) -> UserView:
    """`request_key` identifies a request the client may repeat (its Idempotency-Key)."""
    user = UserItem(
        new_user.username,
        role=new_user.role.value,
        password_hash=passwords.hash_password(new_user.password, get_settings().bcrypt_rounds),
        created_at=now_iso(),
        stamp=_new_stamp(),
        deleting=False,
    )
    users.create_user(user, request_key)
    return user_view(user)


def get_user(username: str) -> UserView:
    """An account being deleted is still shown until its deletion completes (retry the DELETE)."""
    user = users.get_user(username) if is_valid(username, Username) else None
    if user is None:
        raise NotFound("no such user", "user_not_found")
    return user_view(user)


def list_page(limit: int, after: str | None) -> tuple[list[UserView], str | None]:
    items, last = users.list_users(limit, after)
    return [user_view(user) for user in items], last


def change_password(username: str, change: PasswordChange) -> None:
    """Checks the current password; the new stamp invalidates every token issued before."""
    settings = get_settings()
    throttle.reserve_attempt(username)
    user = users.get_user(username)
    if user is None or not passwords.check_password(
        change.current_password, user.password_hash, settings.bcrypt_rounds
    ):
        raise Unauthenticated("current_password is incorrect", "invalid_credentials")
    throttle.succeeded(username)
    new_hash = passwords.hash_password(change.new_password, settings.bcrypt_rounds)
    users.set_password(username, user.stamp, new_hash, _new_stamp())


def delete_account(acting_admin: str, username: str) -> None:
    """Mark, then delete every ECG, then the account: a failure part-way can simply be retried."""
    if username == acting_admin:
        raise Conflict("an admin cannot delete their own account", "cannot_delete_self")
    if not is_valid(username, Username):
        raise NotFound("no such user", "user_not_found")
    users.mark_deleting(username)
    ecgs.delete_all_ecgs(username)
    users.delete_user_item(username)
