"""Re-scheduling periodic reviews under a policy made current: which approved models' next review
dates its cadence moves (a preview, nothing stored), then one audited action that moves them and
tells their owners.

An approved version keeps the policy it was decided under (VersionGovernance.policy_version);
what changes is the cadence of its periodic reviews (VersionGovernance.review_policy_version).
The new date counts the new policy's interval for the version's tier from the version's last
periodic review (or, before its first, its approval). A date the new cadence puts in the past
becomes today (due now, not overdue since a date no policy set); a review already overdue is not
moved earlier, and one that monitoring asked for now (revalidation required) stays due now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict
from core.models import User
from governance.models import (
    NotificationKind,
    PeriodicReview,
    PolicyVersion,
    VersionGovernance,
    workflow_url,
)
from governance.policy import add_months
from governance.services.notifications import notify
from registry.models import ModelVersion


@dataclass(frozen=True)
class ReviewMove:
    """One approved version whose next periodic review the policy's cadence moves."""

    governance_id: int
    version: ModelVersion
    tier: int
    decided_under: PolicyVersion
    scheduled_under: PolicyVersion
    counted_from: dt.date
    months: int
    old_due: dt.date
    new_due: dt.date

    @property
    def earlier(self) -> bool:
        return self.new_due < self.old_due

    def as_dict(self) -> dict[str, object]:
        return {"version_id": self.version.pk, "model": self.version.model.slug,
                "number": self.version.number, "tier": self.tier,
                "decided_under": str(self.decided_under),
                "scheduled_under": str(self.scheduled_under),
                "counted_from": self.counted_from.isoformat(), "months": self.months,
                "old_due": self.old_due.isoformat(), "new_due": self.new_due.isoformat()}


def _last_review_days(version_ids: list[int]) -> dict[int, dt.date]:
    """Per version, the day of its latest periodic review that scheduled another."""
    days: dict[int, dt.date] = {}
    for version_id, concluded in (PeriodicReview.objects.filter(
            version_id__in=version_ids, next_review_due__isnull=False)
            .order_by("-concluded_at").values_list("version_id", "concluded_at")):
        days.setdefault(version_id, timezone.localdate(concluded))
    return days


def review_moves(policy_version: PolicyVersion, *, today: dt.date | None = None,
                 lock: bool = False) -> list[ReviewMove]:
    """The approved versions whose model the (current) ``policy_version`` governs now and whose
    next review date its cadence changes, by model name. Stores nothing."""
    if not policy_version.is_current:
        return []
    today = today or timezone.localdate()
    currents = PolicyVersion.objects.all_current()
    rows = (VersionGovernance.objects.under_review_schedule()
            .filter(revalidation_required_at__isnull=True, tier__isnull=False)
            .select_related("version__model__owner", "policy_version__policy",
                            "review_policy_version__policy")
            .order_by("version__model__name", "version__number"))
    if lock:
        rows = rows.select_for_update(of=("self",))
    govs = [gov for gov in rows
            if PolicyVersion.objects.current_for(gov.version.model, currents) == policy_version]
    reviewed = _last_review_days([gov.version_id for gov in govs])
    moves = []
    for gov in govs:
        if gov.decided_at is None or gov.tier is None or gov.next_review_due is None:
            continue  # not approved through the workflow: nothing to count from
        months = policy_version.tier_rules(gov.tier).revalidation_months
        since = reviewed.get(gov.version_id, timezone.localdate(gov.decided_at))
        new_due = add_months(since, months)
        if new_due < today:
            new_due = gov.next_review_due if gov.next_review_due < today else today
        if new_due == gov.next_review_due:
            continue
        moves.append(ReviewMove(
            governance_id=gov.pk, version=gov.version, tier=gov.tier,
            decided_under=gov.policy_version,
            scheduled_under=gov.review_policy_version or gov.policy_version,
            counted_from=since, months=months, old_due=gov.next_review_due, new_due=new_due))
    return moves


def moves_fingerprint(moves: list[ReviewMove]) -> str:
    """A short digest of a preview: applying refuses when the moves are no longer these."""
    text = ";".join(f"{m.governance_id}:{m.old_due}:{m.new_due}" for m in moves)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def policy_reviews_reschedule(*, actor: User, policy_version: PolicyVersion,
                              fingerprint: str = "") -> list[ReviewMove]:
    """Move the next periodic review of every approved version the current ``policy_version``
    governs to the date its cadence gives (``review_moves``): one action by an administrator or
    risk officer, audited on the policy and on each version, whose owners are notified. With
    ``fingerprint`` (from the preview), refuses when the moves differ from the preview."""
    if not permissions.can_manage_policies(actor):
        refuse(actor, "Only administrators and risk officers re-schedule periodic reviews under "
                      "a policy.", attempted="policy.reviews_reschedule",
               target=policy_version, code=permissions.WRONG_ROLE)
    with transaction.atomic():
        pv = PolicyVersion.objects.select_for_update().select_related("policy").get(
            pk=policy_version.pk)
        if not pv.is_current:
            raise Conflict(f"{pv} is not current: only a current policy's cadence re-schedules "
                           "periodic reviews.")
        moves = review_moves(pv, lock=True)
        if not moves:
            raise Conflict(f"No approved model's next periodic review changes under {pv}'s "
                           "cadence: there is nothing to re-schedule.")
        if fingerprint and fingerprint != moves_fingerprint(moves):
            raise Conflict("The review dates changed since your preview (a review was "
                           "concluded or a version approved meanwhile). Nothing was changed: "
                           "look at the new preview and apply it again.")
        for move in moves:
            VersionGovernance.objects.filter(pk=move.governance_id).update(
                next_review_due=move.new_due, review_policy_version=pv)
            audit.record(action="version.review_reschedule", actor=actor, obj=move.version,
                         payload={**move.as_dict(), "policy_version": str(pv),
                                  "policy_version_id": pv.pk})
            notify(users=[move.version.model.owner], kind=NotificationKind.REVIEW_RESCHEDULED,
                   obj=move.version, period=f"policy{pv.pk}:{move.new_due.isoformat()}",
                   title=f"Periodic review of {move.version} moved from {move.old_due} to "
                         f"{move.new_due} under {pv}",
                   body=f"{pv}, now current for {pv.scope.describe()}, asks for a review every "
                        f"{move.months} months at tier {move.tier}, counted from "
                        f"{move.counted_from}. The version stays decided under "
                        f"{move.decided_under}.",
                   url=workflow_url(move.version))
        audit.record(action="policy.reviews_reschedule", actor=actor, obj=pv, payload={
            "policy": pv.policy.slug, "number": pv.number,
            "moves": [move.as_dict() for move in moves]})
    return moves
