"""Exports: who may export, that each export is recorded before the checkpoint that covers it,
and the three front doors (service, API, page button, command)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core import audit, export
from core.errors import PermissionRefused, ValidationFailed
from core.models import AuditEvent, Checkpoint
from core.verify_bundle import verify_lines
from registry import services as registry_services


@pytest.fixture
def model(dana, teams):
    return registry_services.model_create(
        actor=dana, team=teams["credit"], name="Retail scorecard", purpose="Approve loans.",
        decision_type="credit", task="binary_classification")


def _body(response) -> list[str]:
    return b"".join(response.streaming_content).decode("utf-8").splitlines()


def test_export_is_recorded_before_the_checkpoint_that_covers_it(db, aude, model):
    prepared = export.audit_export(actor=aude, model_slug=model.slug)
    event = AuditEvent.objects.get(action="audit.export")
    assert event.actor_username == "aude" and event.model_id == model.pk
    assert event.payload == {"scope": {"model_id": model.pk, "model_slug": model.slug}}
    assert prepared.checkpoint.reason == Checkpoint.Reason.EXPORT
    assert prepared.checkpoint.seq == event.seq  # the checkpoint covers the export's own event
    lines = list(prepared.lines())
    assert any(json.loads(line).get("event", {}).get("action") == "audit.export" for line in lines)
    assert verify_lines(lines).ok


def test_events_after_the_export_checkpoint_are_left_out(db, aude, model):
    prepared = export.audit_export(actor=aude)
    audit.atomic_record(action="test.later", object_type="thing")
    lines = list(prepared.lines())
    header = json.loads(lines[0])
    assert header["last_seq"] == prepared.checkpoint.seq
    assert verify_lines(lines).ok


@pytest.mark.parametrize("who", ["dana", "victor", "rhea", "boris", "frank"])
def test_only_auditors_and_administrators_export(people, who):
    with pytest.raises(PermissionRefused, match="auditors and administrators"):
        export.audit_export(actor=people[who])
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_bad_scope_is_refused_before_anything_is_recorded(db, adam):
    with pytest.raises(ValidationFailed, match="No model has the slug"):
        export.audit_export(actor=adam, model_slug="no-such-model")
    with pytest.raises(ValidationFailed, match="after the end date"):
        export.audit_export(actor=adam, date_from=dt.date(2025, 2, 1),
                            date_to=dt.date(2025, 1, 1))
    assert not AuditEvent.objects.filter(action="audit.export").exists()
    assert not Checkpoint.objects.exists()


def test_api_export_streams_a_verifiable_bundle(db, api, aude, model):
    response = api.as_(aude).post("/api/v1/audit/export/", {"model": model.slug}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert f"assay-audit-{model.slug}-" in response["Content-Disposition"]
    verdict = verify_lines(_body(response))
    assert verdict.ok, verdict.reasons
    assert verdict.scope["model_slug"] == model.slug


def test_api_export_errors(db, api, aude, dana):
    refused = api.as_(dana).post("/api/v1/audit/export/", {}, format="json")
    assert refused.status_code == 403
    client = api.as_(aude)
    bad_slug = client.post("/api/v1/audit/export/", {"model": "nope"}, format="json")
    assert bad_slug.status_code == 400 and bad_slug.json()["fields"]["model"]
    bad_date = client.post("/api/v1/audit/export/", {"date_from": "2025-13-01"}, format="json")
    assert bad_date.status_code == 400 and "date_from" in bad_date.json()["fields"]
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_page_button_downloads_a_bundle(db, client, aude, dana, model):
    client.force_login(aude)
    response = client.post("/audit/export/", {"model": model.slug, "date_from": "",
                                              "date_to": ""})
    assert response.status_code == 200
    assert verify_lines(_body(response)).ok
    client.force_login(dana)
    refused = client.post("/audit/export/", {})
    assert refused.status_code == 403
    assert b"Only auditors and administrators" in refused.content


def test_management_command_writes_a_verifiable_file(db, tmp_path, model):
    out = tmp_path / "bundle.jsonl"
    today = dt.date.today().isoformat()
    call_command("audit_export", model=model.slug, date_from=today, date_to=today, out=str(out))
    verdict = verify_lines(out.read_text(encoding="utf-8").splitlines())
    assert verdict.ok, verdict.reasons
    assert verdict.scope == {"model_id": model.pk, "model_slug": model.slug, "from": today,
                             "to": today}
    event = AuditEvent.objects.get(action="audit.export")
    assert event.actor_id is None  # the operator at the shell
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("audit_export", date_from="yesterday", out=str(out))
    with pytest.raises(CommandError, match="No model has the slug"):
        call_command("audit_export", model="nope", out=str(out))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("audit_export", out=str(tmp_path / "missing" / "b.jsonl"))
