"""Waivers: who grants them, what they cover, and expiry — through the service, idempotently, and
end to end with a real Celery beat and worker on RabbitMQ."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import Conflict, PermissionRefused
from core.models import AuditEvent
from governance import services
from governance.gates import blocking_items
from governance.models import Finding, FindingSource, Notification, Waiver, WaiverStatus
from registry.models import VersionState
from tests.governance.conftest import ALL_HIGH, MEDIUM
from tests.governance.part2 import (
    approve_with_waived_evidence,
    in_validation,
    raise_high,
    version_for,
)

pytestmark = pytest.mark.django_db

WAIVER = {"reason": "Remediation scheduled for Q3.", "compensating_controls": "Manual review.",
          "limits_of_use": "No automated declines."}


def _grant(actor, version, **kw):
    return services.waiver_grant(actor=actor, version=version, **{
        **WAIVER, "expires_at": timezone.now() + dt.timedelta(days=30), **kw})


def test_a_waiver_lifts_a_blocking_finding(walk, draft, people):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    waiver = _grant(people["rhea"], version, finding=finding)
    assert "finding" not in [b.kind for b in blocking_items(version)]
    walk.evidence(version)
    walk.review(version)
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL
    event = AuditEvent.objects.get(action="waiver.grant")
    assert event.payload["covers"] == f"finding F-{finding.pk}" and event.actor_username == "rhea"
    assert waiver.is_in_force()


@pytest.mark.parametrize(("who", "message"), [
    ("dana", "Only a risk officer"), ("victor", "Only a risk officer"),
    ("boris", "Only a risk officer"), ("aude", "Only a risk officer")])
def test_only_an_independent_risk_officer_grants(walk, draft, people, who, message):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    with pytest.raises(PermissionRefused, match=message):
        _grant(people[who], version, finding=finding)
    assert not Waiver.objects.exists()


def test_a_risk_officer_owning_the_model_cannot_grant(walk, draft, make_user):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    rory = make_user("rory", "risk_officer")
    version.model.owner = rory
    version.model.save(update_fields=["owner"])
    with pytest.raises(PermissionRefused, match="own this model"):
        _grant(rory, version, finding=finding)


def test_only_blocking_items_are_waived_and_only_once(walk, draft, people):
    version = in_validation(walk, draft)
    low = raise_high(walk, version, severity="low")
    with pytest.raises(Conflict, match="nothing to waive"):
        _grant(people["rhea"], version, finding=low)
    with pytest.raises(Conflict, match="nothing to waive"):
        _grant(people["rhea"], version, check="robustness")  # not required in tier 2
    high = raise_high(walk, version)
    first = _grant(people["rhea"], version, finding=high)
    with pytest.raises(Conflict, match=f"Waiver {first.pk} already covers"):
        _grant(people["rhea"], version, finding=high)
    assert Waiver.objects.count() == 1


@pytest.mark.parametrize(("kw", "field"), [
    ({"reason": ""}, "reason"),
    ({"compensating_controls": " "}, "compensating_controls"),
    ({"expires_at": "2031-01-01"}, "expires_at"),
    ({"expires_at": "past"}, "expires_at"),
    ({"expires_at": "far"}, "expires_at"),
    ({"check": "fairness"}, "finding"),          # a finding and a check at once
    ({"finding": None}, "finding"),              # nothing covered
])
def test_bad_waiver_input_is_400_and_stores_nothing(walk, draft, api, people, kw, field):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    expires = {"past": timezone.now() - dt.timedelta(hours=1),
               "far": timezone.now() + dt.timedelta(days=400)}
    body = {"version": version.pk, "finding": finding.pk, **WAIVER,
            "expires_at": (timezone.now() + dt.timedelta(days=5)).isoformat(), **kw}
    if kw.get("expires_at") in expires:
        body["expires_at"] = expires[kw["expires_at"]].isoformat()
    if kw.get("expires_at") == "2031-01-01":
        body["expires_at"] = "not a date"
    if "finding" in kw and kw["finding"] is None:
        body.pop("finding")
    response = api.as_(people["rhea"]).post("/api/v1/waivers/", body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()
    assert not Waiver.objects.exists()


def test_api_grant_list_and_revoke(walk, draft, api, people):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    made = api.as_(people["rhea"]).post("/api/v1/waivers/", {
        "version": version.pk, "finding": finding.pk, **WAIVER,
        "expires_at": (timezone.now() + dt.timedelta(days=5)).isoformat()})
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    assert api.as_(people["dana"]).get("/api/v1/waivers/").json()["results"][0]["id"] == pk
    assert api.as_(people["frank"]).get(f"/api/v1/waivers/{pk}/").status_code == 404
    assert api.as_(people["dana"]).post(f"/api/v1/waivers/{pk}/revoke/",
                                        {"reason": "no"}).status_code == 403
    revoked = api.as_(people["rhea"]).post(f"/api/v1/waivers/{pk}/revoke/",
                                           {"reason": "Remediation failed."})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert "finding" in [b.kind for b in blocking_items(version)]


def _expiry_effects(version, waiver):
    version.refresh_from_db()
    waiver.refresh_from_db()
    return version.state, waiver.status


def test_expiry_returns_the_block_opens_a_finding_and_suspends_tier_1(
        walk, strict_policy, credit_model, onnx_file, people, django_capture_on_commit_callbacks,
        queued_emails):
    version = version_for(walk, credit_model, onnx_file, answers=ALL_HIGH)
    waiver = approve_with_waived_evidence(walk, version)
    assert version.state == VersionState.APPROVED
    later = waiver.expires_at + dt.timedelta(seconds=1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.waivers_expire(now=later) == 1
    queued_emails.run()
    assert _expiry_effects(version, waiver) == (VersionState.SUSPENDED, WaiverStatus.EXPIRED)
    assert ("evidence", "fairness") in [(b.kind, b.key) for b in blocking_items(version)]
    finding = Finding.objects.get(source=FindingSource.WAIVER_EXPIRY)
    assert finding.severity == "high" and finding.owner == people["dana"]
    notified = set(Notification.objects.filter(kind="waiver_expired")
                   .values_list("user__username", flat=True))
    assert notified == {"dana", "victor"}
    assert sorted(m.to[0] for m in mail.outbox if m.subject.startswith("[Assay] Waiver")) == [
        "dana@example.org", "victor@example.org"]
    suspend = AuditEvent.objects.get(action="version.suspend")
    assert suspend.actor_id is None and suspend.payload["waiver_id"] == waiver.pk
    # Running again changes nothing more.
    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.waivers_expire(now=later + dt.timedelta(hours=1)) == 0
    assert AuditEvent.objects.count() == events
    assert Finding.objects.filter(source=FindingSource.WAIVER_EXPIRY).count() == 1
    assert Notification.objects.filter(kind="waiver_expired").count() == 2


def test_expiry_does_not_suspend_where_the_policy_says_not_to(
        walk, strict_policy, credit_model, onnx_file):
    version = version_for(walk, credit_model, onnx_file, answers=MEDIUM)  # tier 2: no suspension
    waiver = approve_with_waived_evidence(walk, version)
    services.waivers_expire(now=waiver.expires_at + dt.timedelta(seconds=1))
    assert _expiry_effects(version, waiver) == (VersionState.APPROVED, WaiverStatus.EXPIRED)
    assert Finding.objects.filter(source=FindingSource.WAIVER_EXPIRY).count() == 1


def test_expiry_of_a_waiver_whose_item_was_resolved_opens_nothing(walk, draft, people):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    waiver = _grant(people["rhea"], version, finding=finding)
    services.finding_transition(actor=people["rhea"], finding=finding, to="accepted_as_risk",
                                text="Accepted.")
    services.waivers_expire(now=waiver.expires_at + dt.timedelta(seconds=1))
    waiver.refresh_from_db()
    assert waiver.status == WaiverStatus.EXPIRED
    assert not Finding.objects.filter(source=FindingSource.WAIVER_EXPIRY).exists()
    assert AuditEvent.objects.get(action="waiver.expire").payload["still_blocks"] is False


def test_expiring_waivers_are_notified_once_seven_days_before(
        walk, strict_policy, credit_model, onnx_file, django_capture_on_commit_callbacks,
        queued_emails):
    version = version_for(walk, credit_model, onnx_file, answers=MEDIUM)
    waiver = approve_with_waived_evidence(walk, version, expires_in=dt.timedelta(days=20))
    assert services.waivers_notify_expiring(now=timezone.now()) == 0  # 20 days out: not yet
    soon = waiver.expires_at - dt.timedelta(days=6)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.waivers_notify_expiring(now=soon)
        second = services.waivers_notify_expiring(now=soon + dt.timedelta(hours=3))
    assert (first, second) == (3, 0)  # owner, validator, approver; once
    queued_emails.run()
    assert len([m for m in mail.outbox if "expires" in m.subject]) == 3


def test_beat_schedule_has_the_governance_entries(settings):
    assert settings.CELERY_BEAT_SCHEDULE["governance-expire-waivers"]["task"] == \
        "governance.expire_waivers"
    assert settings.CELERY_BEAT_SCHEDULE["governance-scan-due-dates"]["task"] == \
        "governance.scan_due_dates"
    from config.celery import app
    app.loader.import_default_modules()
    assert {"governance.expire_waivers", "governance.scan_due_dates"} <= set(app.tasks)


@pytest.mark.worker
def test_waiver_expiry_end_to_end_with_real_beat_and_worker(
        transactional_db, people, strict_policy, credit_model, onnx_file, walk, tmp_path):
    """A waiver expires a few seconds from now; a real `celery beat` on a 1-second schedule sends
    the expiry task through RabbitMQ to a real worker, which suspends the tier-1 version."""
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection

    version = version_for(walk, credit_model, onnx_file, answers=ALL_HIGH)
    waiver = approve_with_waived_evidence(walk, version, expires_in=dt.timedelta(minutes=5))
    assert version.state == VersionState.APPROVED
    # The approval takes seconds on a loaded machine (it renders the validation report first),
    # so the waiver is made to expire a few seconds from now only once the version is approved.
    Waiver.objects.filter(pk=waiver.pk).update(expires_at=timezone.now() + dt.timedelta(seconds=4))
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.governance.beat_settings",
           "ASSAY_TEST_QUEUE": f"governance-e2e-{uuid.uuid4().hex}",
           "ASSAY_WAIVER_EXPIRY_INTERVAL_S": "1", "ASSAY_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    root = Path(__file__).resolve().parents[2]
    common = {"cwd": root, "env": env, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q",
         env["ASSAY_TEST_QUEUE"], "-c", "1", "--pool", "solo", "--without-heartbeat",
         "--without-gossip", "--without-mingle", "-l", "WARNING"], **common)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-s",
         str(tmp_path / "beat-schedule"), "--max-interval", "1", "-l", "WARNING"], **common)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _expiry_effects(version, waiver) != (
                VersionState.SUSPENDED, WaiverStatus.EXPIRED):
            time.sleep(0.5)
    finally:
        for process in (beat, worker):
            process.terminate()
        output = "".join(p.communicate(timeout=30)[0].decode(errors="replace")
                         for p in (beat, worker))
    assert _expiry_effects(version, waiver) == (VersionState.SUSPENDED, WaiverStatus.EXPIRED), \
        output
    assert Finding.objects.filter(source=FindingSource.WAIVER_EXPIRY).count() == 1
    assert set(Notification.objects.filter(kind="waiver_expired").values_list(
        "user__username", flat=True)) == {"dana", "victor"}
    # Beat kept firing every second after the expiry; nothing happened twice.
    assert AuditEvent.objects.filter(action="waiver.expire").count() == 1
    assert AuditEvent.objects.filter(action="version.suspend").count() == 1


def test_a_suspended_version_is_not_reinstated_while_its_blockers_stand(
        walk, strict_policy, credit_model, onnx_file, api, people, make_user):
    """A waiver expiry suspended the version and put its block back (the failing check, and the
    high finding opened for it): reinstating is refused, naming both, until each is resolved or
    waived. Rita reinstates: rhea granted the waivers, and who waives does not also reinstate
    (issue 18, tests/governance/test_waiver_signer_segregation.py)."""
    rita = make_user("rita", "risk_officer")
    version = version_for(walk, credit_model, onnx_file, answers=ALL_HIGH)
    waiver = approve_with_waived_evidence(walk, version)
    services.waivers_expire(now=waiver.expires_at + dt.timedelta(seconds=1))
    version.refresh_from_db()
    assert version.state == VersionState.SUSPENDED
    expiry_finding = Finding.objects.get(source=FindingSource.WAIVER_EXPIRY)
    url = f"/api/v1/versions/{version.pk}/reinstate/"

    refused = api.as_(rita).post(url, {"reason": "Back to normal."})
    assert refused.status_code == 409, refused.json()
    assert "Check 'fairness' failed" in refused.json()["detail"]
    assert f"F-{expiry_finding.pk}" in refused.json()["detail"]
    version.refresh_from_db()
    assert version.state == VersionState.SUSPENDED and not version.is_servable()
    assert not AuditEvent.objects.filter(action="version.reinstate").exists()
    status = f"/api/v1/versions/{version.pk}/governance/"
    # Offered only when its rule lets it through (services.available_actions, from TRANSITIONS).
    assert "reinstate" not in api.as_(rita).get(status).json()["actions"]

    # The finding accepted as a risk, the check waived again: nothing blocks, it serves again.
    services.finding_transition(actor=people["rhea"], finding=expiry_finding,
                                to="accepted_as_risk", text="Carried by retail credit risk.")
    _grant(people["rhea"], version, check="fairness")
    assert api.as_(rita).get(status).json()["actions"] == ["reinstate", "retire"]
    assert "reinstate" not in api.as_(people["rhea"]).get(status).json()["actions"]
    reinstated = api.as_(rita).post(url, {"reason": "Both items answered."})
    assert reinstated.status_code == 200, reinstated.json()
    assert reinstated.json()["state"] == VersionState.APPROVED
    version.refresh_from_db()
    assert version.is_servable()


@pytest.mark.parametrize(("answers", "suspended"), [(ALL_HIGH, True), (MEDIUM, False)])
def test_revoking_a_waiver_has_the_effect_of_its_expiry(
        walk, strict_policy, credit_model, onnx_file, api, people, answers, suspended,
        django_capture_on_commit_callbacks, queued_emails):
    """Tier 1 of the strict policy suspends serving when a waiver ends with its item still
    blocking; tier 2 does not. Either way the block returns, a high finding is opened and the
    owner and validator are told."""
    version = version_for(walk, credit_model, onnx_file, answers=answers)
    waiver = approve_with_waived_evidence(walk, version)
    assert version.state == VersionState.APPROVED
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        revoked = api.as_(people["rhea"]).post(f"/api/v1/waivers/{waiver.pk}/revoke/",
                                               {"reason": "The fairness gap widened."})
    queued_emails.run()
    assert revoked.status_code == 200, revoked.json()
    assert _expiry_effects(version, waiver) == (
        VersionState.SUSPENDED if suspended else VersionState.APPROVED, WaiverStatus.REVOKED)
    assert version.is_servable() is not suspended
    assert ("evidence", "fairness") in [(b.kind, b.key) for b in blocking_items(version)]
    finding = Finding.objects.get(source=FindingSource.WAIVER_REVOKED)
    assert finding.severity == "high" and finding.is_unresolved
    assert "revoked" in finding.title
    assert set(Notification.objects.filter(kind="waiver_expired")
               .values_list("user__username", flat=True)) == {"dana", "victor"}
    assert sorted(m.to[0] for m in mail.outbox if m.subject.startswith("[Assay] Waiver")) == [
        "dana@example.org", "victor@example.org"]
    event = AuditEvent.objects.get(action="waiver.revoke")
    assert event.actor_username == "rhea" and event.payload["suspends"] is suspended
    assert event.payload["finding_id"] == finding.pk
    suspensions = AuditEvent.objects.filter(action="version.suspend")
    assert [e.payload["waiver_id"] for e in suspensions] == ([waiver.pk] if suspended else [])
    # The beat's expiry scan finds nothing left to do.
    assert services.waivers_expire(now=waiver.expires_at + dt.timedelta(seconds=1)) == 0


def test_lowering_the_model_tier_after_approval_does_not_stop_the_suspension(
        walk, strict_policy, credit_model, onnx_file, people):
    """The version was approved at tier 1, whose policy suspends on an expired waiver; the
    model's tier is lowered to 2 (which does not) afterwards. The approval's tier decides."""
    version = version_for(walk, credit_model, onnx_file, answers=ALL_HIGH)
    waiver = approve_with_waived_evidence(walk, version)
    services.intake_record(actor=people["rhea"], model=credit_model, is_model=True,
                           answers=MEDIUM)
    assert credit_model.intake.__class__.objects.get(model=credit_model).tier == 2
    services.waivers_expire(now=waiver.expires_at + dt.timedelta(seconds=1))
    assert _expiry_effects(version, waiver) == (VersionState.SUSPENDED, WaiverStatus.EXPIRED)
    assert AuditEvent.objects.get(action="waiver.expire").payload["tier"] == 1
