"""The scheduled check as the worker runs it (the service called directly): a plan set at
approval from the tier's policy, a window of the prediction log counted once, statistics from
the windows, breaches raising findings, and sustained or severe breaches requiring
revalidation and, where the policy says so, suspending the version."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.models import AuditEvent
from governance.models import Finding, FindingSource, FindingStatus, Notification
from governance.policy import default_monitoring
from monitoring import services
from monitoring.models import MonitoringCheck, MonitoringPlan, MonitoringWindow, PlanStatus
from registry.models import VersionState
from serving.models import PredictionLog
from tests.monitoring.conftest import log_predictions, population


def later(seconds: float = 30) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_approval_sets_the_plan_from_the_tiers_policy(approve):
    version = approve()
    plan = MonitoringPlan.objects.get(version=version)
    assert plan.tier == 2
    assert plan.rules["thresholds"] == default_monitoring(2)["thresholds"]
    assert plan.rules["suspend"] is False and plan.rules["frequency_minutes"] == 360
    event = AuditEvent.objects.get(action="monitoring.plan_set")
    # The trail keeps numbers in its canonical form (decimal strings).
    assert event.payload["rules"]["thresholds"]["max_psi"] == {"limit": "0.25", "severe": "0.5"}
    # The plan's rules are part of the signed approval (their SHA-256).
    from tests.reports.test_validation_report import attestation
    assert attestation(version)["documents"]["monitoring_plan"]["plan_id"] == plan.pk


def test_a_suspending_policy_gives_the_plan_its_rules(suspending_policy, approve):
    plan = MonitoringPlan.objects.get(version=approve())
    assert plan.rules["suspend"] is True and plan.rules["frequency_minutes"] == 5


def test_stable_traffic_is_within_thresholds(approve, validated):
    version = approve()
    validated(version)
    log_predictions(version, population(500, seed=3))
    check = services.plan_check(plan_id=version.monitoring_plan.pk, now=later())
    assert check.status == PlanStatus.OK, check.statistics
    assert check.rows == 500
    assert check.statistics["max_psi"] < 0.1
    assert check.statistics["missing_rate"] == 0 and check.statistics["schema_violation_rate"] == 0
    assert not Finding.objects.filter(source=FindingSource.MONITORING).exists()
    version.monitoring_plan.refresh_from_db()
    assert version.monitoring_plan.status == PlanStatus.OK
    assert version.monitoring_plan.reference["counts"]["rows"] == 2000


def test_each_log_row_is_counted_once_and_windows_merge(approve, validated):
    version = approve()
    validated(version)
    plan = version.monitoring_plan
    log_predictions(version, population(300, seed=3), at=timezone.now() - dt.timedelta(minutes=5))
    first = services.plan_check(plan_id=plan.pk, now=later())
    # Logged after the first window's end (the first check ran "30 s from now").
    log_predictions(version, population(200, seed=4), at=later(45))
    second = services.plan_check(plan_id=plan.pk, now=later(90))
    windows = list(MonitoringWindow.objects.filter(plan=plan).order_by("end"))
    assert [w.rows for w in windows] == [300, 200]
    assert first.rows == 300 and second.rows == 500  # the period merges both windows
    # The drift counts of the two windows add up to the rows of both.
    assert sum(sum(w.counts["columns"]["age"]["psi"]) for w in windows) == 500


def test_drift_opens_one_finding_per_statistic_and_alerts_owner_and_validator(
        approve, validated, people, queued_emails):
    version = approve()
    validated(version)
    log_predictions(version, population(400, seed=5, shift=True))
    check = services.plan_check(plan_id=version.monitoring_plan.pk, now=later())
    assert check.status == PlanStatus.SEVERE
    breached = {b["statistic"] for b in check.breaches}
    assert {"max_psi", "prediction_psi", "out_of_range_rate"} <= breached
    findings = Finding.objects.filter(source=FindingSource.MONITORING)
    assert set(findings.values_list("source_key", flat=True)) == {
        f"monitoring:{s}" for s in breached}
    psi = findings.get(source_key="monitoring:max_psi")
    assert psi.severity == "high" and psi.owner == people["dana"]
    alerted = set(Notification.objects.filter(kind="monitoring_alert", object_id=str(psi.pk))
                  .values_list("user__username", flat=True))
    assert alerted == {"dana", "victor"}
    # The breach goes on: the same findings, no new ones.
    services.plan_check(plan_id=version.monitoring_plan.pk, now=later(60))
    assert findings.count() == len(breached)
    # Closed, then breached again: a new finding, not the closed one reused.
    Finding.objects.filter(pk=psi.pk).update(status=FindingStatus.CLOSED)
    services.plan_check(plan_id=version.monitoring_plan.pk, now=later(90))
    assert findings.filter(source_key="monitoring:max_psi").count() == 2


def test_a_severe_breach_requires_revalidation_but_does_not_suspend_without_the_policy(
        approve, validated):
    version = approve()
    validated(version)
    log_predictions(version, population(400, seed=5, shift=True))
    services.plan_check(plan_id=version.monitoring_plan.pk, now=later())
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    assert version.governance.revalidation_required_at is not None
    assert "Severe monitoring breach" in version.governance.revalidation_reason
    assert version.governance.next_review_due <= timezone.localdate()
    assert AuditEvent.objects.filter(action="version.revalidation_required").count() == 1


def test_a_severe_breach_suspends_under_a_suspending_policy(suspending_policy, approve,
                                                            validated):
    version = approve()
    validated(version)
    log_predictions(version, population(400, seed=5, shift=True))
    services.plan_check(plan_id=version.monitoring_plan.pk, now=later())
    version.refresh_from_db()
    assert version.state == VersionState.SUSPENDED and not version.is_servable()
    event = AuditEvent.objects.get(action="version.suspend")
    assert event.actor_id is None and "Suspended by monitoring" in event.payload["reason"]


def test_sustained_breaches_require_revalidation(approve, validated, people):
    """Breaches below the severe level in ``sustained_checks`` checks in a row."""
    version = approve()
    validated(version)
    plan = version.monitoring_plan
    plan.rules = {**plan.rules, "sustained_checks": 2,
                  "thresholds": {"missing_rate": {"limit": 0.01, "severe": 0.9}}}
    plan.save()
    frame = population(200, seed=6).astype(object)
    frame.loc[:20, "income"] = None  # about 10% of the income values missing: 3.5% of values
    log_predictions(version, frame)
    first = services.plan_check(plan_id=plan.pk, now=later())
    assert first.status == PlanStatus.BREACH
    version.refresh_from_db()
    assert version.governance.revalidation_required_at is None
    second = services.plan_check(plan_id=plan.pk, now=later(60))
    assert second.status == PlanStatus.BREACH
    version.refresh_from_db()
    assert "2 checks in a row" in version.governance.revalidation_reason


def test_schema_violations_and_volume_are_counted(approve, validated):
    version = approve()
    validated(version)
    plan = version.monitoring_plan
    start = timezone.now() - dt.timedelta(hours=1)
    log_predictions(version, population(100, seed=7))
    PredictionLog.objects.create(
        endpoint_slug="scoring", version=version, artifact_sha256=version.artifact_sha256,
        role="primary", request_id="odd", app_key_prefix="test",
        inputs=[{"age": "forty", "income": 2.0, "children": 1, "extra": 1}],
        outputs=[{"score": [0.5]}], latency_ms=1.0, created_at=start)
    check = services.plan_check(plan_id=plan.pk, now=later())
    assert check.details["quality"]["schema_violations"] == 1
    assert check.statistics["schema_violation_rate"] == pytest.approx(1 / 101)
    assert check.statistics["volume_change"] is None  # nothing to compare with yet


def test_without_validated_data_quality_is_still_monitored(approve):
    version = approve()
    log_predictions(version, population(60, seed=8))
    check = services.plan_check(plan_id=version.monitoring_plan.pk, now=later())
    version.monitoring_plan.refresh_from_db()
    assert "No succeeded evaluation run" in version.monitoring_plan.reference_note
    assert check.statistics.get("max_psi") is None
    assert check.statistics["missing_rate"] == 0
    assert check.status == PlanStatus.OK


def test_the_scan_queues_due_plans_once_and_enforces_retention(approve, settings,
                                                              django_capture_on_commit_callbacks,
                                                              monkeypatch):
    version = approve()
    plan = version.monitoring_plan
    queued: list[int] = []
    monkeypatch.setattr(services, "check_queue", queued.append)
    MonitoringPlan.objects.filter(pk=plan.pk).update(next_check_at=timezone.now())
    old = timezone.now() - dt.timedelta(days=settings.GATEWAY_LOG_RETENTION_DAYS + 1)
    log_predictions(version, population(5, seed=9), at=old)
    log_predictions(version, population(5, seed=9))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.monitoring_scan() == 1
        assert services.monitoring_scan() == 0  # claimed: its next check moved on
    assert queued == [plan.pk]
    assert PredictionLog.objects.filter(version=version).count() == 5
    plan.refresh_from_db()
    assert plan.next_check_at > timezone.now() + dt.timedelta(minutes=359)


def test_a_retired_version_is_not_checked(approve, walk, people):
    version = approve()
    from governance import services as governance
    governance.version_transition(version=version, to=VersionState.RETIRED,
                                  actor=people["rhea"], reason="Replaced.")
    assert services.plan_check(plan_id=version.monitoring_plan.pk, now=later()) is None
    assert not MonitoringCheck.objects.exists()
