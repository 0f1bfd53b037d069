"""Signing out of Assay after signing in through the provider signs out at the provider too
(OpenID Connect RP-Initiated Logout): the browser goes on to the provider's end_session_endpoint
with the ID token as its hint, Assay's client id and Assay's sign-in page to come back to. A
break-glass administrator's password session signs out of Assay only, as every session does when
provider sign-out is switched off. The whole round trip in a browser is in
tests/browser/test_sso_flow.py."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from core.models import AuditEvent, Role
from core.sso import provider as sso_provider
from core.sso.checks import sso_settings
from tests.conftest import PASSWORD
from tests.sso.idp import CLIENT_ID, Provider, sign_in_with_sso

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parents[2]


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def advertised_end_session(provider: Provider) -> str:
    document = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10)
    return str(document.json()["end_session_endpoint"])


def logout_event() -> AuditEvent:
    return AuditEvent.objects.get(action="auth.logout")


def test_signing_out_after_single_sign_on_goes_on_to_the_providers_sign_out(client, sso, teams):
    sign_in_with_sso(client, sso, "vera")

    response = client.post("/logout/")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == advertised_end_session(sso)
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    hint = claims_of(query["id_token_hint"][0])
    assert (hint["iss"], hint["sub"], hint["aud"]) == (sso.issuer, "idp-0001-vera", CLIENT_ID)
    assert client.get("/").status_code == 302  # Assay's session has ended already
    event = logout_event()
    assert (event.actor_username, event.payload) == ("vera", {"at_provider": True})


def test_a_break_glass_administrators_sign_out_stays_in_assay(client, sso, make_user):
    make_user("rescue", Role.ADMIN)
    # Refused through the provider first (break-glass accounts never sign in there): the
    # refusal drops the provider's ID token from the session; then in with the password.
    assert sign_in_with_sso(client, sso, "rescue").status_code == 403
    assert "oidc_id_token" not in client.session
    client.post("/login/?break_glass=1", {"username": "rescue", "password": PASSWORD})
    assert client.get("/").status_code == 200

    response = client.post("/logout/")

    assert response["Location"] == "/login/"
    assert client.get("/").status_code == 302
    assert (logout_event().actor_username, logout_event().payload) == ("rescue", {})


def test_provider_sign_out_switched_off_keeps_no_id_token_and_signs_out_of_assay_only(
        client, sso, settings, teams):
    # What ASSAY_OIDC_PROVIDER_LOGOUT=false sets.
    settings.OIDC_PROVIDER_LOGOUT = False
    settings.OIDC_STORE_ID_TOKEN = False
    sign_in_with_sso(client, sso, "vera")
    assert "oidc_id_token" not in client.session

    response = client.post("/logout/")

    assert response["Location"] == "/login/"
    assert logout_event().payload == {}


def test_an_end_session_endpoint_set_by_hand_is_used(client, sso, settings, teams):
    settings.OIDC_OP_END_SESSION_ENDPOINT = "https://login.bank.example/logout?realm=main"
    sign_in_with_sso(client, sso, "vera")

    location = client.post("/logout/")["Location"]

    assert location.startswith("https://login.bank.example/logout?realm=main&id_token_hint=")


def test_a_provider_without_an_end_session_endpoint_means_signing_out_of_assay_only(
        client, sso, teams, monkeypatch):
    sign_in_with_sso(client, sso, "vera")
    document = {key: value for key, value in sso_provider.discovery().items()
                if key != "end_session_endpoint"}
    monkeypatch.setitem(sso_provider._DISCOVERED, sso.issuer, document)

    assert client.post("/logout/")["Location"] == "/login/"


def test_a_provider_that_does_not_answer_at_sign_out_still_signs_out_of_assay(
        client, sso, settings, teams):
    sign_in_with_sso(client, sso, "vera")
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = client.post("/logout/", follow=True)

    assert response.redirect_chain == [("/login/", 302)]
    page = response.content.decode()
    assert "Test IdP could not be reached to sign you out there too" in page
    assert "You are signed out." in page
    assert client.get("/").status_code == 302
    assert logout_event().payload == {}


def test_signing_out_stays_a_post_with_its_csrf_token(sso, teams):
    browser = Client(enforce_csrf_checks=True)
    sign_in_with_sso(browser, sso, "vera")

    assert browser.get("/logout/").status_code == 405
    assert browser.post("/logout/").status_code == 403  # no CSRF token
    assert browser.get("/").status_code == 200
    assert not AuditEvent.objects.filter(action="auth.logout").exists()


def test_a_malformed_end_session_endpoint_fails_the_start_up_check(settings, sso):
    settings.OIDC_OP_END_SESSION_ENDPOINT = "login.bank.example/logout"

    [message] = [message.msg for message in sso_settings()]

    assert message.startswith("ASSAY_OIDC_END_SESSION_ENDPOINT must be the provider's "
                              "end-session URL (https://...), got 'login.bank.example/logout'")


def test_a_malformed_provider_sign_out_switch_stops_start_up_naming_it():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT, capture_output=True, text=True,
        env={**os.environ, "ASSAY_OIDC_PROVIDER_LOGOUT": "sometimes"}, timeout=120)

    assert result.returncode != 0
    assert "ASSAY_OIDC_PROVIDER_LOGOUT must be true or false, got 'sometimes'" in result.stderr
