"""/healthz and /readyz: unauthenticated, cheap, each part named, nothing secret in the answer.
(The database part failing for real is in test_outage_database.py.)"""

from __future__ import annotations

import pytest
from django.conf import settings

from core import signing
from core.models import KeyPurpose

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_lives(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_names_each_part_and_reveals_nothing(client, adam):
    settings.ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    signing.key_create(actor=adam, purpose=KeyPurpose.AUDIT_CHECKPOINT)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "checks": {
        "database": "ok", "broker": "ok", "storage": "ok", "signing_keys": "ok"}}
    for secret in (settings.SECRET_KEY, "guest", "postgres", "5672", str(settings.KEY_DIR)):
        assert secret not in response.content.decode()


def test_readyz_answers_503_naming_what_is_not_ready(client, adam, settings, tmp_path):
    key = signing.key_create(actor=adam, purpose=KeyPurpose.AUDIT_CHECKPOINT)
    signing.key_path(key.keyid).unlink()
    settings.ARTIFACT_DIR = tmp_path / "not-mounted"
    response = client.get("/readyz")
    assert response.status_code == 503 and response["Retry-After"]
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["storage"] == "the artifact folder is missing or not writable"
    assert checks["signing_keys"] == "1 active signing key file(s) missing or unreadable"
    assert key.keyid not in response.content.decode()
