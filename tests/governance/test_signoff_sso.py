"""Sign-offs under single sign-on: the electronic signature is a fresh sign-in at the identity
provider (prompt=login, max_age=0), checked on return: the ID token's auth_time must be after the
signing started and within ASSAY_OIDC_REAUTH_WINDOW_S, and its subject the signer's. Anything
else records nothing and keeps the decision and comment on the form. Against the real provider
of tests/sso."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from core import services
from core.errors import WrongPassword
from core.models import AuditEvent
from core.sso.reauth import Reauthentication, reauthentication_problem
from governance import services as governance
from governance.models import SignOff
from registry.models import VersionState
from tests.conftest import PASSWORD
from tests.sso.idp import sign_in_with_sso

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(walk, draft, client, sso, boris):
    """A version pending approval, and boris (review board) signed in through the provider."""
    version = walk.to_pending(draft)
    assert sign_in_with_sso(client, sso, "boris").status_code == 302
    return version


def sign_url(version) -> str:
    return reverse("governance:sign", args=[version.model.slug, version.number])


def start_signing(client, version, **fields):
    response = client.post(sign_url(version), {"decision": "approve",
                                               "comment": "Sound and well evidenced.", **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def back_at_assay(client, url: str):
    """Follow the provider's redirect to Assay's re-authentication callback, then to the page."""
    assert url.startswith("http://testserver/sso/reauth/callback/"), url
    returned = client.get(url.removeprefix("http://testserver"))
    assert returned.status_code == 302
    return client.get(returned["Location"])


def test_the_sign_off_asks_the_provider_for_a_fresh_sign_in(client, pending, sso):
    query = parse_qs(urlsplit(start_signing(client, pending)).query)

    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://testserver/sso/reauth/callback/"]
    assert not SignOff.objects.exists()


def test_a_fresh_sign_in_at_the_provider_records_the_sign_off(client, pending, sso, boris):
    browser = requests.Session()  # the provider sees one browser all along
    sso.sign_in(client.get("/sso/login/")["Location"], "boris", session=browser)
    provider_url = start_signing(client, pending, conditions="Monitor monthly.")

    response = back_at_assay(client, sso.sign_in(provider_url, "boris", session=browser))

    assert response.status_code == 302
    assert response["Location"] == reverse("governance:workflow",
                                           args=[pending.model.slug, pending.number])
    signoff = SignOff.objects.get()
    assert (signoff.signer, signoff.decision, signoff.comment, signoff.conditions) == (
        boris, "approve", "Sound and well evidenced.", "Monitor monthly.")
    event = AuditEvent.objects.get(action="signoff.record")
    assert event.payload["signature"] == "identity_provider"
    assert abs(event.payload["auth_time"] - time.time()) < 60


def test_a_stale_sign_in_is_refused_and_the_decision_and_comment_are_kept(
        client, pending, sso, settings):
    settings.OIDC_REAUTH_WINDOW_S = 1
    back = sso.sign_in(start_signing(client, pending), "boris")
    time.sleep(2.2)

    response = back_at_assay(client, back)

    assert response.status_code == 422
    page = response.content.decode()
    assert "seconds old; a signature needs one within 1 seconds" in page
    assert "Sound and well evidenced." in page
    assert "checked" in page  # the decision, too
    assert not SignOff.objects.exists()
    pending.refresh_from_db()
    assert pending.state == VersionState.PENDING_APPROVAL


def test_someone_else_signing_in_at_the_provider_is_refused(client, pending, sso, teams):
    response = back_at_assay(client, sso.sign_in(start_signing(client, pending), "vera"))

    assert response.status_code == 422
    page = response.content.decode()
    assert "confirmed another person than you" in page
    assert "Sound and well evidenced." in page
    assert not SignOff.objects.exists()


def test_cancelling_at_the_provider_signs_nothing_and_keeps_the_form(client, pending, sso):
    state = parse_qs(urlsplit(start_signing(client, pending)).query)["state"][0]

    response = back_at_assay(
        client, f"http://testserver/sso/reauth/callback/?error=access_denied&state={state}")

    assert response.status_code == 422
    assert "did not confirm it is you (access_denied)" in response.content.decode()
    assert "Sound and well evidenced." in response.content.decode()
    assert not SignOff.objects.exists()


def test_an_answer_used_once_cannot_sign_twice(client, pending, sso):
    back = sso.sign_in(start_signing(client, pending), "boris")
    response = back_at_assay(client, back)
    assert response.status_code == 302

    again = client.get(back.removeprefix("http://testserver"))
    assert again.status_code == 400
    assert SignOff.objects.count() == 1


def test_a_password_cannot_sign_for_someone_of_single_sign_on(client, pending, boris):
    boris.refresh_from_db()
    _, token = services.token_create(actor=boris, name="scripts", expires_in_days=30)

    response = client.post(f"/api/v1/versions/{pending.pk}/sign-off/", {
        "decision": "approve", "comment": "Sound.", "password": PASSWORD},
        content_type="application/json", headers={"Authorization": f"Token {token}"})

    assert response.status_code == 403
    assert "fresh sign-in at the identity provider" in response.json()["detail"]
    assert not SignOff.objects.exists()


def test_a_break_glass_account_still_signs_with_its_password(walk, draft, client, sso, rhea,
                                                            settings):
    settings.BREAK_GLASS_USERS = ["rhea"]
    version = walk.to_pending(draft)
    client.force_login(rhea)
    response = client.post(sign_url(version), {"decision": "approve", "comment": "Fine.",
                                               "password": PASSWORD})
    assert response.status_code == 302
    assert SignOff.objects.get().signer == rhea


def test_a_proof_without_auth_time_or_from_before_the_signing_does_not_sign(boris, settings):
    boris.oidc_subject = "idp-0002-boris"
    now = int(time.time())

    assert "did not say when you signed in" in reauthentication_problem(
        boris, Reauthentication(subject="idp-0002-boris", auth_time=None, started_at=now))
    assert "did not ask for your credentials again" in reauthentication_problem(
        boris, Reauthentication(subject="idp-0002-boris", auth_time=now - 5, started_at=now))
    assert reauthentication_problem(
        boris, Reauthentication(subject="idp-0002-boris", auth_time=now, started_at=now)) == ""


def test_a_local_account_that_is_not_break_glass_cannot_sign_with_its_password(
        walk, draft, sso, rhea):
    version = walk.to_pending(draft)

    with pytest.raises(WrongPassword, match="Password signatures are off with single sign-on"):
        governance.signoff_record(
            actor=rhea, version=version, decision="approve", comment="Fine.", password=PASSWORD)
    assert not SignOff.objects.exists()
