"""The audit trail in the browser: who may see it, filters, pagination, the verification status,
the model timeline, and that no interface (the admin included) edits or deletes an event."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string

from core import audit, audit_views, checkpoints, verification
from core.models import AuditEvent
from registry import services as registry_services


@pytest.fixture
def model(dana, teams):
    return registry_services.model_create(
        actor=dana, team=teams["credit"], name="Retail scorecard", purpose="Approve loans.",
        decision_type="credit", task="binary_classification")


def _seqs(response) -> list[int]:
    return [row.event.seq for row in response.context["page"]["events"]]


@pytest.mark.parametrize("who", ["dana", "victor", "boris"])
def test_others_are_refused_with_the_reason(client, people, who):
    client.force_login(people[who])
    response = client.get("/audit/")
    assert response.status_code == 403
    assert b"Only auditors, risk officers and administrators" in response.content
    assert client.post("/audit/verify/").status_code == 403
    assert client.get(f"/audit/events/{AuditEvent.objects.last().seq}/").status_code == 403


def test_risk_officers_read_the_trail_but_do_not_export_it(client, rhea, model):
    client.force_login(rhea)
    page = client.get("/audit/")
    assert page.status_code == 200 and b"Verify now" in page.content
    assert b"Export bundle" not in page.content
    assert client.get(f"/audit/events/{AuditEvent.objects.last().seq}/").status_code == 200
    refused = client.post("/audit/export/")
    assert refused.status_code == 403 and b"Only auditors and administrators" in refused.content


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/audit/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("who", ["aude", "adam"])
def test_auditors_and_administrators_browse_newest_first(client, people, model, who):
    client.force_login(people[who])
    response = client.get("/audit/")
    assert response.status_code == 200
    seqs = _seqs(response)
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == AuditEvent.objects.last().seq
    assert b"Verify now" in response.content and b"Export bundle" in response.content


def test_filters(client, aude, dana, model):
    client.force_login(aude)
    by_model = client.get("/audit/", {"model": model.slug})
    assert _seqs(by_model) and all(
        AuditEvent.objects.get(seq=s).model_id == model.pk for s in _seqs(by_model))
    by_actor = client.get("/audit/", {"actor": "dana"})
    assert {AuditEvent.objects.get(seq=s).actor_username for s in _seqs(by_actor)} == {"dana"}
    exact = client.get("/audit/", {"action": "team.create"})
    assert len(_seqs(exact)) == 3
    prefix = client.get("/audit/", {"action": "user."})
    assert _seqs(prefix) and all(AuditEvent.objects.get(seq=s).action.startswith("user.")
                                 for s in _seqs(prefix))
    today = dt.datetime.now(dt.UTC).date()
    assert len(_seqs(client.get("/audit/", {"date_from": today, "date_to": today}))) == min(
        50, AuditEvent.objects.count())
    assert _seqs(client.get("/audit/", {"date_to": today - dt.timedelta(days=1)})) == []


def test_bad_filters_answer_400_with_the_reason(client, aude):
    client.force_login(aude)
    response = client.get("/audit/", {"model": "no-such-model"})
    assert response.status_code == 400 and b"No model has the slug" in response.content
    response = client.get("/audit/", {"date_from": "2025-02-01", "date_to": "2025-01-01"})
    assert response.status_code == 400 and b"swap them" in response.content
    response = client.get("/audit/", {"date_from": "someday"})
    assert response.status_code == 400


def test_keyset_pagination(client, aude):
    for i in range(120):
        audit.atomic_record(action="test.bulk", object_type="thing", object_id=i)
    client.force_login(aude)
    first = client.get("/audit/", {"action": "test.bulk"})
    page1 = _seqs(first)
    assert len(page1) == 50 and first.context["page"]["newer"] is None
    older = first.context["page"]["older"]
    second = client.get("/audit/", {"action": "test.bulk", "before": older})
    page2 = _seqs(second)
    assert len(page2) == 50 and page2[0] == page1[-1] - 1
    assert f"after={page2[0]}".encode() in second.content
    back = client.get("/audit/", {"action": "test.bulk", "after": page2[0]})
    assert _seqs(back) == page1
    last = client.get("/audit/", {"action": "test.bulk", "before": page2[-1]})
    assert len(_seqs(last)) == 20 and last.context["page"]["older"] is None


def test_htmx_request_gets_only_the_rows(client, aude):
    client.force_login(aude)
    response = client.get("/audit/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'id="audit-rows"' in response.content and b"Verify now" not in response.content


def test_status_shows_the_last_verification_and_latest_checkpoint(client, aude):
    cache.delete(verification.LAST_RESULT_CACHE_KEY)  # left by earlier tests in this process
    client.force_login(aude)
    page = client.get("/audit/")
    assert b"not run since the server started" in page.content
    checkpoint = checkpoints.checkpoint_create()
    response = client.post("/audit/verify/", follow=True)
    assert response.status_code == 200
    assert b"OK: chain intact" in response.content
    assert f"seq {checkpoint.seq}".encode() in response.content


def test_model_timeline_partial(model, dana):
    registry_services.model_update(actor=dana, model=model, purpose="Approve or decline loans.")
    events = audit_views.model_timeline(model.pk, limit=5)
    assert [e.action for e in events][:2] == ["model.update", "model.create"]
    assert events[0].changed_fields == "purpose"
    html = render_to_string("core/_audit_timeline.html",
                            {"timeline_events": events, "model": model, "nav": {"audit": True}})
    assert "Model update" in html and "(purpose)" in html and "Retail scorecard" in html
    assert f"/audit/?model={model.slug}" in html
    assert "Full audit trail" not in render_to_string(
        "core/_audit_timeline.html", {"timeline_events": events, "model": model, "nav": {}})


@pytest.mark.parametrize("who", ["aude", "adam"])
def test_the_admin_cannot_change_or_delete_events(client, people, who):
    event = AuditEvent.objects.first()
    client.force_login(people[who])
    base = "/admin/core/auditevent/"
    assert client.get(base).status_code == 200
    assert client.get(f"{base}{event.pk}/change/").status_code == 200  # view only
    assert client.post(f"{base}{event.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{base}add/").status_code == 403
    response = client.post(base, {"action": "delete_selected", "_selected_action": [event.pk]})
    assert response.status_code in (200, 302)
    event.refresh_from_db()
    assert event.action != "forged" and AuditEvent.objects.filter(pk=event.pk).exists()
