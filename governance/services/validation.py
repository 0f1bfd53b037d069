"""Independent validation: assigning the validator and concluding the review."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import Role, User
from governance.gates import case_for
from governance.models import (
    Conclusion,
    IndependenceAttestation,
    NotificationKind,
    ValidationReview,
    VersionGovernance,
    workflow_url,
)
from governance.services.attestations import independence_record
from governance.services.common import S, limit_text, require_text
from governance.services.lifecycle import concluded_review, version_transition
from governance.services.notifications import notifications_settle, notify
from registry.models import ModelVersion
from registry.storage import SHA256_RE


def validator_assign(*, actor: User, version: ModelVersion, validator: User,
                     independence_attested: bool = False) -> ModelVersion:
    """Assign an independent validator to a submitted version and start its validation.

    The validator joins the model's assignees, so they see it. A validator taking the
    validation themselves attests their independence of it (``independence_attested``,
    recorded and audited), or is refused; one a risk officer assigned attests on the version's
    workflow page (governance.services.attestations.independence_attest).
    """
    if version.state != S.SUBMITTED:
        raise Conflict(f"Validators are assigned to submitted versions; version {version.number} "
                       f"is {version.get_state_display().lower()}.")
    reason = permissions.reason_cannot_assign_validator(actor, case_for(version), validator)
    # First whether the caller may assign at all (403), then whether the named person is a
    # validator (bad input: 400), then whether they are independent (segregation of duties: 403).
    if reason and reason.code != permissions.NOT_INDEPENDENT:
        refuse(actor, reason, attempted="version.assign_validator", target=version)
    if not (validator.is_active and validator.has_role(Role.VALIDATOR)):
        raise ValidationFailed(f"{validator.username} is not an active validator: name a user "
                               "who holds the validator role.", field="validator")
    if reason:
        refuse(actor, reason, attempted="version.assign_validator", target=version)
    taking = actor.pk == validator.pk
    if taking and independence_attested is not True:
        raise ValidationFailed("Attest your independence to take this validation: confirm that "
                               "you had no part in developing or using this version and have "
                               "no conflict of interest in validating it.",
                               field="independence_attested")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        gov = VersionGovernance.objects.select_for_update().get(version=locked)
        previous = gov.validator
        gov.validator = validator
        gov.validator_assigned_at = timezone.now()
        gov.save(update_fields=["validator", "validator_assigned_at"])
        model = locked.model
        model.assignees.add(validator)
        if previous is not None and previous.pk != validator.pk and not \
                VersionGovernance.objects.filter(version__model=model,
                                                 validator=previous).exists():
            model.assignees.remove(previous)
        if taking:
            independence_record(actor=actor, version=locked)
        version_transition(version=locked, to=S.IN_VALIDATION, actor=actor, details={
            "validator": validator.username,
            "previous_validator": previous.username if previous else None,
            "self_assigned": actor.pk == validator.pk})
        # The submission has its validator: its call to assign or take it is answered for all.
        notifications_settle(obj=locked, kinds=[NotificationKind.SUBMITTED])
        if validator.pk != actor.pk:
            notify(users=[validator], kind=NotificationKind.ASSIGNMENT, obj=locked,
                   period=str(gov.validator_assigned_at.date()),
                   title=f"You validate {locked}", url=workflow_url(locked),
                   body=f"{actor.username} assigned you the independent validation of "
                        f"{locked}.")
    version.state = locked.state
    return locked


def review_conclude(
    *,
    actor: User,
    version: ModelVersion,
    conceptual_soundness: str,
    data_quality: str,
    outcomes_analysis: str,
    implementation_verification: str,
    artifact_sha256: str,
    limitations: str,
    conclusion: str,
    conditions: str = "",
    independence_attested: bool = False,
) -> ValidationReview:
    """Record the validator's review and move the version on: an approval (with or without
    conditions) to pending approval — only when no required evidence is missing or failing — and
    a rejection to rejected. No review concludes without the validator's attestation of
    independence: given when they took the validation, on the workflow page, or here
    (``independence_attested``, recorded with the review)."""
    values = {"conceptual_soundness": conceptual_soundness, "data_quality": data_quality,
              "outcomes_analysis": outcomes_analysis,
              "implementation_verification": implementation_verification,
              "limitations": limitations}
    require_text(values, {
        "conceptual_soundness": "Assess the model's design and theory.",
        "data_quality": "Assess the data's quality and relevance.",
        "outcomes_analysis": "Describe the back-test or the benchmark against a challenger or "
                             "baseline.",
        "implementation_verification": "Say how you verified the implementation.",
        "limitations": "List the model's limitations (or say why there are none)."})
    limit_text({"conditions": conditions})
    if conclusion not in Conclusion.values:
        raise ValidationFailed(f"Conclude with one of: {', '.join(Conclusion.values)}.",
                               field="conclusion")
    if conclusion == Conclusion.APPROVE_WITH_CONDITIONS and not conditions.strip():
        raise ValidationFailed("Approving with conditions needs the conditions of use.",
                               field="conditions")
    if conclusion != Conclusion.APPROVE_WITH_CONDITIONS and conditions.strip():
        raise ValidationFailed("Conditions go with the conclusion 'approve with conditions'.",
                               field="conditions")
    digest = (artifact_sha256 or "").strip().lower()
    # A model with no ONNX form has no artifact to verify: its review is of its documentation
    # and the outcomes analysis of its predictions (docs/no-artifact-models.md).
    no_artifact = not version.model.has_onnx_form
    if no_artifact:
        digest = ""
    elif not SHA256_RE.fullmatch(digest):
        raise ValidationFailed("Give the SHA-256 of the artifact you reviewed: 64 hex "
                               "characters (sha256sum output).", field="artifact_sha256")
    if version.state != S.IN_VALIDATION:
        raise Conflict(f"Only versions in validation are reviewed; version {version.number} is "
                       f"{version.get_state_display().lower()}.")
    case = case_for(version)
    reason = permissions.reason_cannot_review(actor, case)
    if reason:
        refuse(actor, reason, attempted="review.conclude", target=version)
    attested = IndependenceAttestation.objects.filter(version=version, validator=actor).exists()
    if not attested and independence_attested is not True:
        raise ValidationFailed("Attest your independence before concluding the review: confirm "
                               "that you had no part in developing or using this version and "
                               "have no conflict of interest in validating it (the review "
                               "form's independence box, or independence_attested in the API).",
                               field="independence_attested")
    gov = VersionGovernance.objects.get(version=version)
    if not no_artifact and digest != gov.submitted_artifact_sha256:
        raise ValidationFailed(
            f"The artifact you reviewed ({digest[:12]}…) is not the submitted one "
            f"({gov.submitted_artifact_sha256[:12]}…). Download the submitted artifact and "
            "review that.", field="artifact_sha256")
    rules = case.rules
    if conclusion == Conclusion.APPROVE_WITH_CONDITIONS and rules and \
            not rules.conditional_approval:
        raise Conflict(f"Tier {case.tier} under {case.policy_version} does not allow conditional "
                       "approval: approve without conditions, request changes or reject.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.state != S.IN_VALIDATION or concluded_review(locked) is not None:
            raise Conflict("This version's review was concluded meanwhile.")
        if not attested:
            independence_record(actor=actor, version=locked)
        # The case's policy and tier are set: they were fixed when the version was submitted.
        review = ValidationReview.objects.create(  # type: ignore[misc]
            version=locked, validator=actor, policy_version=case.policy_version, tier=case.tier,
            artifact_sha256=digest, conclusion=conclusion, conditions=conditions, **values)
        to = S.REJECTED if conclusion == Conclusion.REJECT else S.PENDING_APPROVAL
        version_transition(version=locked, to=to, actor=actor, reason=limitations, details={
            "review_id": review.pk, "conclusion": conclusion, "conditions": conditions,
            "artifact_sha256": digest, "artifact_verified": not no_artifact, **values})
    version.state = locked.state
    return review

