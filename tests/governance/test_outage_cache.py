"""Redis, which holds the sign-in throttle's counts, goes down: a redis-server of the test's own,
stopped and started again. Passwords are then not checked at all — sign-ins and sign-offs answer
503 with Retry-After (never a 500, never unlimited guesses) — and work again once it is back."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from core import throttle
from tests.conftest import PASSWORD
from tests.outage_services import own_redis

pytestmark = pytest.mark.outage
SIGN_OFF = "/api/v1/versions/{}/sign-off/"


@pytest.fixture
def redis_cache(settings, tmp_path):
    server = own_redis(tmp_path / "redis")
    server.start()
    original = settings.CACHES
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{server.port}/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    yield server
    settings.CACHES = original  # back before Redis stops: other fixtures clear the cache
    server.stop()


def test_without_redis_sign_ins_and_sign_offs_are_refused_with_503(redis_cache, client, api,
                                                                     walk, draft, boris):
    walk.to_pending(draft)
    wrong = client.post("/login/", {"username": "boris", "password": "guess"})
    assert wrong.status_code == 200 and "Please enter a correct username" in wrong.content.decode()
    assert cache.get(throttle._key("user", "boris")) == 1  # counted in Redis

    redis_cache.stop()
    for password in ["guess"] * 10 + [PASSWORD]:
        login = client.post("/login/", {"username": "boris", "password": password})
        assert login.status_code == 503 and int(login["Retry-After"]) > 0
        assert "Assay is briefly unavailable" in login.content.decode()
        assert "does not check passwords without counting them" in login.content.decode()
    assert "_auth_user_id" not in client.session
    signed = api.as_(boris).post(SIGN_OFF.format(draft.pk), {
        "decision": "approve", "comment": "Fine.", "password": PASSWORD}, format="json")
    assert signed.status_code == 503 and signed["Retry-After"]
    assert signed.json()["code"] == "unavailable"
    assert draft.signoffs.count() == 0

    redis_cache.start()
    login = client.post("/login/", {"username": "boris", "password": PASSWORD})
    assert login.status_code == 302
    signed = api.as_(boris).post(SIGN_OFF.format(draft.pk), {
        "decision": "approve", "comment": "Fine.", "password": PASSWORD}, format="json")
    assert signed.status_code == 201, signed.json()
