"""Periodic review: approved versions come due for review at their tier's interval (the policy bound
at submission says how often), are listed and notified before and after the date, become a finding
once overdue, and are reviewed like a validation: continue, continue with conditions, or retire.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.gates import case_for
from governance.models import (
    FindingSource,
    NotificationKind,
    PeriodicReview,
    ReviewConclusion,
    Severity,
    VersionGovernance,
    workflow_url,
)
from governance.services.common import limit_text, require_text
from governance.services.findings import finding_raise_by_assay, findings_close_answered
from governance.services.lifecycle import review_due_after, version_transition
from governance.services.notifications import notification_scan_record, notify
from registry.models import ModelVersion, VersionState

COMING_DUE_DAYS = 30


def version_require_revalidation(*, version: ModelVersion, reason: str,
                                 figures: dict | None = None,
                                 now: dt.datetime | None = None) -> bool:
    """Assay marks an approved (or suspended) version "revalidation required": ongoing
    monitoring found a sustained or severe breach. Its periodic review becomes due today (the
    review queue and the overdue scan then take it up) and its owner and validator are told.
    Inside the caller's transaction; returns False when it was already required."""
    now = now or timezone.now()
    gov = VersionGovernance.objects.select_for_update().filter(version=version).first()
    if gov is None or gov.revalidation_required_at is not None:
        return False
    gov.revalidation_required_at, gov.revalidation_reason = now, reason
    if gov.next_review_due is None or gov.next_review_due > now.date():
        gov.next_review_due = now.date()
    gov.save(update_fields=["revalidation_required_at", "revalidation_reason",
                            "next_review_due"])
    audit.record(action="version.revalidation_required", actor=None, obj=version, payload={
        "version": version.number, "reason": reason, "figures": figures or {},
        "next_review_due": gov.next_review_due})
    notify(users=[version.model.owner, gov.validator], kind=NotificationKind.MONITORING_ALERT,
           obj=version, period=f"revalidation:{now:%Y-%m-%dT%H:%M:%S}",
           title=f"{version} needs revalidation: {reason}"[:200], url=workflow_url(version),
           body=f"{reason}\n\nIts periodic review is due now ({gov.next_review_due}).")
    return True


def periodic_review_conclude(*, actor: User, version: ModelVersion, performance: str,
                             changes: str, limitations: str, conclusion: str,
                             conditions: str = "", now: dt.datetime | None = None
                             ) -> PeriodicReview:
    """An independent validator records a periodic review of an approved version. Continuing
    schedules the next review from today; retiring retires the version. Either way the review
    closes the findings its lateness opened."""
    now = now or timezone.now()
    require_text({"performance": performance, "changes": changes, "limitations": limitations}, {
        "performance": "Describe how the model performed since its last review.",
        "changes": "Describe changes in its use, data or environment (or say there were none).",
        "limitations": "List its limitations now."})
    limit_text({"conditions": conditions})
    if conclusion not in ReviewConclusion.values:
        raise ValidationFailed(f"Conclude with one of: {', '.join(ReviewConclusion.values)}.",
                               field="conclusion")
    with_conditions = conclusion == ReviewConclusion.CONTINUE_WITH_CONDITIONS
    if with_conditions != bool((conditions or "").strip()):
        raise ValidationFailed("Conditions go with — and only with — 'continue with conditions'.",
                               field="conditions")
    case = case_for(version)
    reason = permissions.reason_cannot_review_periodically(actor, case)
    if reason:
        refuse(actor, reason, attempted="periodic_review.conclude", target=version)
    if version.state != VersionState.APPROVED:
        raise Conflict(f"Periodic reviews are of approved versions; version {version.number} is "
                       f"{version.get_state_display().lower()}.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        gov = VersionGovernance.objects.select_for_update().get(version=locked)
        if locked.state != VersionState.APPROVED:
            raise Conflict("This version left the approved state meanwhile.")
        retire = conclusion == ReviewConclusion.RETIRE
        due_next = None if retire else review_due_after(case, now.date(),
                                                        gov.review_policy_version)
        # The case's tier is set: an approved version was submitted under one.
        review = PeriodicReview.objects.create(  # type: ignore[misc]
            version=locked, reviewer=actor, policy_version=gov.policy_version, tier=case.tier,
            due_on=gov.next_review_due or now.date(), performance=performance, changes=changes,
            limitations=limitations, conclusion=conclusion, conditions=conditions,
            next_review_due=due_next, concluded_at=now)
        gov.next_review_due = due_next
        # The review is the revalidation monitoring asked for (version_require_revalidation).
        gov.revalidation_required_at, gov.revalidation_reason = None, ""
        gov.save(update_fields=["next_review_due", "revalidation_required_at",
                                "revalidation_reason"])
        audit.record(action="periodic_review.conclude", actor=actor, obj=review, payload={
            "version": locked.number, "conclusion": conclusion, "conditions": conditions,
            "due_on": review.due_on, "next_review_due": due_next,
            "policy_version": str(gov.policy_version), "tier": case.tier,
            "performance": performance, "changes": changes, "limitations": limitations})
        findings_close_answered(
            version=locked, source=FindingSource.REVIEW_OVERDUE, actor=actor, now=now,
            text=f"Answered by periodic review {review.pk} of {now:%Y-%m-%d} "
                 f"({review.get_conclusion_display().lower()}).")
        if retire:
            version_transition(version=locked, to=VersionState.RETIRED, actor=None,
                               reason=f"Periodic review by {actor.username}: {limitations}",
                               details={"periodic_review_id": review.pk,
                                        "reviewer": actor.username})
    version.state = locked.state
    return review


def reviews_scan(*, now: dt.datetime | None = None, days: int = COMING_DUE_DAYS) -> int:
    """Notify reviews coming due within ``days`` and overdue ones, and open one finding per
    overdue review date. Idempotent: notifications and findings have unique keys. Returns the
    number of notifications sent."""
    today = (now or timezone.now()).date()
    sent = 0
    rows = (VersionGovernance.objects.filter(
        version__state=VersionState.APPROVED, next_review_due__isnull=False,
        next_review_due__lte=today + dt.timedelta(days=days))
        .select_related("version__model__owner", "validator"))
    with transaction.atomic():
        for gov in rows:
            version, due = gov.version, gov.next_review_due
            overdue = due < today
            if overdue:
                finding_raise_by_assay(
                    version=version, source=FindingSource.REVIEW_OVERDUE,
                    source_key=f"review:{due.isoformat()}", severity=Severity.MEDIUM, now=now,
                    title=f"Periodic review overdue since {due}",
                    description=f"{version} was due for its periodic review on {due}. An "
                                "independent validator must review it; until then the model "
                                "runs without the revalidation its policy requires.")
            sent += len(notify(
                users=[version.model.owner, gov.validator], obj=version, period=due.isoformat(),
                kind=NotificationKind.REVIEW_OVERDUE if overdue else NotificationKind.REVIEW_DUE,
                title=f"Periodic review of {version} {'overdue since' if overdue else 'due'} "
                      f"{due}", url=workflow_url(version),
                body=f"{version} is due for its periodic review on {due}."))
        notification_scan_record(scan="reviews", sent=sent)
    return sent
