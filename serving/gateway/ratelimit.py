"""Requests per second per application key, counted in a shared cache.

With ``REDIS_URL`` set every worker counts in Redis (one pipelined round trip per request);
without it (embedded mode) each worker counts in its own memory. A fixed one-second window: the
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
        self._lock = threading.Lock()

    def retry_after(self, prefix: str, limit: int) -> int:
        """Count one request of key ``prefix``; return 0 when it is within ``limit`` per
        second, else the seconds to wait before retrying."""
        window = int(time.time())
        if self.redis is not None:
            key = f"assay:gateway:rate:{prefix}:{window}"
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.incr(key)
                pipe.expire(key, 2)
                count = int(pipe.execute()[0])
            except redis.RedisError as exc:
                raise LimiterUnavailable(f"The rate limiter's Redis cannot be reached: {exc}") from exc
        else:
            with self._lock:
                if window != self._window:
                    self._local, self._window = {}, window
                count = self._local[prefix] = self._local.get(prefix, 0) + 1
        return 0 if count <= limit else 1
