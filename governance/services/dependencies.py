"""Upstream changes and their impact: when a model is suspended, retired or materially changed,
every model downstream of it (registry.dependencies), however far, is flagged for review as its
own policy says — a finding raised by Assay, or its periodic review brought forward — and its
owner is told. ``upstream_change_flag`` is a lifecycle transition listener
(``on_version_transition``, registered in GovernanceConfig.ready); ``upstream_impact`` answers
"who would be affected?" before anything happens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone

from core import audit
from core.models import User
from governance.gates import case_for
from governance.models import (
    FindingSource,
    NotificationKind,
    VersionGovernance,
    workflow_url,
)
from governance.policy import MAJOR, UpstreamChange, default_upstream_change
from governance.services.findings import finding_raise_by_assay
from governance.services.notifications import notify
from registry import dependencies
from registry.models import ModelVersion, RegisteredModel, VersionState

S = VersionState
# The version of a downstream model that is in use, and so what an upstream change affects.
IN_USE = (S.APPROVED, S.SUSPENDED)


def in_use_version(model_id: int) -> ModelVersion | None:
    """The newest approved (or suspended) version of the model: the one its users rely on."""
    return (ModelVersion.objects.filter(model_id=model_id, state__in=IN_USE)
            .select_related("model__owner").order_by("-number").first())


def upstream_event(version: ModelVersion, frm: str, to: str) -> str:
    """What the transition does to the models downstream, in words ("" when nothing): the model
    is suspended or retired (no approved version of it is left), or a major change of it is
    approved."""
    if to in (S.SUSPENDED, S.RETIRED):
        others = ModelVersion.objects.filter(model_id=version.model_id, state=S.APPROVED) \
            .exclude(pk=version.pk)
        if others.exists():  # an older version leaving while a newer one serves changes nothing
            return ""
        return "suspended" if to == S.SUSPENDED else "retired"
    if to == S.APPROVED and frm == S.PENDING_APPROVAL and case_for(version).change_class == MAJOR:
        return "changed materially (a major change was approved)"
    return ""


def rule_for(version: ModelVersion | None) -> UpstreamChange:
    """What the downstream version's own policy and tier say an upstream change does to it."""
    rules = case_for(version).rules if version is not None else None
    if rules is not None and rules.upstream_change is not None:
        return rules.upstream_change
    raw = default_upstream_change(1)
    return UpstreamChange(raw["flag"], raw["severity"], raw["due_days"])


@dataclass(frozen=True)
class Affected:
    """A model downstream of a changed one, and what its policy has happen to it."""

    model: RegisteredModel
    distance: int
    via: str  # the name of the upstream model it depends on along the way
    version: ModelVersion | None
    rule: UpstreamChange | None

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model.slug, "name": self.model.name, "distance": self.distance,
                "via": self.via, "owner": self.model.owner.username,
                "version": self.version.number if self.version else None,
                "version_state": self.version.state if self.version else None,
                "flag": self.rule.flag if self.rule else None,
                "severity": self.rule.severity if self.rule and self.rule.flag == "finding"
                else None,
                "due_days": self.rule.due_days if self.rule else None,
                "effect": self.rule.describe() if self.rule
                else "its owner is told (no approved version to review)"}


def upstream_impact(model: RegisteredModel) -> list[Affected]:
    """Every model downstream of ``model``, nearest first, with what its policy would have
    happen to it if ``model`` were suspended, retired or materially changed now."""
    found = dependencies.downstream_ids(model.pk)
    rows = RegisteredModel.objects.select_related("owner").in_bulk(
        set(found) | {via for _, via in found.values()} | {model.pk})
    out = []
    for pk, (distance, via) in sorted(found.items(), key=lambda i: (i[1][0], rows[i[0]].name)):
        version = in_use_version(pk)
        out.append(Affected(rows[pk], distance, rows[via].name, version,
                            rule_for(version) if version is not None else None))
    return out


def upstream_change_flag(*, version: ModelVersion, frm: str, to: str, actor: User | None,
                         reason: str) -> None:
    """Flag every model downstream of the version's model when the transition suspends or
    retires the model, or approves a major change of it: per the downstream version's policy,
    a finding (owned by its owner, who is told) or its periodic review brought forward (owner
    and validator told); a model with no version in use has its owner told. One audit event
    per downstream model. Inside the transition's transaction; locks go down the graph only,
    so two transitions cannot wait on each other."""
    event = upstream_event(version, frm, to)
    if not event:
        return
    upstream = version.model
    now = timezone.now()
    by = f"by {actor.username}" if actor is not None else "by Assay"
    for affected in upstream_impact(upstream):
        model = affected.model
        chain = "" if affected.distance == 1 else \
            f" (through {affected.via}, {affected.distance} links away)"
        what = f"{upstream.name}, which {model.name} depends on{chain}, was {event} {by}"
        detail = f"{what}.\n\nReason given: {reason}" if reason else f"{what}."
        payload: dict[str, Any] = {
            "upstream": upstream.slug, "upstream_version": version.number, "event": event,
            "transition": {"from": frm, "to": to}, "distance": affected.distance,
            "via": affected.via}
        target = affected.version
        if target is None:
            payload["flag"] = "none"
            audit.record(action="model.upstream_changed", actor=None, obj=model,
                         payload=payload)
            notify(users=[model.owner], kind=NotificationKind.UPSTREAM_CHANGED, obj=model,
                   period=f"up-{version.pk}-{to}", title=f"{model.name}: {what}"[:200],
                   url=reverse("registry:model-detail", args=[model.slug]),
                   body=f"{detail}\n\n{model.name} has no approved version to review; check "
                        "whether it is affected before its next submission.")
            continue
        locked = ModelVersion.objects.select_for_update().select_related("model__owner").get(
            pk=target.pk)
        rule = affected.rule or rule_for(locked)
        payload.update({"version": locked.number, "flag": rule.flag,
                        "due_days": rule.due_days})
        if rule.flag == "finding":
            finding, created = finding_raise_by_assay(
                version=locked, source=FindingSource.UPSTREAM_CHANGE,
                source_key=f"upstream:{upstream.pk}:{version.pk}:{to}", severity=rule.severity,
                title=f"Upstream model {upstream.name} was {event.split(' (')[0]}",
                description=f"{detail}\n\nReview whether {locked} still performs as approved "
                            "with its upstream model in this state, and answer this finding.",
                figures={"upstream": upstream.slug, "upstream_version": version.number,
                         "event": event, "distance": affected.distance},
                now=now, again_once_closed=True, due_days=rule.due_days)
            payload.update({"finding": finding.pk, "severity": rule.severity,
                            "new": created})
        else:
            due = _bring_review_forward(locked, now.date() + dt.timedelta(days=rule.due_days))
            payload["next_review_due"] = due
            gov = VersionGovernance.objects.filter(version=locked).first()
            notify(users=[model.owner, gov.validator if gov else None],
                   kind=NotificationKind.UPSTREAM_CHANGED, obj=locked,
                   period=f"up-{version.pk}-{to}", title=f"{locked}: {what}"[:200],
                   url=workflow_url(locked),
                   body=f"{detail}\n\nIts periodic review is due by {due}.")
        audit.record(action="model.upstream_changed", actor=None, obj=locked, payload=payload)


def _bring_review_forward(version: ModelVersion, by: dt.date) -> dt.date | None:
    """Make the version's periodic review due by ``by`` at the latest; the due date kept."""
    gov = VersionGovernance.objects.select_for_update().filter(version=version).first()
    if gov is None:
        return None
    if gov.next_review_due is None or gov.next_review_due > by:
        gov.next_review_due = by
        gov.save(update_fields=["next_review_due"])
    return gov.next_review_due
