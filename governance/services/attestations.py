"""Attestations: a model's owner attests on the policy's cadence that its inventory entry is
complete and the model is used as approved and within its conditions; a validator attests their
independence when taking a validation. Overdue owner attestations are notified and, where the
policy says so, raise a finding on the model's version in use (the beat scan)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import AuditEvent, User
from governance.attestation_policy import AttestationRules, attestation_rules
from governance.gates import case_for
from governance.models import (
    DECIDED,
    Finding,
    FindingSource,
    IndependenceAttestation,
    ModelIntake,
    NotificationKind,
    OwnerAttestation,
    PolicyVersion,
    VersionGovernance,
)
from governance.policy import add_months
from governance.services.common import limit_text
from governance.services.findings import finding_raise_by_assay, findings_close_answered
from governance.services.notifications import (
    notification_scan_record,
    notifications_settle,
    notify,
)
from registry.models import ModelVersion, RegisteredModel, VersionState

COMING_DUE_DAYS = 30
INDEPENDENCE_STATEMENT = (
    "I attest that I am independent of this model version: I had no part in developing, "
    "building or using it, I do not own it or report to its owner's team for it, and I have no "
    "other conflict of interest in validating it.")

OK, DUE, OVERDUE = "ok", "due", "overdue"


@dataclass(frozen=True)
class AttestationStanding:
    """Where a model stands with its owner's attestation: the policy and tier that set the
    cadence, the last attestation, when the next is due and from when it is overdue."""

    model: RegisteredModel
    tier: int
    policy_version: PolicyVersion
    rules: AttestationRules
    last: OwnerAttestation | None
    due_on: dt.date
    overdue_from: dt.date
    status: str  # OK, DUE (within COMING_DUE_DAYS or in the grace days) or OVERDUE

    @property
    def statement(self) -> str:
        return self.rules.statement

    @property
    def cadence_months(self) -> int:
        return self.rules.months_for(self.tier)

    @property
    def is_overdue(self) -> bool:
        return self.status == OVERDUE


def _version_in_use(model_id: int) -> ModelVersion | None:
    """The newest approved or suspended version, else the newest version."""
    versions = ModelVersion.objects.filter(model_id=model_id).order_by("-number")
    return (versions.filter(state__in=[VersionState.APPROVED, VersionState.SUSPENDED]).first()
            or versions.first())


def attestation_standings(models: QuerySet[RegisteredModel] | Iterable[RegisteredModel], *,
                          today: dt.date | None = None) -> list[AttestationStanding]:
    """The standing of every model given that has a risk tier (models not yet tiered, and
    things that are not models, are not attested). The policy is the one bound to the model's
    newest decided version, else the current one."""
    today = today or timezone.localdate()
    models = list(models)
    ids = [m.pk for m in models]
    tiers = {i.model_id: i.tier for i in ModelIntake.objects.filter(model_id__in=ids)}
    bound: dict[int, PolicyVersion] = {}
    for gov in (VersionGovernance.objects.filter(version__model_id__in=ids,
                                                 version__state__in=DECIDED)
                .select_related("policy_version__policy").order_by("version__number")):
        bound[gov.version.model_id] = gov.policy_version  # the newest decided wins
    last: dict[int, OwnerAttestation] = {}
    for row in OwnerAttestation.objects.filter(model_id__in=ids).order_by("attested_at"):
        last[row.model_id] = row
    currents = list(PolicyVersion.objects.all_current())
    standings = []
    for model in models:
        tier = tiers.get(model.pk)
        policy = bound.get(model.pk) or PolicyVersion.objects.current_for(model, currents)
        if tier is None or policy is None:
            continue
        rules = attestation_rules(policy.definition)
        previous = last.get(model.pk)
        due_on = previous.next_due_on if previous else add_months(
            timezone.localdate(model.created_at), rules.months_for(tier))
        overdue_from = due_on + dt.timedelta(days=rules.grace_days + 1)
        status = OVERDUE if today >= overdue_from else \
            DUE if today >= due_on - dt.timedelta(days=COMING_DUE_DAYS) else OK
        standings.append(AttestationStanding(
            model=model, tier=tier, policy_version=policy, rules=rules, last=previous,
            due_on=due_on, overdue_from=overdue_from, status=status))
    return standings


def attestation_standing(model: RegisteredModel, *,
                         today: dt.date | None = None) -> AttestationStanding | None:
    """One model's standing (None: it has no tier, so nothing is attested yet)."""
    found = attestation_standings([model], today=today)
    return found[0] if found else None


def owner_attestation_record(*, actor: User, model: RegisteredModel, entry_complete: bool,
                             used_as_approved: bool, within_conditions: bool, comment: str = "",
                             now: dt.datetime | None = None) -> OwnerAttestation:
    """The model's owner attests to the policy's statement. Every part must be confirmed: an
    owner who cannot confirm one corrects the entry first, or tells the model's validator and a
    risk officer (a finding), rather than attesting. Answers the overdue-attestation findings
    and notifications of the model."""
    reason = permissions.reason_cannot_attest_model(actor, model)
    if reason:
        refuse(actor, reason, attempted="attestation.owner_record", target=model)
    unconfirmed = {
        "entry_complete": ["Confirm that the inventory entry is complete and accurate; if it "
                           "is not, correct it on the model's page first."],
        "used_as_approved": ["Confirm that the model is used as it was approved; if it is not, "
                             "tell its validator or a risk officer instead of attesting."],
        "within_conditions": ["Confirm that the model is used within the conditions and limits "
                              "of its approval; if it is not, tell its validator or a risk "
                              "officer instead of attesting."]}
    given = {"entry_complete": entry_complete, "used_as_approved": used_as_approved,
             "within_conditions": within_conditions}
    missing = {f: msg for f, msg in unconfirmed.items() if given[f] is not True}
    if missing:
        raise ValidationFailed(" ".join(m[0] for m in missing.values()), fields=missing)
    comment = (comment or "").strip()
    limit_text({"comment": comment})
    now = now or timezone.now()
    with transaction.atomic():
        locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
        standing = attestation_standing(locked, today=timezone.localdate(now))
        if standing is None:
            raise Conflict(f"{locked} has no risk tier yet, so there is nothing to attest: "
                           "complete its intake first.")
        next_due = add_months(timezone.localdate(now), standing.rules.months_for(standing.tier))
        row = OwnerAttestation.objects.create(
            model=locked, attested_by=actor, attested_at=now, due_on=standing.due_on,
            statement=standing.statement, entry_complete=True, used_as_approved=True,
            within_conditions=True, comment=comment, policy_version=standing.policy_version,
            tier=standing.tier, next_due_on=next_due)
        audit.record(action="attestation.owner_record", actor=actor, obj=row, payload={
            "model": locked.slug, "statement": row.statement, "comment": comment,
            "due_on": standing.due_on, "next_due_on": next_due, "tier": standing.tier,
            "policy_version": str(standing.policy_version),
            "was_overdue": standing.is_overdue})
        notifications_settle(obj=locked, kinds=[NotificationKind.ATTESTATION_DUE,
                                                NotificationKind.ATTESTATION_OVERDUE])
        version = _version_in_use(locked.pk)
        if version is not None:
            findings_close_answered(
                version=ModelVersion.objects.select_for_update().get(pk=version.pk),
                source=FindingSource.ATTESTATION_OVERDUE, actor=actor, now=now,
                text=f"Answered by {actor.username}'s attestation of {now:%Y-%m-%d}.")
    return row


def attestations_scan(*, now: dt.datetime | None = None) -> int:
    """The beat task's work: tell owners of attestations coming due, and of overdue ones; for
    each overdue one, record it in the audit trail once and — where the policy says so — raise
    a finding on the model's version in use. Idempotent: notifications and findings have unique
    keys. Returns how many notifications were sent."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    models = RegisteredModel.objects.select_related("owner")
    for standing in attestation_standings(models, today=today):
        if standing.status == OK:
            continue
        model = standing.model
        with transaction.atomic():
            overdue = standing.is_overdue
            finding = None
            if overdue:
                finding = _overdue_finding(standing, now)
                _audit_overdue_once(standing, finding_id=finding.pk if finding else None)
            url = attestation_url(model)
            sent += len(notify(
                users=[model.owner], obj=model, period=standing.due_on.isoformat(),
                kind=NotificationKind.ATTESTATION_OVERDUE if overdue
                else NotificationKind.ATTESTATION_DUE, url=url,
                title=f"Attestation of {model} {'overdue since' if overdue else 'due'} "
                      f"{standing.overdue_from if overdue else standing.due_on}",
                body=f"As {model}'s owner, attest that its inventory entry is complete and "
                     f"that it is used as approved and within its conditions (due "
                     f"{standing.due_on}, tier {standing.tier}, {standing.policy_version})."
                     + (" A finding was raised." if finding else "")))
    with transaction.atomic():
        notification_scan_record(scan="attestations", sent=sent)
    return sent


def _overdue_finding(standing: AttestationStanding, now: dt.datetime) -> Finding | None:
    rules = standing.rules
    version = _version_in_use(standing.model.pk)
    if not rules.overdue_finding or version is None:
        return None
    locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    finding, _ = finding_raise_by_assay(
        version=locked, source=FindingSource.ATTESTATION_OVERDUE,
        source_key=f"attestation:{standing.due_on.isoformat()}",
        severity=rules.finding_severity, now=now,
        title=f"Owner attestation overdue since {standing.overdue_from}",
        description=f"The owner of {standing.model} was due to attest on {standing.due_on} "
                    f"(grace of {rules.grace_days} days) that its inventory entry is complete "
                    "and that the model is used as approved and within its conditions. The "
                    "attestation answers this finding.")
    return finding


def _audit_overdue_once(standing: AttestationStanding, *, finding_id: int | None) -> None:
    model = standing.model
    due = standing.due_on.isoformat()
    if AuditEvent.objects.filter(action="attestation.overdue", model_id=model.pk,
                                 payload__due_on=due).exists():
        return
    audit.record(action="attestation.overdue", actor=None, obj=model, payload={
        "model": model.slug, "owner": model.owner.username, "due_on": due,
        "overdue_from": standing.overdue_from, "tier": standing.tier,
        "policy_version": str(standing.policy_version), "finding_id": finding_id})


def attestation_url(model: RegisteredModel) -> str:
    """The path of the model's attestation page (linked from the notifications)."""
    return reverse("governance:attest", kwargs={"slug": model.slug})


def independence_attest(*, actor: User, version: ModelVersion) -> IndependenceAttestation:
    """The validator of a version attests their independence of it (inside or outside the
    assignment: validator_assign records it when a validator takes a validation; a validator a
    risk officer assigned records it here). Recording it twice returns the first."""
    case = case_for(version)
    if case.validator_id != actor.pk:
        refuse(actor, permissions.Refusal("Only the version's validator attests independence "
                                          "of it.", permissions.NOT_ASSIGNED),
               attempted="attestation.independence", target=version)
    reason = permissions.reason_not_independent(actor, case)
    if reason:
        refuse(actor, reason, attempted="attestation.independence", target=version)
    with transaction.atomic():
        return independence_record(actor=actor, version=version)


def independence_record(*, actor: User, version: ModelVersion) -> IndependenceAttestation:
    """Store and audit a validator's independence attestation (inside the caller's
    transaction)."""
    row, created = IndependenceAttestation.objects.get_or_create(
        version=version, validator=actor, defaults={"statement": INDEPENDENCE_STATEMENT})
    if created:
        audit.record(action="attestation.independence", actor=actor, obj=row, payload={
            "version": version.number, "model": version.model.slug,
            "statement": row.statement})
    return row
