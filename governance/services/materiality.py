"""Change materiality: a new version declares a minor or a major change (registry's
``ModelVersion.change_class``, with the bound policy's definitions shown where it is declared);
its validator confirms the class or reclassifies it. A minor change in force takes the reduced
revalidation scope its tier's policy names (``TierRules.evidence_for``); reclassified as major,
the version is held to the full scope again. A declared minor change not yet confirmed stops
the validation from concluding (``gates._materiality_blockers``).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.gates import case_for
from governance.models import NotificationKind, VersionGovernance, workflow_url
from governance.policy import MAJOR, MINOR, Definition
from governance.services.common import limit_text
from governance.services.notifications import notify
from registry.models import ChangeClass, ModelVersion, VersionState


def change_definitions(version: ModelVersion) -> dict[str, str]:
    """What a minor and a major change are under the policy the version is (or would be)
    governed by."""
    policy = case_for(version).policy_version
    return Definition(policy.definition).change_materiality if policy is not None else \
        Definition({}).change_materiality


def version_classify_change(*, actor: User, version: ModelVersion, change_class: str,
                            note: str = "") -> ModelVersion:
    """The validator confirms the change class the version declared, or reclassifies it (a note
    saying why is then required). Audited; the owner and the submitter are told of a
    reclassification, since it changes what evidence they must supply."""
    if version.state != VersionState.IN_VALIDATION:
        raise Conflict(f"The change class is confirmed during the validation; version "
                       f"{version.number} is {version.get_state_display().lower()}.")
    case = case_for(version)
    reason = permissions.reason_cannot_review(actor, case)
    if reason:
        refuse(actor, reason, attempted="version.classify_change", target=version)
    if not version.change_class:
        raise Conflict(f"Version {version.number} is the model's first version: it is no change "
                       "and has no class to confirm.")
    if change_class not in ChangeClass.values:
        raise ValidationFailed(f"Choose {MINOR} or {MAJOR} (the policy's definitions are shown "
                               "with the choice).", field="change_class")
    note = (note or "").strip()
    limit_text({"note": note})
    reclassified = change_class != version.change_class
    if reclassified and not note:
        raise ValidationFailed(f"Say why the change is {change_class} rather than the declared "
                               f"{version.change_class}.", field="note")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().select_related("model").get(
            pk=version.pk)
        if locked.state != VersionState.IN_VALIDATION:
            raise Conflict(f"Version {locked.number} changed meanwhile: it is now "
                           f"{locked.get_state_display().lower()}. Reload and try again.")
        gov = VersionGovernance.objects.select_for_update().get(version=locked)
        before = gov.change_class_confirmed
        gov.change_class_confirmed = change_class
        gov.change_class_confirmed_by = actor
        gov.change_class_confirmed_at = timezone.now()
        gov.change_class_note = note
        gov.save(update_fields=["change_class_confirmed", "change_class_confirmed_by",
                                "change_class_confirmed_at", "change_class_note"])
        audit.record(action="version.change_classify", actor=actor, obj=locked, payload={
            "version": locked.number, "declared": locked.change_class,
            "before": before or None, "after": change_class, "reclassified": reclassified,
            "note": note})
        if reclassified or (before and before != change_class):
            scope = ("the full revalidation scope: every required check of its tier" if
                     change_class == MAJOR else "the reduced revalidation scope its policy "
                                                "names for a minor change")
            notify(users=[locked.model.owner, gov.submitted_by], kind=NotificationKind.CHANGE_CLASS,
                   obj=locked, period=f"{change_class}-{gov.change_class_confirmed_at:%Y%m%d%H%M%S%f}",
                   title=f"{locked} reclassified as a {change_class} change by {actor.username}",
                   url=workflow_url(locked),
                   body=f"Declared {locked.change_class}; the validator classified it "
                        f"{change_class}: {note}\n\nIt is now held to {scope}.")
    version.change_class = locked.change_class
    return locked
