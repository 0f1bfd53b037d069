"""Login throttling per account and per client address, in the shared cache.

Failures are counted in a fixed window; at the limit, further attempts are refused before the
password is even checked, so a guessing run learns nothing. A success clears the account's count.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    return f"login-fail:{kind}:{hashlib.sha256(value.lower().encode()).hexdigest()[:32]}"


def _count(key: str) -> int:
    return int(cache.get(key, 0))


def _bump(key: str) -> None:
    window = settings.LOGIN_THROTTLE_WINDOW_S
    if cache.add(key, 1, timeout=window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)


def refusal(username: str, ip: str) -> str | None:
    """Why a login attempt must be refused now, or None if it may go ahead."""
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
    cache.delete(_key("user", username))
