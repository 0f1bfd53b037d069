"""Vendor models: the due-diligence checklist (the owner answers each item with its evidence, the
validator of a version in validation reviews the answer), and the vendor's releases (recording
one tells the owner a new version is due). Hand-overs notify the person who acts next."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import Role, User
from governance.gates import case_for, due_diligence_items
from governance.models import (
    IN_FLIGHT,
    DiligenceAnswer,
    DiligenceReview,
    NotificationKind,
    PolicyVersion,
    VendorRelease,
    VersionGovernance,
)
from governance.models.vendor import REVIEW_DECISIONS
from governance.services.common import limit_text, require_text
from governance.services.notifications import notify
from registry.models import ModelVersion, RegisteredModel, VersionState

DECISIONS = REVIEW_DECISIONS


def vendor_url(model: RegisteredModel) -> str:
    return reverse("governance:vendor", kwargs={"slug": model.slug})


def _require_vendor(model: RegisteredModel) -> None:
    if not model.is_vendor:
        raise Conflict(f"{model.name} is not sourced from a vendor; due diligence and vendor "
                       "releases belong to vendor models. Mark it as sourced from a vendor "
                       "first.")


def _require_editor(actor: User, model: RegisteredModel, attempted: str) -> None:
    if not permissions.can_edit_model(actor, model):
        refuse(actor, permissions.reason_cannot_edit_model(actor, model), attempted=attempted,
               target=model)


def version_in_flight(model: RegisteredModel) -> ModelVersion | None:
    """The model's newest version going through validation (whose policy names the items)."""
    return model.versions.filter(state__in=IN_FLIGHT).order_by("-number").first()


def diligence_items_of(model: RegisteredModel) -> list[dict[str, str]]:
    """The items that apply now: those of the policy bound to the version in flight, else the
    policy currently governing the model (its business line's or legal entity's, or the
    default)."""
    version = version_in_flight(model)
    return due_diligence_items(version if version is not None
                               else PolicyVersion.objects.current_for(model))


def diligence_answer(*, actor: User, model: RegisteredModel, item: str, answer: str,
                     evidence_reference: str = "") -> DiligenceAnswer:
    """Answer (or answer again) one due-diligence item. A new answer waits for the validator's
    review again; the validator of a version in validation is told."""
    _require_editor(actor, model, "diligence.answer")
    _require_vendor(model)
    items = {i["key"]: i["label"] for i in diligence_items_of(model)}
    if item not in items:
        raise ValidationFailed(f"The policy has no due-diligence item {item!r}; answer one of: "
                               f"{', '.join(items)}.", field="item")
    require_text({"answer": answer}, {"answer": "Answer the item and say what evidence it "
                                                "rests on."})
    if len(evidence_reference) > 300:
        raise ValidationFailed("The evidence reference is at most 300 characters; link to the "
                               "document instead.", field="evidence_reference")
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        row = DiligenceAnswer.objects.filter(model=model, item=item).first()
        before = {"answer": row.answer, "review": row.review} if row else None
        row = row or DiligenceAnswer(model=model, item=item)
        row.answer, row.evidence_reference = answer, evidence_reference
        row.answered_by, row.answered_at = actor, timezone.now()
        row.review, row.reviewed_by, row.reviewed_at, row.review_comment = (
            DiligenceReview.PENDING, None, None, "")
        row.save()
        audit.record(action="vendor.diligence_answer", actor=actor, obj=row, payload={
            "item": item, "label": items[item], "answer": answer,
            "evidence_reference": evidence_reference, "before": before})
        validators = [g.validator for g in VersionGovernance.objects.filter(
            version__model=model, version__state=VersionState.IN_VALIDATION,
            validator__isnull=False).select_related("validator")]
        notify(users=validators, kind=NotificationKind.DUE_DILIGENCE, obj=row,
               title=f"Due diligence to review: {model.name}, '{items[item]}'",
               body=f"{actor.username} answered: {answer}", url=vendor_url(model),
               period=f"answer-{row.answered_at:%Y%m%d%H%M%S%f}")
    return row


def diligence_review(*, actor: User, version: ModelVersion, item: str, decision: str,
                     comment: str = "") -> DiligenceAnswer:
    """The validator of ``version`` accepts or rejects the answer to one item (a rejection says
    why, and the owner is told to answer again)."""
    model = version.model
    reason = permissions.reason_cannot_review(actor, case_for(version))
    if reason:
        refuse(actor, reason, attempted="diligence.review", target=version)
    _require_vendor(model)
    if version.state != VersionState.IN_VALIDATION:
        raise Conflict(f"Due diligence is reviewed while a version is in validation; version "
                       f"{version.number} is {version.get_state_display().lower()}.")
    if decision not in DECISIONS:
        raise ValidationFailed(f"Decide with one of: {', '.join(DECISIONS)}.", field="decision")
    if decision == DiligenceReview.REJECTED:
        require_text({"comment": comment}, {"comment": "Say why the answer is not enough, so "
                                                       "the owner can answer again."})
    limit_text({"comment": comment})
    with transaction.atomic():
        row = (DiligenceAnswer.objects.select_for_update().filter(model=model, item=item)
               .first())
        if row is None:
            raise Conflict(f"Due-diligence item {item!r} is not answered yet; the owner answers "
                           "it first.")
        if row.answered_by_id == actor.pk:
            refuse(actor, "You answered this item; someone independent reviews it.",
                   attempted="diligence.review", target=version)
        row.review, row.reviewed_by = decision, actor
        row.reviewed_at, row.review_comment = timezone.now(), comment
        row.save(update_fields=["review", "reviewed_by", "reviewed_at", "review_comment"])
        audit.record(action="vendor.diligence_review", actor=actor, obj=row, payload={
            "item": item, "decision": decision, "comment": comment,
            "version": version.number, "answered_by": row.answered_by.username})
        if decision == DiligenceReview.REJECTED:
            notify(users=[model.owner], kind=NotificationKind.DUE_DILIGENCE, obj=row,
                   title=f"Due diligence rejected: {model.name}, {item}",
                   body=f"{actor.username}: {comment} Answer the item again.",
                   url=vendor_url(model), period=f"review-{row.reviewed_at:%Y%m%d%H%M%S%f}")
    return row


def vendor_release_record(*, actor: User, model: RegisteredModel, label: str,
                          released_on: Any, notes: str = "") -> VendorRelease:
    """Record a release the vendor announced. The owner is told: a new release is a new version
    to register here and take through review before it is relied on."""
    if not (permissions.can_edit_model(actor, model)
            or (permissions.is_authenticated(actor) and actor.has_role(Role.RISK_OFFICER)
                and permissions.can_view(actor, model))):
        refuse(actor, "Only the model's team, its owner and developers, and risk officers "
                      "record vendor releases.", attempted="vendor.release_record",
               target=model)
    _require_vendor(model)
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise ValidationFailed("Name the release as the vendor does (up to 100 characters), "
                               "e.g. '2026.2'.", field="label")
    if not isinstance(released_on, dt.date):
        raise ValidationFailed("Give the release date as YYYY-MM-DD.", field="released_on")
    limit_text({"notes": notes})
    try:
        with transaction.atomic():
            release = VendorRelease.objects.create(model=model, label=label,
                                                   released_on=released_on, notes=notes,
                                                   recorded_by=actor)
            audit.record(action="vendor.release_record", actor=actor, obj=release, payload={
                "label": label, "released_on": released_on, "notes": notes})
            notify(users=[model.owner], kind=NotificationKind.VENDOR_RELEASE, obj=release,
                   title=f"{model.vendor_name or 'The vendor'} released {label} of {model.name}",
                   body="Register it as a new version and take it through validation before "
                        f"relying on it. {notes}".strip(), url=vendor_url(model))
    except IntegrityError:
        raise Conflict(f"Release {label!r} of {model.name} is already recorded.",
                       field="label") from None
    return release


def releases_awaiting_version(model: RegisteredModel) -> list[VendorRelease]:
    """Releases recorded after the model's newest version was created: each calls for a new
    version and its review."""
    newest = model.versions.order_by("-created_at").values_list("created_at", flat=True).first()
    releases = VendorRelease.objects.filter(model=model)
    if newest is not None:
        releases = releases.filter(recorded_at__gt=newest)
    return list(releases)
