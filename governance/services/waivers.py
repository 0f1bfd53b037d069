"""Waivers: a risk officer lets a version proceed despite one blocking item (an unresolved high
finding, or a missing or failing evidence check) under compensating controls, until the waiver
expires or is revoked. Its end puts the block back, opens a high finding and — where the bound
policy says so — suspends an approved version.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.gates import Case, blocking_items, case_for
from governance.models import (
    Finding,
    FindingSource,
    NotificationKind,
    Severity,
    Waiver,
    WaiverStatus,
    workflow_url,
)
from governance.services.common import require_text, require_version_open
from governance.services.findings import finding_raise_by_assay
from governance.services.lifecycle import approve_if_ready, version_transition
from governance.services.notifications import notification_scan_record, notify
from registry.models import ModelVersion, VersionState

# Warn this many days before a waiver expires.
WAIVER_WARNING_DAYS = 7
MAX_WAIVER_DAYS = 366


def waiver_grant(*, actor: User, version: ModelVersion, reason: str, compensating_controls: str,
                 limits_of_use: str, expires_at: dt.datetime, finding: Finding | None = None,
                 check: str = "", now: dt.datetime | None = None) -> Waiver:
    """A risk officer independent of the model lets the version proceed despite one blocking
    item — a high finding, or a missing or failing evidence check — until ``expires_at``."""
    now = now or timezone.now()
    require_text({"reason": reason, "compensating_controls": compensating_controls,
                   "limits_of_use": limits_of_use}, {
        "reason": "Say why the version may proceed despite the item.",
        "compensating_controls": "Name the compensating controls in place meanwhile.",
        "limits_of_use": "State the limits of use while the waiver is in force."})
    check = (check or "").strip()
    if (finding is None) == (not check):
        raise ValidationFailed("A waiver covers one thing: name either a finding or an evidence "
                               "check.", field="finding")
    if not isinstance(expires_at, dt.datetime) or expires_at <= now:
        raise ValidationFailed("The expiry must be in the future.", field="expires_at")
    if expires_at > now + dt.timedelta(days=MAX_WAIVER_DAYS):
        raise ValidationFailed(f"Waivers are temporary: at most {MAX_WAIVER_DAYS} days.",
                               field="expires_at")
    if finding is not None and finding.version_id != version.pk:
        raise ValidationFailed(f"Finding F-{finding.pk} belongs to another version.",
                               field="finding")
    case = case_for(version)
    reason_refused = permissions.reason_cannot_grant_waiver(actor, case)
    if reason_refused:
        refuse(actor, reason_refused, attempted="waiver.grant", target=version)
    require_version_open(version, "waivers are granted")
    kind, key = ("finding", str(finding.pk)) if finding is not None else ("evidence", check)
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        current = Waiver.objects.filter(version=locked).in_force(now)
        same = [w for w in current if (w.blocker_kind, w.blocker_key) == (kind, key)]
        if same:
            raise Conflict(f"Waiver {same[0].pk} already covers this until "
                           f"{same[0].expires_at:%Y-%m-%d %H:%M} UTC.")
        if not any((b.kind, b.key) == (kind, key) for b in blocking_items(locked)):
            what = f"finding F-{finding.pk}" if finding is not None else f"check '{check}'"
            raise Conflict(f"The {what} does not block this version (only unresolved high "
                           "findings and required evidence that is missing or failing do), so "
                           "there is nothing to waive.")
        waiver = Waiver.objects.create(
            version=locked, finding=finding, check_name=check, reason=reason,
            compensating_controls=compensating_controls, limits_of_use=limits_of_use,
            approved_by=actor, granted_at=now, expires_at=expires_at)
        audit.record(action="waiver.grant", actor=actor, obj=waiver, payload={
            "version": locked.number, "covers": waiver.covers_label, "reason": reason,
            "compensating_controls": compensating_controls, "limits_of_use": limits_of_use,
            "expires_at": expires_at})
        approve_if_ready(locked, actor=None)
    version.state = locked.state
    return waiver


def waiver_revoke(*, actor: User, waiver: Waiver, reason: str,
                  now: dt.datetime | None = None) -> Waiver:
    """End a waiver early (risk officer). It has the effect of an expiry: where the item it
    covered still blocks, the block returns, a high finding is opened, owner and validator are
    told, and an approved version is suspended where its bound policy says so."""
    require_text({"reason": reason}, {"reason": "Say why the waiver is revoked."})
    if not permissions.can_revoke_waiver(actor, case_for(waiver.version)):
        refuse(actor, "Only a risk officer revokes a waiver.", attempted="waiver.revoke",
               target=waiver, code=permissions.WRONG_ROLE)
    now = now or timezone.now()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=waiver.version_id)
        locked = Waiver.objects.select_for_update().get(pk=waiver.pk)
        if locked.status != WaiverStatus.ACTIVE:
            raise Conflict(f"Waiver {locked.pk} is already {locked.get_status_display().lower()}.")
        _end_waiver(locked, version, status=WaiverStatus.REVOKED, now=now, actor=actor,
                    reason=reason)
    return locked


def waivers_expire(*, now: dt.datetime | None = None) -> int:
    """The beat task's work: mark every waiver past its expiry expired. Where the item it
    covered still blocks, the block returns, a high finding is opened and — only where the bound
    policy says so — an approved version is suspended. Owner and validator are told either way.

    Each waiver is handled in its own transaction, claimed with SKIP LOCKED; running it again
    changes nothing more. Returns how many waivers expired.
    """
    now = now or timezone.now()
    due = list(Waiver.objects.filter(status=WaiverStatus.ACTIVE, expires_at__lte=now)
               .order_by("expires_at").values_list("pk", "version_id"))
    expired = 0
    for waiver_id, version_id in due:
        with transaction.atomic():
            version = ModelVersion.objects.select_for_update().select_related("model").get(
                pk=version_id)
            waiver = (Waiver.objects.select_for_update(skip_locked=True)
                      .filter(pk=waiver_id, status=WaiverStatus.ACTIVE).first())
            if waiver is None:
                continue
            _end_waiver(waiver, version, status=WaiverStatus.EXPIRED, now=now, actor=None,
                        reason="Expired.")
            expired += 1
    return expired


# How a waiver's end reads: (audit action, finding source, "the waiver ... <verb>").
WAIVER_ENDINGS: dict[str, tuple[str, str, str]] = {
    WaiverStatus.EXPIRED: ("waiver.expire", FindingSource.WAIVER_EXPIRY, "expired"),
    WaiverStatus.REVOKED: ("waiver.revoke", FindingSource.WAIVER_REVOKED, "was revoked"),
}


def _end_waiver(waiver: Waiver, version: ModelVersion, *, status: str, now: dt.datetime,
                actor: User | None, reason: str) -> None:
    """End a waiver (expired, or revoked by ``actor``), inside the caller's transaction holding
    the version's and the waiver's locks. Where the item it covered still blocks, the block
    returns, a high finding is opened and — only where the bound policy says an expired waiver
    suspends — an approved version is suspended. Owner and validator are told either way."""
    action, source, ended = WAIVER_ENDINGS[status]
    waiver.status, waiver.ended_at, waiver.end_reason = status, now, reason
    waiver.ended_by = actor
    waiver.save()
    case = case_for(version)
    still_blocks = any((b.kind, b.key) == (waiver.blocker_kind, waiver.blocker_key)
                       for b in blocking_items(version, case))
    rules = case.rules
    suspend = bool(still_blocks and rules is not None and rules.expired_waiver_suspends
                   and version.state == VersionState.APPROVED)
    how = f"expired on {waiver.expires_at:%Y-%m-%d %H:%M} UTC" \
        if status == WaiverStatus.EXPIRED else \
        f"was revoked on {now:%Y-%m-%d %H:%M} UTC by {getattr(actor, 'username', 'Assay')}"
    finding = None
    if still_blocks:
        finding, _ = finding_raise_by_assay(
            version=version, source=source, source_key=f"waiver:{waiver.pk}",
            severity=Severity.HIGH, now=now,
            title=f"Waiver {waiver.pk} of {waiver.covers_label} {ended}",
            description=f"The waiver granted by {waiver.approved_by.username} on "
                        f"{waiver.granted_at:%Y-%m-%d} {how} while the "
                        f"{waiver.covers_label} still blocks. Resolve it or "
                        "ask a risk officer for a new waiver.")
    audit.record(action=action, actor=actor, obj=waiver, payload={
        "covers": waiver.covers_label, "expires_at": waiver.expires_at,
        **({"reason": reason} if status == WaiverStatus.REVOKED else {}),
        "still_blocks": still_blocks, "finding_id": finding.pk if finding else None,
        "suspends": suspend, "policy_version": str(case.policy_version), "tier": case.tier})
    notify(users=[version.model.owner, *_validator(case)], kind=NotificationKind.WAIVER_EXPIRED,
           obj=waiver, title=f"Waiver {waiver.pk} on {version} {ended}",
           url=finding.get_absolute_url() if finding else workflow_url(version),
           body=f"The waiver of {waiver.covers_label} {ended}"
                + (f": {reason}" if status == WaiverStatus.REVOKED else ".")
                + (" The item blocks again; a high finding was opened." if still_blocks else "")
                + (" The version is suspended under its policy." if suspend else ""))
    if suspend:
        version_transition(version=version, to=VersionState.SUSPENDED, actor=None,
                           reason=f"Waiver {waiver.pk} of {waiver.covers_label} {ended} and the "
                                  f"policy ({case.policy_version}, tier {case.tier}) suspends "
                                  "serving when a waiver ends with the item still blocking.",
                           details={"waiver_id": waiver.pk,
                                    "finding_id": finding.pk if finding else None})


def _validator(case: Case) -> list[User]:
    return list(User.objects.filter(pk=case.validator_id)) if case.validator_id else []



# ---------------------------------------------------------------------------------------------
# The expiry warning (Celery beat; idempotent through the notifications' unique keys)

def waivers_notify_expiring(*, now: dt.datetime | None = None) -> int:
    """Warn owner, validator and approver of every waiver expiring within 7 days (once)."""
    now = now or timezone.now()
    sent = 0
    rows = (Waiver.objects.expiring(now, WAIVER_WARNING_DAYS)
            .select_related("version__model__owner", "version__governance__validator",
                            "approved_by"))
    with transaction.atomic():
        for w in rows:
            gov = getattr(w.version, "governance", None)
            sent += len(notify(
                users=[w.version.model.owner, gov.validator if gov else None, w.approved_by],
                kind=NotificationKind.WAIVER_EXPIRING, obj=w, period=f"{w.expires_at:%Y-%m-%d}",
                title=f"Waiver {w.pk} on {w.version} expires {w.expires_at:%Y-%m-%d}",
                url=workflow_url(w.version),
                body=f"The waiver of {w.covers_label} expires on {w.expires_at:%Y-%m-%d %H:%M} "
                     "UTC. Resolve the item or ask a risk officer for a new waiver."))
        notification_scan_record(scan="waivers_expiring", sent=sent)
    return sent

