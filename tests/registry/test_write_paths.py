"""Every registry write path yields exactly one audit event per change: API, page, admin, command.

(API and page paths are pinned in test_inventory_api.py and test_inventory_pages.py.)
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core.models import AuditEvent
from registry import services
from registry.models import ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


def test_admin_change_of_a_model_is_one_update_event(client, adam, credit_model):
    client.force_login(adam)
    url = f"/admin/registry/registeredmodel/{credit_model.pk}/change/"
    form = client.get(url)
    assert form.status_code == 200
    # As the admin's form posts them: an empty date (the contract's) is an empty string.
    data = {f: "" if (value := getattr(credit_model, f)) is None else value
            for f in services.EDITABLE_FIELDS}
    data["known_limitations"] = "Edited in the admin."
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = AuditEvent.objects.filter(action="model.update")
    assert event.actor_username == "adam"
    assert event.payload["changes"] == {
        "known_limitations": {"before": "", "after": "Edited in the admin."}}


def test_admin_delete_of_a_draft_version_is_one_delete_event(client, adam, dana, credit_model):
    version = services.version_create(actor=dana, model=credit_model)
    client.force_login(adam)
    response = client.post(f"/admin/registry/modelversion/{version.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ModelVersion.objects.exists()
    assert AuditEvent.objects.filter(action="version.delete").count() == 1


def test_auditors_read_the_registry_admin_but_cannot_change_it(client, aude, credit_model):
    client.force_login(aude)
    url = f"/admin/registry/registeredmodel/{credit_model.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Renamed"}).status_code == 403
    credit_model.refresh_from_db()
    assert credit_model.name == "Retail scorecard"


def test_the_demo_command_records_one_event_per_change_and_is_idempotent(db):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    model = RegisteredModel.objects.get(slug="german-credit-scorecard")
    version = model.versions.get()
    assert version.has_artifact and version.input_schema
    assert AuditEvent.objects.filter(action="model.create", model_id=model.pk).count() == 1
    assert AuditEvent.objects.filter(action="version.create", model_id=model.pk).count() == 1
    before = AuditEvent.objects.count()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert AuditEvent.objects.count() == before
