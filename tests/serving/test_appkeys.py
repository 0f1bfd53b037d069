"""Application keys: created and revoked by deployers and administrators (API and page), shown
once, stored hashed, scoped to endpoints, audited; everyone else is refused."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from core.models import AuditEvent
from serving.models import AppKey
from tests.governance.conftest import draft  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def scoring(endpoint, draft):  # noqa: F811
    return endpoint("scoring", draft)


def test_a_deployer_creates_a_key_shown_once_and_stored_hashed(api, deb, scoring):
    response = api.as_(deb).post("/api/v1/app-keys/", {"name": "loans", "endpoints": ["scoring"],
                                                       "rate_limit": 50}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    key = AppKey.objects.get()
    assert body["key"].startswith(f"assay_app_{key.prefix}_")
    assert key.digest == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["endpoints"] == ["scoring"] and body["rate_limit"] == 50
    listed = api.get("/api/v1/app-keys/").json()
    assert "key" not in listed["results"][0] and body["key"] not in str(listed)
    event = AuditEvent.objects.get(action="appkey.create")
    assert event.actor_id == deb.pk and event.payload["endpoints"] == ["scoring"]
    assert body["key"] not in str(event.payload)


def test_a_deployer_revokes_a_key_once(api, deb, scoring, app_key):
    app_key(scoring)
    key = AppKey.objects.get()
    client = api.as_(deb)
    response = client.post(f"/api/v1/app-keys/{key.pk}/revoke/", {"reason": "leaked"},
                           format="json")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert AuditEvent.objects.get(action="appkey.revoke").payload["reason"] == "leaked"
    again = client.post(f"/api/v1/app-keys/{key.pk}/revoke/", {}, format="json")
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "loans", "endpoints": []}, "endpoints"),
    ({"name": "loans", "endpoints": ["nowhere"]}, "endpoints"),
    ({"name": "", "endpoints": ["scoring"]}, "name"),
    ({"name": "loans", "endpoints": ["scoring"], "rate_limit": 0}, "rate_limit"),
    ({"name": "loans", "endpoints": ["scoring"], "prefix": "mine"}, "prefix"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, deb, scoring, payload, field):
    response = api.as_(deb).post("/api/v1/app-keys/", payload, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not AppKey.objects.exists()


def test_others_may_not_manage_keys_and_auditors_only_read(api, dana, aude, adam, scoring, app_key):
    app_key(scoring)
    key = AppKey.objects.get()
    assert api.as_(dana).get("/api/v1/app-keys/").status_code == 403
    assert api.as_(dana).post("/api/v1/app-keys/", {"name": "x", "endpoints": ["scoring"]},
                              format="json").status_code == 403
    assert api.as_(aude).get("/api/v1/app-keys/").status_code == 200
    assert api.as_(aude).post(f"/api/v1/app-keys/{key.pk}/revoke/", {},
                              format="json").status_code == 403
    assert AppKey.objects.get().revoked_at is None
    assert api.as_(adam).post(f"/api/v1/app-keys/{key.pk}/revoke/", {},
                              format="json").status_code == 200


def test_the_page_creates_a_key_shown_once_and_revokes_it(client, deb, scoring):
    client.force_login(deb)
    page = client.post(reverse("app-keys"), {"name": "loans", "endpoints": ["scoring"]})
    assert page.status_code == 200
    key = AppKey.objects.get()
    assert f"assay_app_{key.prefix}_" in page.content.decode()
    again = client.get(reverse("app-keys")).content.decode()
    assert key.prefix in again and f"assay_app_{key.prefix}_" not in again
    client.post(reverse("app-key-revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.status == "revoked" and key.revoked_by == deb


def test_the_page_says_what_is_wrong_and_refuses_other_roles(client, deb, dana, scoring):
    client.force_login(deb)
    page = client.post(reverse("app-keys"), {"name": "loans"})
    assert page.status_code == 400 and "This field is required" in page.content.decode()
    assert not AppKey.objects.exists()
    client.force_login(dana)
    assert client.get(reverse("app-keys")).status_code == 403
