"""Personal API tokens: shown once, stored as a digest, refused clearly once unusable."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core import services
from core.models import ApiToken, AuditEvent

TOKEN_RE = re.compile(r"assay_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")


def token_client(token: str, keyword: str = "Token") -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"{keyword} {token}")
    return c


@pytest.fixture
def dana_token(dana) -> tuple[ApiToken, str]:
    return services.token_create(actor=dana, name="Nightly scoring", expires_in_days=30)


def test_the_page_shows_a_new_token_once_and_stores_only_its_digest(client, dana):
    client.force_login(dana)
    response = client.post("/account/tokens/", {"name": "Notebook", "expires_in_days": 30})
    assert response.status_code == 200
    shown = TOKEN_RE.findall(response.content.decode())
    assert len(shown) == 1
    token = shown[0]
    row = ApiToken.objects.get(user=dana)
    assert row.name == "Notebook"
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token.split("_")[1] == row.prefix
    # The secret is nowhere in the row: only prefix and digest are.
    stored = " ".join(str(v) for v in ApiToken.objects.filter(pk=row.pk).values().first().values())
    assert token not in stored and token.split("_", 2)[2] not in stored
    again = client.get("/account/tokens/").content.decode()
    assert token not in again and row.prefix in again  # listed, never shown again
    event = AuditEvent.objects.get(action="token.create")
    assert token not in str(event.payload) and event.payload["prefix"] == row.prefix


def test_the_api_creates_a_token_and_shows_it_once(api, dana):
    response = api.as_(dana).post("/api/v1/tokens/", {"name": "CI", "expires_in_days": 7})
    assert response.status_code == 201
    token = response.json()["token"]
    assert TOKEN_RE.fullmatch(token)
    row = ApiToken.objects.get(pk=response.json()["id"])
    assert row.digest == ApiToken.digest_of(token)
    assert row.expires_at - timezone.now() > dt.timedelta(days=6, hours=23)
    listed = api.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["CI"] and "token" not in listed[0]
    assert "token" not in api.get(f"/api/v1/tokens/{row.pk}/").json()


@pytest.mark.parametrize("keyword", ["Token", "Bearer"])
def test_a_token_authenticates_api_calls(dana_token, keyword):
    row, token = dana_token
    response = token_client(token, keyword).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "dana"
    row.refresh_from_db()
    assert row.last_used_at is not None


def unusable_reason(token: str) -> str:
    response = token_client(token).get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "authentication_failed" and body["fields"] == {}
    return body["detail"]


def test_an_expired_token_is_refused(dana_token):
    row, token = dana_token
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert unusable_reason(token) == (
        "This API token is expired; create a new one on the API tokens page.")


def test_a_revoked_token_is_refused(api, dana, dana_token):
    row, token = dana_token
    revoked = api.as_(dana).post(f"/api/v1/tokens/{row.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert unusable_reason(token) == (
        "This API token is revoked; create a new one on the API tokens page.")
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_a_deactivated_users_tokens_are_refused(adam, dana, dana_token):
    _row, token = dana_token
    services.user_deactivate(actor=adam, user=dana)
    assert "deactivated" in unusable_reason(token)


def test_a_token_of_an_account_deactivated_outside_the_service_is_refused(dana, dana_token):
    """Even if a token was somehow left unrevoked, an inactive owner makes it useless."""
    _row, token = dana_token
    type(dana).objects.filter(pk=dana.pk).update(is_active=False)
    assert unusable_reason(token) == (
        "The account this API token belongs to is deactivated; its tokens no longer work.")


@pytest.mark.parametrize("token", [
    "assay_000000000000_" + "x" * 43,          # unknown prefix
    "nonsense",
    "assay_{prefix}_wrongsecretwrongsecretwrongsecretwrongsecre",  # right prefix, wrong secret
])
def test_an_invalid_token_is_refused_without_saying_which_part_is_wrong(dana_token, token):
    row, _ = dana_token
    assert unusable_reason(token.format(prefix=row.prefix)).startswith("Invalid API token")


def test_a_malformed_authorization_header_is_refused(db):
    response = token_client("assay_a_b extra").get("/api/v1/me/")
    assert response.status_code == 401
    assert "Malformed Authorization header" in response.json()["detail"]


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "", "expires_in_days": 30}, "name"),
    ({"name": "   ", "expires_in_days": 30}, "name"),
    ({"name": "x" * 101, "expires_in_days": 30}, "name"),
    ({"expires_in_days": 30}, "name"),
    ({"name": "CI", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "CI", "expires_in_days": 366}, "expires_in_days"),
    ({"name": "CI", "expires_in_days": "soon"}, "expires_in_days"),
    ({"name": "CI"}, "expires_in_days"),
])
def test_the_api_validates_name_and_expiry(api, dana, data, field):
    response = api.as_(dana).post("/api/v1/tokens/", data)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"]
    assert body["fields"][field] and all(isinstance(m, str) for m in body["fields"][field])
    assert not ApiToken.objects.exists()


def test_the_page_validates_the_expiry_against_the_configured_maximum(client, dana, settings):
    settings.API_TOKEN_MAX_DAYS = 90
    client.force_login(dana)
    response = client.post("/account/tokens/", {"name": "CI", "expires_in_days": 91})
    assert response.status_code == 400
    assert "Choose an expiry between 1 and 90 days." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_second_active_token_with_the_same_name_is_a_conflict(api, dana, dana_token):
    response = api.as_(dana).post("/api/v1/tokens/", {"name": "Nightly scoring", "expires_in_days": 5})
    assert response.status_code == 409
    assert "name" in response.json()["fields"]


def test_nobody_sees_or_revokes_another_users_token(api, client, frank, dana_token):
    row, token = dana_token
    api.as_(frank)
    assert api.get("/api/v1/tokens/").json()["results"] == []
    assert api.get(f"/api/v1/tokens/{row.pk}/").status_code == 404
    assert api.post(f"/api/v1/tokens/{row.pk}/revoke/").status_code == 404
    client.force_login(frank)
    assert client.post(f"/account/tokens/{row.pk}/revoke/").status_code == 404
    assert "Nightly scoring" not in client.get("/account/tokens/").content.decode()
    row.refresh_from_db()
    assert row.revoked_at is None
    assert token_client(token).get("/api/v1/me/").status_code == 200


def test_the_page_revokes_the_users_own_token(client, dana, dana_token):
    row, token = dana_token
    client.force_login(dana)
    response = client.post(f"/account/tokens/{row.pk}/revoke/", follow=True)
    assert "Token &#x27;Nightly scoring&#x27; is revoked" in response.content.decode()
    row.refresh_from_db()
    assert row.status == "revoked"
    assert token_client(token).get("/api/v1/me/").status_code == 401


def test_a_token_can_only_be_created_by_someone_signed_in(db):
    response = APIClient().post("/api/v1/tokens/", {"name": "x", "expires_in_days": 1},
                                format="json")
    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_the_pages_revoke_form_posts_to_the_page(client, dana, dana_token):
    """The page's URL names must not be shadowed by the API's (both once had 'token-revoke')."""
    row, _ = dana_token
    client.force_login(dana)
    page = client.get("/account/tokens/").content.decode()
    assert f'action="/account/tokens/{row.pk}/revoke/"' in page
