"""The audit trail as people read it: names instead of ids, pickers for model and person, one
event on its own page with its changes and its place in the chain."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

from core import audit, audit_views
from core.models import AuditEvent
from registry import services as registry_services
from tests.core.test_audit_tamper import tamper


@pytest.fixture
def model(dana, teams):
    dana.first_name, dana.last_name = "Dana", "Scientist"
    dana.save(update_fields=["first_name", "last_name"])
    return registry_services.model_create(
        actor=dana, team=teams["credit"], name="Retail scorecard", purpose="Approve loans.",
        decision_type="credit", task="binary_classification")


def test_rows_name_people_models_and_objects_not_ids(client, aude, model):
    client.force_login(aude)
    response = client.get("/audit/", {"model": model.slug})
    html = response.content.decode()
    assert "Dana Scientist (dana)" in html
    assert "Retail scorecard" in html and f'href="/models/{model.slug}/"' in html
    assert "Model create" in html
    assert f"core.user {dana_id(model)}" not in html and "registry.registeredmodel" not in html


def dana_id(model) -> int:
    return AuditEvent.objects.filter(model_id=model.pk).first().actor_id


def test_filters_are_pickers_of_models_and_people(client, aude, model):
    cache.delete(audit_views.ACTIONS_CACHE_KEY)  # the suggestions are cached for a minute
    client.force_login(aude)
    html = client.get("/audit/").content.decode()
    assert f'<option value="{model.slug}">Retail scorecard</option>' in html
    assert '<option value="dana">Dana Scientist (dana)</option>' in html
    assert 'list="audit-actions"' in html and '<option value="model.create">' in html


def test_system_events_are_a_person_filter_of_their_own(client, aude, model):
    system_event = audit.atomic_record(action="test.system", object_type="thing", object_id=1)
    client.force_login(aude)
    response = client.get("/audit/", {"actor": "system"})
    seqs = [row.event.seq for row in response.context["page"]["events"]]
    assert system_event.seq in seqs
    assert all(AuditEvent.objects.get(seq=s).actor_id is None for s in seqs)


def test_an_unknown_model_in_the_filter_is_named(client, aude, model):
    client.force_login(aude)
    response = client.get("/audit/", {"model": "no-such-model"})
    assert response.status_code == 400 and b"No model has the slug" in response.content


def test_an_event_reads_on_its_own_page(client, aude, dana, model):
    registry_services.model_update(actor=dana, model=model, purpose="Approve or decline loans.")
    event = AuditEvent.objects.filter(action="model.update").last()
    client.force_login(aude)
    response = client.get(f"/audit/events/{event.seq}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Model update" in html and "Dana Scientist (dana)" in html
    assert "<td>purpose</td><td>Approve loans.</td><td>Approve or decline loans.</td>" in html
    assert "Consistent" in html and f"follows from event {event.seq - 1}" in html
    assert event.chain_hash in html and f"/audit/events/{event.seq - 1}/" in html


def test_an_unknown_event_is_a_404_that_says_which_exist(client, aude, model):
    client.force_login(aude)
    response = client.get("/audit/events/999999/")
    assert response.status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL triggers")
def test_an_edited_event_shows_as_inconsistent_on_its_page(client, aude, model):
    event = AuditEvent.objects.filter(model_id=model.pk).last()
    tamper(("UPDATE core_auditevent SET actor_username = 'someone_else' WHERE seq = %s",
            [event.seq]))
    client.force_login(aude)
    html = client.get(f"/audit/events/{event.seq}/").content.decode()
    assert "Inconsistent" in html and "does not match its contents" in html


def test_verify_now_keeps_the_filter(client, aude, model):
    client.force_login(aude)
    response = client.post("/audit/verify/", {"query": f"model={model.slug}&action=model."})
    assert response.status_code == 302
    assert response["Location"] == f"/audit/?model={model.slug}&action=model."


def test_a_deleted_account_is_named_by_its_stored_username(client, aude, teams, model):
    from core.models import User
    gone = User.objects.create(username="gone")
    audit.atomic_record(action="test.by_gone", actor=gone, object_type="thing", object_id=2)
    # Deleting a user leaves the trail untouched (ids are plain values).
    User.objects.filter(pk=gone.pk).delete()
    client.force_login(aude)
    html = client.get("/audit/", {"action": "test.by_gone"}).content.decode()
    assert "gone" in html and "(account deleted)" in html
