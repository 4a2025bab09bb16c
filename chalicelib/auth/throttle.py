"""Login throttling: after N failed logins for a username within the lockout period, every
attempt for it is refused (429) until that period has passed since the last failure.

An attempt is reserved as a failure *before* the password is checked, so parallel guesses
cannot all pass the check while the count is still low; a successful login clears the record.
Unknown usernames are counted the same way, so a 429 reveals nothing about accounts.
"""

from __future__ import annotations

import math
import time

from chalicelib.errors import TooManyRequests, Unavailable
from chalicelib.settings import get_settings
from chalicelib.store import login_attempts

RESERVE_ATTEMPTS = 20  # optimistic writes that lose to a parallel attempt are tried again


def locked_for(failures: list[float], now: float, limit: int, lockout: float) -> float:
    """Seconds left of a lockout: `limit` failures within `lockout` seconds, counted to the last."""
    if len(failures) < limit or failures[-1] - failures[-limit] > lockout:
        return 0.0
    return max(0.0, failures[-1] + lockout - now)


def reserve_attempt(username: str) -> None:
    """Count this attempt as failed unless the username is locked out (then 429)."""
    settings = get_settings()
    limit, lockout = settings.login_max_failures, float(settings.login_lockout_seconds)
    for _ in range(RESERVE_ATTEMPTS):
        seen = login_attempts.read(username)
        now = time.time()
        remaining = locked_for(seen.failures, now, limit, lockout)
        if remaining > 0:
            raise TooManyRequests(
                "too many failed logins for this username; retry later",
                math.ceil(remaining),
                "login_throttled",
            )
        recent = [failure for failure in seen.failures if failure > now - lockout]
        kept = recent[max(0, len(recent) - limit + 1) :]
        if login_attempts.replace(username, seen, [*kept, now], expires_at=now + lockout):
            return
    raise Unavailable()


def succeeded(username: str) -> None:
    login_attempts.clear(username)
