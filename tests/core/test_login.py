"""Signing in and out, and login throttling that a forged X-Forwarded-For cannot get around."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from core.models import AuditEvent, User
from core.net import client_ip
from tests.conftest import PASSWORD

LOGIN = "/login/"


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    """Throttle counters live in the (process-wide) cache; each test starts from zero."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 8
    settings.TRUSTED_PROXY_COUNT = 0
    cache.clear()
    yield
    cache.clear()


def sign_in(client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_login_starts_a_session_and_records_the_address(client, dana):
    response = sign_in(client, "dana", PASSWORD, REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302 and response.url == "/"
    assert is_signed_in(client)
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor_username, event.payload["ip"]) == ("dana", "192.0.2.10")


def test_a_wrong_password_is_refused(client, dana):
    response = sign_in(client, "dana", "not the password")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not is_signed_in(client)
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_logout_ends_the_session_and_needs_post(client, dana):
    sign_in(client, "dana", PASSWORD)
    assert client.get("/logout/").status_code == 405  # a link or <img> cannot sign you out
    assert is_signed_in(client)
    response = client.post("/logout/", follow=True)
    assert response.redirect_chain[0] == ("/login/", 302)
    assert "You are signed out." in response.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="dana").count() == 1


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and response.url == "/login/?next=/account/tokens/"


def test_the_account_is_throttled_after_its_failures_whatever_the_address(client, dana):
    for n in range(5):
        sign_in(client, "dana", "guess", REMOTE_ADDR=f"198.51.100.{n}")
    response = sign_in(client, "dana", PASSWORD, REMOTE_ADDR="203.0.113.99")
    assert "Too many failed sign-ins for this account" in response.content.decode()
    assert not is_signed_in(client)


def test_the_throttle_refuses_before_checking_the_password(client, dana, monkeypatch):
    for _ in range(5):
        sign_in(client, "dana", "guess")
    checked: list[str] = []
    original = User.check_password

    def spy(self, raw_password):
        checked.append(raw_password)
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", spy)
    response = sign_in(client, "dana", PASSWORD)
    assert "Too many failed sign-ins" in response.content.decode()
    assert checked == []  # a guessing run learns nothing once throttled
    assert not AuditEvent.objects.filter(action="auth.login", actor_username="dana").exists()


def test_the_address_is_throttled_across_accounts(client, dana, frank):
    for n in range(8):
        sign_in(client, f"nobody{n}", "guess", REMOTE_ADDR="192.0.2.50")
    response = sign_in(client, "frank", PASSWORD, REMOTE_ADDR="192.0.2.50")
    assert "Too many failed sign-ins from your address" in response.content.decode()
    assert not is_signed_in(client)
    # Another address is unaffected.
    assert sign_in(client, "frank", PASSWORD, REMOTE_ADDR="192.0.2.51").status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(client, frank):
    """With no trusted proxy (the default) X-Forwarded-For is ignored entirely."""
    for n in range(8):
        sign_in(client, f"nobody{n}", "guess", REMOTE_ADDR="192.0.2.60",
                HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")
    response = sign_in(client, "frank", PASSWORD, REMOTE_ADDR="192.0.2.60",
                       HTTP_X_FORWARDED_FOR="10.1.1.1")
    assert "Too many failed sign-ins from your address" in response.content.decode()


def test_behind_one_trusted_proxy_the_right_most_forwarded_address_is_the_client(
        client, frank, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for n in range(8):
        # What the client writes (left) varies; what our proxy appended (right) does not.
        sign_in(client, f"nobody{n}", "guess", REMOTE_ADDR=proxy,
                HTTP_X_FORWARDED_FOR=f"172.16.0.{n}, 203.0.113.7")
    refused = sign_in(client, "frank", PASSWORD, REMOTE_ADDR=proxy,
                      HTTP_X_FORWARDED_FOR="172.16.9.9, 203.0.113.7")
    assert "Too many failed sign-ins from your address" in refused.content.decode()
    # Another client behind the same proxy is not punished for it.
    other = sign_in(client, "frank", PASSWORD, REMOTE_ADDR=proxy,
                    HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 302


@pytest.mark.parametrize(("hops", "forwarded", "expected"), [
    (0, "1.1.1.1, 2.2.2.2", "192.0.2.1"),      # header ignored without trusted proxies
    (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),        # right-most: what our proxy saw
    (2, "1.1.1.1, 2.2.2.2, 3.3.3.3", "2.2.2.2"),
    (2, "3.3.3.3", "192.0.2.1"),               # fewer entries than proxies: not trustworthy
    (1, "", "192.0.2.1"),                      # no header at all
    (1, " , 2.2.2.2 ,", "2.2.2.2"),            # blanks and stray commas are skipped
])
def test_client_ip(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", **extra)
    assert client_ip(request) == expected


def test_a_success_resets_the_account_counter_but_not_the_address_counter(client, dana):
    for _ in range(4):
        sign_in(client, "dana", "guess", REMOTE_ADDR="192.0.2.70")
    assert sign_in(client, "dana", PASSWORD, REMOTE_ADDR="192.0.2.70").status_code == 302
    client.post("/logout/")
    # Four more failures would reach five in all had the success not reset the account count.
    for _ in range(4):
        sign_in(client, "dana", "guess", REMOTE_ADDR="192.0.2.71")
    assert sign_in(client, "dana", PASSWORD, REMOTE_ADDR="192.0.2.71").status_code == 302
    client.post("/logout/")
    # The first address still carries its four failures: four more reach its limit of eight.
    for n in range(4):
        sign_in(client, f"nobody{n}", "guess", REMOTE_ADDR="192.0.2.70")
    refused = sign_in(client, "dana", PASSWORD, REMOTE_ADDR="192.0.2.70")
    assert "Too many failed sign-ins from your address" in refused.content.decode()


def test_the_username_is_throttled_whatever_its_case(client, dana):
    for _ in range(5):
        sign_in(client, "DANA", "guess")
    assert "Too many failed sign-ins" in sign_in(client, "dana", PASSWORD).content.decode()


def test_a_deactivated_user_cannot_sign_in(client, dana):
    User.objects.filter(pk=dana.pk).update(is_active=False)
    response = sign_in(client, "dana", PASSWORD)
    assert response.status_code == 200
    assert not is_signed_in(client)


def test_the_open_redirect_is_refused(client, dana):
    response = client.post(LOGIN + "?next=https://evil.example/", {
        "username": "dana", "password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == "/"
