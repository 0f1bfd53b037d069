"""The rate limiter shared through Redis: exact for small limits, and for large ones never more
than the limit however the workers' reservations fall."""

from __future__ import annotations

import secrets
import time

from serving.gateway.ratelimit import RateLimiter

REDIS = "redis://127.0.0.1:6379/0"


def window_of(limiters: list[RateLimiter], prefix: str, limit: int, requests: int) -> list[int]:
    """Requests spread round-robin over the limiters (workers) within one second-window."""
    for _attempt in range(3):
        start = int(time.time())
        answers = [limiters[n % len(limiters)].retry_after(prefix, limit) for n in range(requests)]
        if int(time.time()) == start:
            return answers
        prefix += "x"
    raise AssertionError("could not stay within one second")


def test_a_small_limit_is_exact_across_workers():
    workers = [RateLimiter(REDIS), RateLimiter(REDIS)]
    answers = window_of(workers, secrets.token_hex(6), 5, 12)
    assert answers.count(0) == 5 and answers.count(1) == 7


def test_a_large_limit_lets_through_no_more_than_the_limit_and_nearly_all_of_it():
    workers = [RateLimiter(REDIS), RateLimiter(REDIS), RateLimiter(REDIS)]
    answers = window_of(workers, secrets.token_hex(6), 500, 700)
    assert 500 - 3 * (500 // 50) <= answers.count(0) <= 500


def test_without_redis_each_worker_counts_in_memory():
    limiter = RateLimiter(None)
    answers = window_of([limiter], secrets.token_hex(6), 3, 5)
    assert answers == [0, 0, 0, 1, 1]
