"""Login throttling per account and per client address, in the shared cache.

Failures are counted in a fixed window; at the limit, further attempts are refused before the
password is even checked, so a guessing run learns nothing. A success clears the account's count.

When the cache cannot be reached (Redis down), the throttle fails *closed*: sign-ins and
sign-offs, which check a password, are refused with 503 and Retry-After until it is back, since
passwords checked without counting failures would allow unlimited guesses (docs/outages.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from redis.exceptions import RedisError

from core.errors import Unavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_ERRORS = (RedisError, OSError, DatabaseError)
CACHE_DOWN = ("Signing in and signing off are briefly unavailable: Assay cannot reach the store "
              "that counts failed passwords, and does not check passwords without counting them. "
              "Try again in a minute.")


def _cached(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except CACHE_ERRORS as exc:
        logger.error("login throttle: cache unreachable, refusing password checks: %r", exc)
        raise Unavailable(CACHE_DOWN) from exc


def _key(kind: str, value: str) -> str:
    return f"login-fail:{kind}:{hashlib.sha256(value.lower().encode()).hexdigest()[:32]}"


def _count(key: str) -> int:
    return int(_cached(lambda: cache.get(key, 0)))


def _bump(key: str) -> None:
    _cached(lambda: _increment(key))


def _increment(key: str) -> None:
    window = settings.LOGIN_THROTTLE_WINDOW_S
    if cache.add(key, 1, timeout=window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)


def refusal(username: str, ip: str) -> str | None:
    """Why a login attempt must be refused now, or None if it may go ahead. Raises
    ``Unavailable`` (503) when the cache that holds the counts cannot be reached."""
    minutes = max(1, settings.LOGIN_THROTTLE_WINDOW_S // 60)
    if _count(_key("user", username)) >= settings.LOGIN_FAILURES_PER_ACCOUNT:
        return (f"Too many failed sign-ins for this account. Wait {minutes} minutes and try again, "
                "or ask an administrator to reset your password.")
    if _count(_key("ip", ip)) >= settings.LOGIN_FAILURES_PER_ADDRESS:
        return f"Too many failed sign-ins from your address. Wait {minutes} minutes and try again."
    return None


def failed(username: str, ip: str) -> None:
    _bump(_key("user", username))
    _bump(_key("ip", ip))


def succeeded(username: str) -> None:
    _cached(lambda: cache.delete(_key("user", username)))
