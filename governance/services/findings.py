"""Findings and effective challenge: raising a finding (by a person, or by Assay itself for a
failed check, an ended waiver or an overdue review), answering, closing or accepting it on the
record, its discussion and attachments, and the due-date scan.

A finding moves through ``FINDING_TRANSITIONS`` and one function, ``finding_transition``, like a
version through its lifecycle. Unresolved high findings block approval (governance.gates).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.gates import Case, case_for
from governance.models import (
    CommentKind,
    Finding,
    FindingAttachment,
    FindingCategory,
    FindingComment,
    FindingSource,
    FindingStatus,
    NotificationKind,
    RootCause,
    Severity,
    SR117Area,
)
from governance.policy import add_months
from governance.services.common import TEXT_MAX, json_safe, require_text, require_version_open
from governance.services.lifecycle import approve_if_ready
from governance.services.notifications import notification_scan_record, notify
from registry import storage
from registry.models import ModelVersion

F = FindingStatus
# How long the owner has to answer, when the finding does not say.
DEFAULT_DUE_DAYS: dict[str, int] = {Severity.HIGH: 30, Severity.MEDIUM: 60, Severity.LOW: 90}
DUE_SOON_DAYS = 7
# The latest due date a finding may be given, in months from today.
MAX_DUE_MONTHS = 36
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


def _validate_finding_text(title: Any, description: Any, severity: Any) -> None:
    errors: dict[str, list[str]] = {}
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        errors["title"] = ["Give the finding a title (up to 200 characters)."]
    if not isinstance(description, str) or not description.strip():
        errors["description"] = ["Describe the finding: what is wrong and why it matters."]
    elif len(description) > TEXT_MAX:
        errors["description"] = [f"The description is {len(description):,} characters long; "
                                 f"keep it to {TEXT_MAX:,}."]
    if severity not in Severity.values:
        errors["severity"] = [f"The severity is one of: {', '.join(Severity.values)}."]
    if errors:
        raise ValidationFailed("The finding is incomplete: " + " ".join(
            m for ms in errors.values() for m in ms), fields=errors)


# ---------------------------------------------------------------------------------------------
# Raising

def _taxonomy(category: Any, root_cause: Any, sr117_area: Any) -> dict[str, str]:
    """The finding taxonomy as given: each empty (not classified) or one of its choices."""
    given = {"category": category or "", "root_cause": root_cause or "",
             "sr117_area": sr117_area or ""}
    errors = {field: [f"The {label} is one of: {', '.join(choices.values)} (or empty)."]
              for field, label, choices in (("category", "category", FindingCategory),
                                            ("root_cause", "root cause", RootCause),
                                            ("sr117_area", "SR 11-7 area", SR117Area))
              if given[field] and given[field] not in choices.values}
    if errors:
        raise ValidationFailed(" ".join(m for ms in errors.values() for m in ms), fields=errors)
    return given


def finding_raise(*, actor: User, version: ModelVersion, title: str, description: str,
                  severity: str, owner: User | None = None, due_date: dt.date | None = None,
                  category: str = "", root_cause: str = "", sr117_area: str = "",
                  now: dt.datetime | None = None) -> Finding:
    """A validator or risk officer raises a finding; the owner (by default the model's owner)
    must answer it by the due date (by default 30, 60 or 90 days by severity). Its taxonomy
    (category, root cause, SR 11-7 area) may be given now or later (``finding_classify``)."""
    _validate_finding_text(title, description, severity)
    taxonomy = _taxonomy(category, root_cause, sr117_area)
    now = now or timezone.now()
    if due_date is not None and (not isinstance(due_date, dt.date) or due_date < now.date()):
        raise ValidationFailed("The due date cannot be in the past.", field="due_date")
    if due_date is not None and due_date > add_months(now.date(), MAX_DUE_MONTHS):
        raise ValidationFailed(f"The due date is at most {MAX_DUE_MONTHS // 12} years ahead "
                               f"(by {add_months(now.date(), MAX_DUE_MONTHS)}): a finding "
                               "must be answered within that.", field="due_date")
    case = case_for(version)
    reason = permissions.reason_cannot_raise_finding(actor, case)
    if reason:
        refuse(actor, reason, attempted="finding.raise", target=version)
    owner = owner or version.model.owner
    if owner.pk != case.owner_id and owner.pk not in case.developer_ids:
        raise ValidationFailed(f"{owner.username} cannot own this finding: the owner is the "
                               "model's owner or one of its developers.", field="owner")
    require_version_open(version, "findings are raised")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        finding = Finding.objects.create(
            version=locked, title=title.strip(), description=description, severity=severity,
            source=FindingSource.VALIDATOR, owner=owner, raised_by=actor, raised_at=now,
            due_date=due_date or (now.date() + dt.timedelta(days=DEFAULT_DUE_DAYS[severity])),
            **taxonomy)
        _record_raise(finding, actor)
    return finding


def finding_classify(*, actor: User, finding: Finding, category: Any = "", root_cause: Any = "",
                     sr117_area: Any = "") -> Finding:
    """A validator or risk officer independent of the version sets or corrects a finding's
    taxonomy (any status: classifying a closed finding keeps the register's statistics right).
    Audited with the values before and after."""
    reason = permissions.reason_cannot_raise_finding(actor, case_for(finding.version))
    if reason:
        refuse(actor, reason, attempted="finding.classify", target=finding)
    taxonomy = _taxonomy(category, root_cause, sr117_area)
    with transaction.atomic():
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        before = {field: getattr(locked, field) for field in taxonomy}
        if before == taxonomy:
            return locked
        for field, value in taxonomy.items():
            setattr(locked, field, value)
        locked.save(update_fields=list(taxonomy))
        audit.record(action="finding.classify", actor=actor, obj=locked, payload={
            "before": before, "after": taxonomy})
    for field, value in taxonomy.items():
        setattr(finding, field, value)
    return finding


def _record_raise(finding: Finding, actor: User | None) -> None:
    audit.record(action="finding.raise", actor=actor, obj=finding, payload={
        "version": finding.version.number, "title": finding.title, "severity": finding.severity,
        "source": finding.source, "source_key": finding.source_key,
        "owner": finding.owner.username, "due_date": finding.due_date,
        "figures": finding.figures, "description": finding.description,
        "category": finding.category, "root_cause": finding.root_cause,
        "sr117_area": finding.sr117_area})
    notify(users=[finding.owner], kind=NotificationKind.FINDING_RAISED, obj=finding,
           title=f"Finding F-{finding.pk} ({finding.severity}) on {finding.version}: "
                 f"{finding.title}", url=finding.get_absolute_url(),
           body=f"{finding.description}\n\nAnswer by {finding.due_date}.")


def finding_raise_by_assay(*, version: ModelVersion, source: str, source_key: str, severity: str,
                           title: str, description: str, figures: dict | None = None,
                           now: dt.datetime | None = None,
                           again_once_closed: bool = False,
                           due_days: int | None = None) -> tuple[Finding, bool]:
    """A finding raised by Assay itself (a failed check, an ended waiver, an overdue review), once
    per (version, source_key), owned by the model's owner; inside the caller's transaction, which
    holds the version's lock. With ``again_once_closed``, a closed finding does not count: the
    same source raises a new one (the database keeps at most one finding per source that is not
    closed). ``due_days`` (default: by severity) is when it must be answered. Returns
    (finding, created)."""
    same = Finding.objects.filter(version=version, source_key=source_key)
    if again_once_closed:
        same = same.exclude(status=FindingStatus.CLOSED)
    existing = same.order_by("-raised_at", "-pk").first()
    if existing is not None:
        return existing, False
    now = now or timezone.now()
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                version=version, title=title[:200], description=description, severity=severity,
                source=source, source_key=source_key, figures=figures or {},
                owner=version.model.owner, raised_at=now,
                due_date=now.date() + dt.timedelta(
                    days=due_days if due_days is not None else DEFAULT_DUE_DAYS[severity]))
    except IntegrityError:  # raised concurrently by a twin
        return Finding.objects.exclude(status=FindingStatus.CLOSED).get(
            version=version, source_key=source_key), False
    _record_raise(finding, None)
    return finding, True


def finding_raise_from_check(*, version: ModelVersion, check: str, severity: str, title: str,
                             description: str, figures: Any = None) -> Finding:
    """Raise the finding of a failed evaluation check. While the check's finding is not closed
    (open, remediation proposed, or accepted as a risk) a repeat failure returns it; once it is
    closed, the check failing again raises a new finding: the remediation did not hold. (The
    evaluation app calls this.)"""
    _validate_finding_text(title, description, severity)
    figures = {} if figures is None else figures
    if not isinstance(check, str) or not check.strip() or len(check) > 100:
        raise ValidationFailed("Name the check (up to 100 characters).", field="check")
    if not isinstance(figures, dict) or not json_safe(figures):
        raise ValidationFailed("Figures are a JSON object of finite numbers, text and lists.",
                               field="figures")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        finding, _ = finding_raise_by_assay(version=locked, source=FindingSource.EVALUATION,
                                            source_key=f"check:{check.strip()}",
                                            severity=severity, title=title.strip(),
                                            description=description, figures=figures,
                                            again_once_closed=True)
    return finding


def finding_raise_from_monitoring(*, version: ModelVersion, statistic: str, severity: str,
                                  title: str, description: str, figures: dict[str, Any],
                                  now: dt.datetime | None = None) -> tuple[Finding, bool]:
    """Raise the finding of a monitoring breach (the monitoring app calls this, inside its
    transaction). One finding per statistic while it is not closed: a breach that goes on is the
    same finding; once it is closed, the statistic breaching again is a new breach and raises a
    new finding. Returns (finding, created)."""
    _validate_finding_text(title, description, severity)
    locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    return finding_raise_by_assay(version=locked, source=FindingSource.MONITORING,
                                  source_key=f"monitoring:{statistic}", severity=severity,
                                  title=title.strip(), description=description, figures=figures,
                                  now=now, again_once_closed=True)


# ---------------------------------------------------------------------------------------------
# The finding's lifecycle: one table, one function.

@dataclass(frozen=True)
class FindingRule:
    """One edge: who may take it, the text it needs, and the comment it adds to the thread."""

    name: str
    may: Callable[[User, Case, Finding], str]
    hint: str
    comment_kind: str


def _may_answer(actor: User, case: Case, finding: Finding) -> str:
    return permissions.reason_cannot_answer_finding(actor, case, finding.owner_id)


def _may_close(actor: User, case: Case, finding: Finding) -> str:
    return permissions.reason_cannot_close_finding(actor, case, finding.raised_by_id)


def _may_accept(actor: User, case: Case, finding: Finding) -> str:
    return permissions.reason_cannot_accept_risk(actor, case)


ACCEPT = FindingRule("accept_risk", _may_accept, "Say why the risk is acceptable and who "
                                                 "carries it.", CommentKind.NOTE)
FINDING_TRANSITIONS: dict[tuple[str, str], FindingRule] = {
    (F.OPEN, F.REMEDIATION_PROPOSED): FindingRule(
        "propose_remediation", _may_answer, "Describe the remediation you propose.",
        CommentKind.RESPONSE),
    (F.REMEDIATION_PROPOSED, F.CLOSED): FindingRule(
        "close", _may_close, "Say how you verified the remediation.", CommentKind.NOTE),
    (F.REMEDIATION_PROPOSED, F.OPEN): FindingRule(
        "reopen", _may_close, "Say why the remediation does not answer the finding.",
        CommentKind.CHALLENGE),
    (F.OPEN, F.ACCEPTED_AS_RISK): ACCEPT,
    (F.REMEDIATION_PROPOSED, F.ACCEPTED_AS_RISK): ACCEPT,
}


def finding_transition(*, actor: User, finding: Finding, to: str, text: str) -> Finding:
    """Move a finding along one edge of FINDING_TRANSITIONS, with the text that edge needs (the
    remediation, the verification, the challenge or the risk acceptance), which also joins the
    discussion. Closing or accepting the last blocker of a version whose quorum is met approves it.
    """
    rule = FINDING_TRANSITIONS.get((finding.status, to))
    if rule is None:
        label = F(finding.status).label.lower()
        options = ", ".join(F(t).label.lower() for (f, t) in FINDING_TRANSITIONS
                            if f == finding.status) or "nothing (it is resolved)"
        target = F(to).label.lower() if to in F.values else repr(to)
        raise Conflict(f"Finding F-{finding.pk} is {label}; it cannot become {target}. From "
                       f"{label} it can become: {options}.")
    case = case_for(finding.version)
    refusal = rule.may(actor, case, finding)
    if refusal:
        refuse(actor, refusal, attempted=f"finding.{rule.name}", target=finding)
    require_text({"text": text}, {"text": rule.hint})
    seen = finding.status
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=finding.version_id)
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        if locked.status != seen:
            raise Conflict(f"Finding F-{locked.pk} changed meanwhile: it is now "
                           f"{locked.get_status_display().lower()}. Reload and try again.")
        locked.status = to
        if to == F.REMEDIATION_PROPOSED:
            locked.remediation = text
        if to in (F.CLOSED, F.ACCEPTED_AS_RISK):
            locked.resolved_by, locked.resolved_at, locked.resolution = actor, timezone.now(), text
        locked.save()
        comment = FindingComment.objects.create(finding=locked, author=actor,
                                                kind=rule.comment_kind, body=text)
        audit.record(action=f"finding.{rule.name}", actor=actor, obj=locked, payload={
            "from": seen, "to": to, "text": text, "comment_id": comment.pk,
            "severity": locked.severity, "version": version.number})
        if to in (F.CLOSED, F.ACCEPTED_AS_RISK):
            approve_if_ready(version, actor=None)
        _notify_finding_move(locked, version, rule.name, actor, text)
    finding.status = to
    return locked


def _notify_finding_move(finding: Finding, version: ModelVersion, move: str, actor: User,
                         text: str) -> None:
    """Hand the finding to whoever must act next: a proposed remediation to the validator who
    raised it (and the version's validator), a challenged one back to its owner."""
    moment = timezone.now().strftime("%Y%m%d%H%M%S")  # each round is news again
    if move == "propose_remediation":
        case = case_for(version)
        notify(users=[u for u in User.objects.filter(
                   pk__in={finding.raised_by_id, case.validator_id} - {None}).order_by("pk")
                   if u.pk != actor.pk],
               kind=NotificationKind.REMEDIATION_PROPOSED, obj=finding,
               period=f"remediation-{moment}",
               title=f"Remediation proposed for F-{finding.pk} on {version}: {finding.title}",
               url=finding.get_absolute_url(),
               body=f"{text}\n\nClose the finding if the remediation answers it, or reopen it "
                    "with what is missing.")
    elif move == "reopen":
        notify(users=[finding.owner], kind=NotificationKind.FINDING_RAISED, obj=finding,
               period=f"reopened-{moment}",
               title=f"F-{finding.pk} on {version} was reopened: {finding.title}",
               url=finding.get_absolute_url(),
               body=f"{text}\n\nPropose another remediation by {finding.due_date}.")


def findings_close_answered(*, version: ModelVersion, source: str, actor: User, text: str,
                            now: dt.datetime) -> list[Finding]:
    """Close the unresolved findings Assay raised on the version from ``source`` that a record
    just answered (a periodic review answers its overdue-review findings), inside the caller's
    transaction. ``text`` says what answered them and joins each discussion."""
    closed = []
    for finding in (Finding.objects.select_for_update().unresolved()
                    .filter(version=version, source=source).order_by("pk")):
        seen = finding.status
        finding.status = F.CLOSED
        finding.resolved_by, finding.resolved_at, finding.resolution = actor, now, text
        finding.save()
        comment = FindingComment.objects.create(finding=finding, author=actor,
                                                kind=CommentKind.NOTE, body=text)
        audit.record(action="finding.close", actor=actor, obj=finding, payload={
            "from": seen, "to": F.CLOSED, "text": text, "comment_id": comment.pk,
            "severity": finding.severity, "version": version.number})
        closed.append(finding)
    return closed


# The same answer for a comment id that does not exist and for one of another finding, which
# may be another team's: a reply cannot probe which comment ids exist elsewhere.
NO_SUCH_COMMENT = "That comment does not exist in this finding's discussion."


def comment_to_reply_to(finding: Finding, comment_id: int | None) -> FindingComment | None:
    """The comment of ``finding`` that ``comment_id`` names (None when none is named); any other
    id, unknown or another finding's, is the same bad input."""
    if comment_id is None:
        return None
    comment = FindingComment.objects.filter(pk=comment_id, finding=finding).first()
    if comment is None:
        raise ValidationFailed(NO_SUCH_COMMENT, field="reply_to")
    return comment


def finding_comment_add(*, actor: User, finding: Finding, body: str, kind: str = "note",
                        reply_to: FindingComment | None = None) -> FindingComment:
    """Add to a finding's challenge/response discussion (``reply_to`` threads it)."""
    if kind not in CommentKind.values:
        raise ValidationFailed(f"The kind is one of: {', '.join(CommentKind.values)}.",
                               field="kind")
    require_text({"body": body}, {"body": "Write something."})
    if reply_to is not None and reply_to.finding_id != finding.pk:
        raise ValidationFailed(NO_SUCH_COMMENT, field="reply_to")
    case = case_for(finding.version)
    if not permissions.can_discuss_finding(actor, case):
        refuse(actor, "Auditors have read-only access." if permissions.is_auditor_only(actor)
               else "You cannot take part in this discussion.",
               attempted="finding.comment", target=finding,
               code=permissions.READ_ONLY if permissions.is_auditor_only(actor)
               else permissions.NOT_MODEL_TEAM)
    if not finding.is_unresolved:
        raise Conflict(f"Finding F-{finding.pk} is {finding.get_status_display().lower()}: its "
                       "discussion is closed. Raise a new finding if something is still wrong.")
    with transaction.atomic():
        comment = FindingComment.objects.create(finding=finding, author=actor, kind=kind,
                                                body=body, reply_to=reply_to)
        audit.record(action="finding.comment", actor=actor, obj=comment, payload={
            "finding_id": finding.pk, "kind": kind, "body": body,
            "reply_to": reply_to.pk if reply_to else None})
    return comment


def finding_attach(*, actor: User, finding: Finding, upload: BinaryIO,
                   filename: str) -> FindingAttachment:
    """Attach an evidence file to a finding, stored content-addressed under its SHA-256."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    if not name or len(name) > 255:
        raise ValidationFailed("Give the file a name (up to 255 characters).", field="file")
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(f"The file is {size // (1024 * 1024)} MB; attachments are at most "
                               f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.", field="file")
    case = case_for(finding.version)
    if not permissions.can_discuss_finding(actor, case):
        refuse(actor, "Auditors have read-only access." if permissions.is_auditor_only(actor)
               else "You cannot add evidence to this finding.",
               attempted="finding.attach", target=finding,
               code=permissions.READ_ONLY if permissions.is_auditor_only(actor)
               else permissions.NOT_MODEL_TEAM)
    if not finding.is_unresolved:
        raise Conflict(f"Finding F-{finding.pk} is resolved; its evidence is closed.")
    sha256, size = storage.sha256_of(upload)
    if size == 0:
        raise ValidationFailed("The file is empty.", field="file")
    storage.store(upload, sha256)
    with transaction.atomic():
        row = FindingAttachment.objects.create(finding=finding, filename=name, sha256=sha256,
                                               size=size, uploaded_by=actor)
        audit.record(action="finding.attach", actor=actor, obj=row, payload={
            "finding_id": finding.pk, "filename": name, "sha256": sha256, "size": size})
    return row


# ---------------------------------------------------------------------------------------------
# The due-date scan (Celery beat; idempotent through the notifications' unique keys)

def findings_notify_due(*, now: dt.datetime | None = None) -> int:
    """Tell owners (and validators) about findings due within 7 days, and overdue ones (once per
    finding and due date)."""
    today = (now or timezone.now()).date()
    sent = 0
    rows = (Finding.objects.unresolved().filter(due_date__lte=today + dt.timedelta(
        days=DUE_SOON_DAYS)).select_related("owner", "raised_by", "version__model",
                                            "version__governance__validator"))
    with transaction.atomic():
        for f in rows:
            overdue = f.due_date < today
            gov = getattr(f.version, "governance", None)
            users = [f.owner] + ([f.raised_by, gov.validator if gov else None] if overdue else [])
            sent += len(notify(
                users=users, obj=f, period=f.due_date.isoformat(),
                kind=NotificationKind.FINDING_OVERDUE if overdue else NotificationKind.FINDING_DUE,
                title=f"Finding F-{f.pk} on {f.version} {'is overdue' if overdue else 'is due'} "
                      f"({f.due_date})", url=f.get_absolute_url(),
                body=f"{f.title}\n\n{f.get_status_display()}; due {f.due_date}."))
        notification_scan_record(scan="findings_due", sent=sent)
    return sent
