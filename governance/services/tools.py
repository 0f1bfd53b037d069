"""The register of tools that are not models: registering one from its intake ("not a model"),
changing its criticality, its periodic review by whom its policy names, and the scan that
notifies reviews coming due.

A tool's workflow is the current policy's ``tools`` section for its criticality
(governance.policy.ToolRules): the controls checklist, how many months between reviews, and who
reviews. Changing the criticality derives the workflow again from the policy then current.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.models import (
    ModelIntake,
    NotificationKind,
    Tool,
    ToolCriticality,
    ToolKind,
    ToolReview,
)
from governance.policy import ToolRules, add_months
from governance.services.common import require_text
from governance.services.notifications import (
    notification_scan_record,
    notifications_settle,
    notify,
)
from governance.services.policies import current_policy
from registry.models import RegisteredModel

# Reviews coming due within this many days are notified.
TOOL_REVIEW_NOTICE_DAYS = 30
TOOL_REVIEW_KINDS = (NotificationKind.TOOL_REVIEW_DUE, NotificationKind.TOOL_REVIEW_OVERDUE)
TOOL_EDITORS = ("Only the entry's team, its owner and developers, and risk officers can "
                "register a tool or change its criticality.")


def _refuse_unless_editor(actor: User, model: RegisteredModel, attempted: str, target: Any
                          ) -> None:
    """Who registers a tool also changes its criticality (core.permissions.can_edit_intake)."""
    if not permissions.can_edit_intake(actor, model):
        refuse(actor, "Auditors have read-only access." if permissions.is_auditor_only(actor)
               else TOOL_EDITORS, attempted=attempted, target=target)


def _checklist(rules: ToolRules, answers: Any) -> list[dict[str, Any]]:
    """The policy's controls, each with whether it is in place: ``answers`` maps a control to
    true or false; a control left out is not in place."""
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        raise ValidationFailed("Give the controls as an object of control -> true or false.",
                               field="controls")
    unknown = sorted(set(answers) - set(rules.controls))
    if unknown:
        raise ValidationFailed(
            f"{', '.join(map(repr, unknown))} is not a control the policy asks of a "
            f"{rules.criticality}-criticality tool; its controls are: "
            f"{'; '.join(rules.controls) or 'none'}.", field="controls")
    wrong = sorted(k for k, v in answers.items() if not isinstance(v, bool))
    if wrong:
        raise ValidationFailed(f"Say true or false for {', '.join(map(repr, wrong))}.",
                               field="controls")
    return [{"control": c, "in_place": answers.get(c, False)} for c in rules.controls]


def _validate_choices(kind: Any, criticality: Any) -> None:
    errors = {}
    if kind not in ToolKind.values:
        errors["kind"] = [f"The kind of tool is one of: {', '.join(ToolKind.values)}."]
    if criticality not in ToolCriticality.values:
        errors["criticality"] = [f"The criticality is one of: "
                                 f"{', '.join(ToolCriticality.values)}."]
    if errors:
        raise ValidationFailed(" ".join(m for ms in errors.values() for m in ms), fields=errors)


def tool_register(*, actor: User, model: RegisteredModel, kind: Any, criticality: Any,
                  usage: str, controls: Any = None, now: dt.datetime | None = None) -> Tool:
    """Put an inventory entry whose intake said "not a model" in the tool register, with the
    current policy's workflow for its criticality; its first review falls due after the policy's
    months."""
    _refuse_unless_editor(actor, model, "tool.register", model)
    _validate_choices(kind, criticality)
    require_text({"usage": usage}, {"usage": "Say who uses the tool, for what and how often."})
    policy = current_policy(model)
    rules = policy.rules.tool_rules(criticality)
    checklist = _checklist(rules, controls)
    now = now or timezone.now()
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        intake = ModelIntake.objects.filter(model=model).first()
        if intake is None or intake.is_model:
            raise Conflict("Only an entry whose intake recorded it as not a model goes in the "
                           "tool register: complete its intake with \"is it a model?\" = no "
                           "first.")
        if Tool.objects.filter(model=model).exists():
            raise Conflict(f"{model.name} is in the tool register already.")
        tool = Tool.objects.create(
            model=model, kind=kind, criticality=criticality, usage=usage, controls=checklist,
            policy_version=policy, next_review_due=add_months(now.date(), rules.review_months),
            registered_by=actor, registered_at=now)
        audit.record(action="tool.register", actor=actor, obj=tool, payload={
            "model": model.slug, "kind": kind, "criticality": criticality, "usage": usage,
            "controls": checklist, "policy_version": str(policy), "rules": rules.as_dict(),
            "next_review_due": tool.next_review_due})
    return tool


def tool_rules_of(tool: Tool) -> ToolRules:
    """The workflow the tool's policy version sets for its criticality."""
    return tool.policy_version.rules.tool_rules(tool.criticality)


def _last_reviewed(tool: Tool) -> dt.date:
    """The day the tool's review cadence runs from: its latest review, else its registration."""
    latest = tool.reviews.order_by("-reviewed_at").values_list("reviewed_at", flat=True).first()
    return timezone.localdate(latest or tool.registered_at)


def tool_criticality_change(*, actor: User, tool: Tool, criticality: Any, reason: str,
                            controls: Any = None, now: dt.datetime | None = None) -> Tool:
    """Change a tool's criticality: its workflow is derived again from the current policy's
    ``tools`` section for the new criticality (its controls checklist, how often and by whom it
    is reviewed), and its next review falls due that many months after its last review (or its
    registration), so a higher criticality can make a review due, or overdue, at once.

    Controls the new checklist shares with the old keep their answers unless ``controls``
    answers the new checklist afresh; new ones start as missing. Review notices that no longer
    hold are settled, and when the new date falls within the notice window the reviewers the
    policy now names are told at once."""
    _refuse_unless_editor(actor, tool.model, "tool.criticality_change", tool)
    if criticality not in ToolCriticality.values:
        raise ValidationFailed(f"The criticality is one of: {', '.join(ToolCriticality.values)}"
                               f"; not {criticality!r}.", field="criticality")
    require_text({"reason": reason}, {"reason": "Say why the criticality changes (what the "
                                                "tool is now used for, what changed)."})
    now = now or timezone.now()
    policy = current_policy(tool.model)
    rules = policy.rules.tool_rules(criticality)
    with transaction.atomic():
        locked = Tool.objects.select_for_update().select_related("policy_version", "model").get(
            pk=tool.pk)
        if locked.retired_at is not None:
            raise Conflict(f"{locked.model.name} was retired from the register on "
                           f"{locked.retired_at:%Y-%m-%d}; its criticality no longer applies.")
        if criticality == locked.criticality:
            raise ValidationFailed(f"{locked.model.name} is of {criticality} criticality "
                                   "already; choose another.", field="criticality")
        old_rules = tool_rules_of(locked)
        kept = {c["control"]: c.get("in_place", False) for c in locked.controls}
        checklist = _checklist(rules, controls) if controls is not None else [
            {"control": c, "in_place": kept.get(c, False)} for c in rules.controls]
        before = {"criticality": locked.criticality, "policy_version": str(locked.policy_version),
                  "rules": old_rules.as_dict(), "controls": locked.controls,
                  "next_review_due": locked.next_review_due}
        locked.criticality, locked.policy_version, locked.controls = criticality, policy, checklist
        locked.next_review_due = add_months(_last_reviewed(locked), rules.review_months)
        locked.save(update_fields=["criticality", "policy_version", "controls",
                                   "next_review_due"])
        audit.record(action="tool.criticality_change", actor=actor, obj=locked, payload={
            "model": locked.model.slug, "reason": reason, "before": before,
            "after": {"criticality": criticality, "policy_version": str(policy),
                      "rules": rules.as_dict(), "controls": checklist,
                      "next_review_due": locked.next_review_due}})
        reviewers = _reviewers(locked, rules)
        # Notices about the old date are stale; at the same date only those no longer asked.
        keep = reviewers if locked.next_review_due == before["next_review_due"] else []
        notifications_settle(obj=locked, kinds=TOOL_REVIEW_KINDS, keep=keep)
        if locked.next_review_due <= now.date() + dt.timedelta(days=TOOL_REVIEW_NOTICE_DAYS):
            _notify_review(locked, reviewers, today=now.date())
    tool.refresh_from_db()
    return tool


def tool_review(*, actor: User, tool: Tool, still_in_use: Any, notes: str, controls: Any = None,
                now: dt.datetime | None = None) -> ToolReview:
    """Conclude a tool's periodic review: still used as registered (the next review falls due
    after the policy's months) or no longer used (the tool is retired from the register), with
    the controls checklist confirmed again."""
    rules = tool_rules_of(tool)
    reason = permissions.reason_cannot_review_tool(actor, tool.model, rules.reviewer)
    if reason:
        refuse(actor, reason, attempted="tool.review", target=tool)
    if not isinstance(still_in_use, bool):
        raise ValidationFailed("Say whether the tool is still in use: true or false.",
                               field="still_in_use")
    require_text({"notes": notes}, {"notes": "Say what the review found: how the tool is used "
                                             "now and any change since the last review."})
    checklist = _checklist(rules, controls)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Tool.objects.select_for_update().get(pk=tool.pk)
        if locked.retired_at is not None:
            raise Conflict(f"{tool.model.name} was retired from the register on "
                           f"{locked.retired_at:%Y-%m-%d}; it has no more reviews.")
        next_due = add_months(now.date(), rules.review_months) if still_in_use else None
        review = ToolReview.objects.create(
            tool=locked, reviewer=actor, reviewed_at=now, due_on=locked.next_review_due,
            still_in_use=still_in_use, controls=checklist, notes=notes, next_review_due=next_due)
        locked.controls = checklist
        if next_due is not None:
            locked.next_review_due = next_due
        else:
            locked.retired_at = now
        locked.save(update_fields=["controls", "next_review_due", "retired_at"])
        audit.record(action="tool.review", actor=actor, obj=review, payload={
            "model": tool.model.slug, "due_on": review.due_on, "still_in_use": still_in_use,
            "notes": notes, "controls": checklist, "reviewer_rule": rules.reviewer,
            "next_review_due": next_due, "retired": next_due is None})
        notifications_settle(obj=locked, kinds=TOOL_REVIEW_KINDS)
    tool.refresh_from_db()
    return review


def _reviewers(tool: Tool, rules: ToolRules) -> list[User]:
    """Who must act on a review coming due: the owner, and the role holders the policy names."""
    people = [tool.model.owner]
    if rules.reviewer != "owner":
        people += list(User.objects.filter(is_active=True, role_grants__role=rules.reviewer)
                       .exclude(pk=tool.model.owner_id).distinct())
    return people


def _notify_review(tool: Tool, people: list[User], *, today: dt.date) -> int:
    """Tell ``people`` the tool's review is coming due or overdue (once per review date)."""
    due, overdue = tool.next_review_due, tool.next_review_due < today
    return len(notify(
        users=people, obj=tool, period=due.isoformat(),
        kind=NotificationKind.TOOL_REVIEW_OVERDUE if overdue
        else NotificationKind.TOOL_REVIEW_DUE,
        title=f"Review of the tool {tool.model.name} "
              f"{'overdue since' if overdue else 'due'} {due}",
        url=tool.get_absolute_url(),
        body=f"{tool.model.name} ({tool.get_criticality_display().lower()} criticality) "
             f"is due for its periodic review on {due}: confirm it is used as "
             "registered and its controls are in place."))


def tools_scan(*, now: dt.datetime | None = None, days: int = TOOL_REVIEW_NOTICE_DAYS) -> int:
    """Notify tool reviews coming due within ``days`` and overdue ones, once per review date
    and kind. Idempotent. Returns the number of notifications sent."""
    today = (now or timezone.now()).date()
    sent = 0
    with transaction.atomic():
        for tool in Tool.objects.review_due_by(today + dt.timedelta(days=days)).listed() \
                .select_related("policy_version"):
            sent += _notify_review(tool, _reviewers(tool, tool_rules_of(tool)), today=today)
        notification_scan_record(scan="tools", sent=sent)
    return sent


def tool_counts(queryset: Any) -> dict[str, int]:
    """How many tools of ``queryset`` are in use, and how many of those are overdue."""
    today = timezone.localdate()
    in_use = queryset.filter(retired_at__isnull=True)
    return {"in_use": in_use.count(), "retired": queryset.filter(~Q(retired_at=None)).count(),
            "overdue": in_use.filter(next_review_due__lt=today).count()}

