"""Requests per second per application key, counted in a shared cache.

With ``REDIS_URL`` set the workers share the count in Redis, reserving tokens from it (see
``_reserve``); without it (embedded mode) each worker counts in its own memory. A fixed one-second window: the
answer to a request over the limit is 429 with ``Retry-After``.
"""

from __future__ import annotations

import threading
import time

import redis


class LimiterUnavailable(RuntimeError):
    """The shared counter cannot be reached; the gateway refuses rather than serve unlimited."""


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=0.5) if redis_url else None
        self._local: dict[str, int] = {}
        self._window = 0
        # Tokens this worker reserved in Redis for the current window: prefix -> remaining.
        self._leases: dict[str, int] = {}
        self._lock = threading.Lock()

    def retry_after(self, prefix: str, limit: int) -> int:
        """Count one request of key ``prefix``; return 0 when it is within ``limit`` per
        second, else the seconds to wait before retrying."""
        window = int(time.time())
        with self._lock:
            if window != self._window:
                self._local, self._leases, self._window = {}, {}, window
            if self.redis is None:
                count = self._local[prefix] = self._local.get(prefix, 0) + 1
                return 0 if count <= limit else 1
            if self._leases.get(prefix, 0) > 0:
                self._leases[prefix] -= 1
                return 0
        granted = self._reserve(prefix, limit, window)
        if granted <= 0:
            return 1
        with self._lock:
            if window == self._window:
                self._leases[prefix] = self._leases.get(prefix, 0) + granted - 1
        return 0

    def _reserve(self, prefix: str, limit: int, window: int) -> int:
        """Reserve tokens of this window in Redis: one at a time for small limits (exact), 2%
        of the limit at a time for large ones (one round trip per 2% of the traffic instead of
        one per request; tokens a worker reserved but did not use make the others refuse at
        most that much early, never let more through)."""
        chunk = max(1, limit // 50)
        key = f"assay:gateway:rate:{prefix}:{window}"
        try:
            pipe = self.redis.pipeline(transaction=False)  # type: ignore[union-attr]
            pipe.incrby(key, chunk)
            pipe.expire(key, 2)
            total = int(pipe.execute()[0])
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {exc}") from exc
        return min(chunk, limit - (total - chunk))
