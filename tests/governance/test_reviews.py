"""Periodic review: the schedule follows the tier's interval in the policy bound at submission
(SR 11-7: 12 months for every tier; SR 26-2: 12/24/36), due and overdue reviews are notified and
an overdue one becomes a finding once; a review concludes like a validation. "Today" is frozen by
passing ``now=`` to the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import Conflict, PermissionRefused
from core.models import AuditEvent
from governance import gates, services
from governance.models import (
    Finding,
    FindingSource,
    Notification,
    VersionGovernance,
)
from governance.policy import add_months
from registry.models import VersionState
from tests.governance.conftest import ALL_HIGH, ALL_LOW, MEDIUM, shipped
from tests.governance.part2 import version_for

pytestmark = pytest.mark.django_db


def approve(walk, version):
    if version.state == VersionState.DRAFT:
        walk.to_pending(version)
    case_roles = gates.case_for(version).required_roles
    for who in ("boris", "rhea"):
        role = "review_board" if who == "boris" else "risk_officer"
        if role in case_roles:
            walk.sign(version, who)
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    return VersionGovernance.objects.get(version=version)


@pytest.mark.parametrize(("template", "answers", "months"), [
    ("sr-11-7", ALL_HIGH, 12), ("sr-11-7", MEDIUM, 12), ("sr-11-7", ALL_LOW, 12),
    ("sr-26-2", ALL_HIGH, 12), ("sr-26-2", MEDIUM, 24), ("sr-26-2", ALL_LOW, 36),
])
def test_next_review_follows_the_policy_bound_at_submission(
        walk, policy, adam, credit_model, onnx_file, template, answers, months):
    bound = shipped(template)
    if not bound.is_current:
        services.policy_version_make_current(actor=adam, policy_version=bound)
    version = version_for(walk, credit_model, onnx_file, answers=answers)
    walk.submit(version)
    # The current policy changes after submission: the bound one still decides.
    other = shipped("sr-26-2" if template == "sr-11-7" else "sr-11-7")
    services.policy_version_make_current(actor=adam, policy_version=other)
    walk.assign(version)
    walk.evidence(version)
    walk.review(version)
    gov = approve(walk, version)
    assert gov.policy_version == bound
    assert gov.next_review_due == add_months(gov.decided_at.date(), months)


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 15), 36) == dt.date(2028, 11, 15)


@pytest.fixture
def approved(walk, draft):
    gov = approve(walk, draft)
    return draft, gov


def test_reviews_coming_due_are_notified_once(approved, django_capture_on_commit_callbacks,
                                              mailoutbox, queued_emails):
    _version, gov = approved
    now = timezone.make_aware(dt.datetime.combine(gov.next_review_due - dt.timedelta(days=10),
                                                  dt.time(9)))
    assert services.reviews_scan(now=now - dt.timedelta(days=40)) == 0  # not within 30 days
    with django_capture_on_commit_callbacks(execute=True):
        first = services.reviews_scan(now=now)
        second = services.reviews_scan(now=now + dt.timedelta(days=1))
    assert (first, second) == (2, 0)  # owner and validator, once
    queued_emails.run()
    rows = Notification.objects.filter(kind="review_due")
    assert {n.user.username for n in rows} == {"dana", "victor"}
    assert len([m for m in mailoutbox if "Periodic review" in m.subject]) == 2
    assert not Finding.objects.filter(source=FindingSource.REVIEW_OVERDUE).exists()


def test_an_overdue_review_is_a_finding_opened_once(approved):
    _version, gov = approved
    late = timezone.make_aware(dt.datetime.combine(gov.next_review_due + dt.timedelta(days=1),
                                                   dt.time(9)))
    services.reviews_scan(now=late)
    services.reviews_scan(now=late + dt.timedelta(days=5))
    finding = Finding.objects.get(source=FindingSource.REVIEW_OVERDUE)
    assert str(gov.next_review_due) in finding.title and finding.owner.username == "dana"
    assert Notification.objects.filter(kind="review_overdue").count() == 2
    overdue = VersionGovernance.objects.review_overdue(late.date())
    assert list(overdue) == [gov]


def _review(actor, version, conclusion="continue", **kw):
    return services.periodic_review_conclude(
        actor=actor, version=version, performance="AUC stable at 0.77.",
        changes="None.", limitations="Dated population.", conclusion=conclusion, **kw)


def test_continuing_schedules_the_next_review(approved, people):
    version, gov = approved
    now = timezone.make_aware(dt.datetime.combine(gov.next_review_due, dt.time(9)))
    review = _review(people["victor"], version, now=now)
    gov.refresh_from_db()
    assert gov.next_review_due == add_months(now.date(), 12) == review.next_review_due
    assert review.due_on == add_months(gov.decided_at.date(), 12)


def test_retiring_retires_the_version(approved, people):
    version, _ = approved
    _review(people["victor"], version, conclusion="retire")
    version.refresh_from_db()
    assert version.state == VersionState.RETIRED
    assert VersionGovernance.objects.get(version=version).next_review_due is None
    with pytest.raises(Conflict, match="approved versions"):
        _review(people["victor"], version)


@pytest.mark.parametrize("who", ["dana", "rhea", "boris", "aude"])
def test_only_independent_validators_review(approved, people, who):
    version, _ = approved
    with pytest.raises(PermissionRefused):
        _review(people[who], version)


def test_bad_review_input_is_400_and_stores_nothing(approved, api, people):
    version, _gov = approved
    c = api.as_(people["victor"])
    base = {"version": version.pk, "performance": "ok", "changes": "none", "limitations": "x",
            "conclusion": "continue"}
    for body, field in [({**base, "conditions": "only on Mondays"}, "conditions"),
                        ({**base, "conclusion": "continue_with_conditions"}, "conditions"),
                        ({**base, "conclusion": "maybe"}, "conclusion"),
                        ({**base, "performance": ""}, "performance")]:
        response = c.post("/api/v1/periodic-reviews/", body)
        assert response.status_code == 400 and field in response.json()["fields"], body
    assert not version.periodic_reviews.exists()
    ok = c.post("/api/v1/periodic-reviews/", {**base, "conclusion": "continue_with_conditions",
                                              "conditions": "Quarterly monitoring."})
    assert ok.status_code == 201 and ok.json()["tier"] == 2


def test_the_review_schedule_follows_the_tier_bound_at_approval(
        walk, policy, adam, people, credit_model, onnx_file):
    """Under SR 26-2 tier 1 is reviewed every 12 months, tier 3 every 36: lowering the model's
    tier after approval leaves the approved version on its 12-month cycle."""
    services.policy_version_make_current(
        actor=adam, policy_version=shipped("sr-26-2"))
    version = version_for(walk, credit_model, onnx_file, answers=ALL_HIGH)
    gov = approve(walk, version)
    services.intake_record(actor=people["rhea"], model=credit_model, is_model=True,
                           answers=ALL_LOW)
    now = timezone.make_aware(dt.datetime.combine(gov.next_review_due, dt.time(9)))
    review = _review(people["victor"], version, now=now)
    gov.refresh_from_db()
    assert review.tier == 1
    assert gov.next_review_due == add_months(now.date(), 12) == review.next_review_due


def test_the_governance_status_carries_the_next_review_date(approved, api, people):
    version, gov = approved
    body = api.as_(people["dana"]).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert body["next_review_due"] == gov.next_review_due.isoformat()


def test_concluding_a_review_closes_the_overdue_review_finding(approved, people):
    version, gov = approved
    late = timezone.make_aware(dt.datetime.combine(gov.next_review_due + dt.timedelta(days=3),
                                                   dt.time(9)))
    services.reviews_scan(now=late)
    overdue = Finding.objects.get(source=FindingSource.REVIEW_OVERDUE)
    assert overdue.is_unresolved
    review = _review(people["victor"], version, now=late)
    overdue.refresh_from_db()
    assert overdue.status == "closed" and overdue.resolved_by == people["victor"]
    assert f"periodic review {review.pk}" in overdue.resolution
    assert overdue.comments.get().body == overdue.resolution
    assert AuditEvent.objects.filter(action="finding.close", object_id=str(overdue.pk)).exists()
    # The next scan, before the new due date, opens nothing new.
    services.reviews_scan(now=late + dt.timedelta(days=1))
    assert list(Finding.objects.unresolved()) == []


def test_review_text_over_the_limit_is_refused(approved, api, people):
    version, _ = approved
    response = api.as_(people["victor"]).post("/api/v1/periodic-reviews/", {
        "version": version.pk, "performance": "Stable.", "changes": "None.",
        "limitations": "x" * 10_001, "conclusion": "continue"})
    assert response.status_code == 400 and "limitations" in response.json()["fields"]
    assert not version.periodic_reviews.exists()
