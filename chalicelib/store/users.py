"""The users repository: the only code that reads or writes the users table."""

from __future__ import annotations

from chalicelib.errors import Conflict, NotFound
from chalicelib.store.failures import aws_call, new_write_token, own_write
from chalicelib.store.models import UserItem
from chalicelib.store.pages import split_page


def get_user(username: str) -> UserItem | None:
    with aws_call():
        try:
            return UserItem.get(username, consistent_read=True)
        except UserItem.DoesNotExist:
            return None


def create_user(user: UserItem, write_token: str | None = None) -> None:
    """Conditional put: an existing username is a 409, never an overwrite, unless it is this
    request's own write (its write token: the request's Idempotency-Key when it has one),
    applied by an attempt whose answer was lost; `user` then takes the stored time."""
    user.write_token = token = write_token or new_write_token()

    def applied() -> bool:
        found = get_user(user.username)
        if found is None or found.write_token != token:
            return False
        user.created_at = found.created_at
        return True

    with (
        own_write(applied),
        aws_call(lambda: Conflict(f"user {user.username!r} already exists", "username_taken")),
    ):
        user.save(condition=UserItem.username.does_not_exist())


def list_users(limit: int, after: str | None) -> tuple[list[UserItem], str | None]:
    """One page; asks for one extra item so the last page has no next token."""
    start = {"username": {"S": after}} if after else None
    with aws_call():
        items = list(UserItem.scan(limit=limit + 1, last_evaluated_key=start, consistent_read=True))
    return split_page(items, limit, lambda user: user.username)


def set_password(username: str, stamp: str, password_hash: str, new_stamp: str) -> None:
    """Replace the hash and the stamp, only if no other change happened in between; the new
    stamp is random, so finding it in place means this request's change was applied."""

    def applied() -> bool:
        found = get_user(username)
        return found is not None and found.stamp == new_stamp

    with (
        own_write(applied),
        aws_call(lambda: Conflict("the account changed meanwhile; sign in again", "account_changed")),
    ):
        UserItem(username).update(
            actions=[UserItem.password_hash.set(password_hash), UserItem.stamp.set(new_stamp)],
            condition=UserItem.stamp == stamp,
        )


def mark_deleting(username: str) -> None:
    """First step of a delete: the account stops authenticating and accepting ECGs."""
    with aws_call(lambda: NotFound("no such user", "user_not_found")):
        UserItem(username).update(actions=[UserItem.deleting.set(True)], condition=UserItem.username.exists())


def delete_user_item(username: str) -> None:
    with aws_call():
        UserItem(username).delete()
