"""Use cases: one model used for several purposes, each tiered by the current policy's
questionnaire; the most critical tier of them and the intake's governs the model.

Adding a use case that raises the tier re-tiers the model: the intake's tier in force changes,
the next version is submitted at it, and the owner and the validators of its versions are told.
Versions already decided keep the tier they were decided at. While a version is in flight the
tier may not change this way (it changes only through a tier override, four eyes), as for new
intake answers.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Min
from django.urls import reverse

from core import audit
from core.errors import Conflict, ValidationFailed
from core.models import User
from governance.models import ModelIntake, NotificationKind, UseCase, VersionGovernance
from governance.services.common import require_text
from governance.services.intake import (
    _answer_field,
    _intake_guard,
    _refuse_tier_change_in_flight,
    _requirements,
)
from governance.services.notifications import notify
from governance.services.policies import current_policy
from registry.models import RegisteredModel


def _retier(*, actor: User, intake: ModelIntake, use_case: UseCase, action: str) -> dict:
    """Recompute the intake's most critical use-case tier; refuse a change of the tier in force
    while a version is in flight; tell the owner and validators when the tier rises. Returns
    the tier before and after."""
    before = intake.tier
    intake.use_case_tier = UseCase.objects.filter(model_id=intake.model_id).aggregate(
        t=Min("tier"))["t"]
    after = intake.tier
    if after != before:
        _refuse_tier_change_in_flight(intake.model, before, after)
    intake.save(update_fields=["use_case_tier"])
    if after is not None and before is not None and after < before:
        model = intake.model
        line = use_case.business_line or "no business line"
        validators = [g.validator for g in VersionGovernance.objects.filter(
            version__model=model, validator__isnull=False).select_related("validator")]
        notify(users=[model.owner, *validators], kind=NotificationKind.TIER_RAISED, obj=model,
               period=f"{action}:{use_case.pk}",
               title=f"{model.name} is now tier {after}: use case \"{use_case.name}\"",
               url=reverse("governance:intake", kwargs={"slug": model.slug}),
               body=f"The use case \"{use_case.name}\" ({line}) scores tier {use_case.tier}, more critical than the model's tier "
                    f"{before}. Its next version is submitted at tier {after} and needs that "
                    "tier's evidence and sign-offs; approved versions keep the tier they were "
                    "decided at until they are revalidated.")
    return {"before": before, "after": after}


def use_case_add(*, actor: User, model: RegisteredModel, name: str, description: str,
                 business_line: str = "", answers: Any = None) -> UseCase:
    """Record one more use of a model, tiered by the current policy's questionnaire; when its
    tier is more critical than the model's, the model takes it (audited, owner and validators
    notified)."""
    _intake_guard(actor, model, "use_case.add")
    require_text({"name": name, "description": description},
                 {"name": "Name the use case.",
                  "description": "Describe the use: what decisions it supports, for whom."})
    if len(name) > 200 or len(business_line) > 100:
        raise ValidationFailed("Keep the name to 200 characters and the business line to 100.",
                               field="name" if len(name) > 200 else "business_line")
    policy = current_policy(model)
    errors = policy.rules.answer_errors(answers or {})
    if errors:
        raise ValidationFailed("The use case's questionnaire is incomplete or has invalid "
                               "answers: " + " ".join(errors.values()),
                               fields={_answer_field(k): [v] for k, v in errors.items()})
    scoring = policy.rules.score(answers)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        intake = ModelIntake.objects.filter(model=model).first()
        if intake is None or not intake.is_model or intake.computed_tier is None:
            raise Conflict("Complete the model's intake questionnaire (its main purpose) before "
                           "adding more use cases.")
        if UseCase.objects.filter(model=model, name=name).exists():
            raise ValidationFailed(f"{model.name} has a use case named \"{name}\" already; give "
                                   "this one another name.", field="name")
        use_case = UseCase.objects.create(
            model=model, name=name, description=description, business_line=business_line,
            answers=answers, scoring=scoring.as_dict(), tier=scoring.tier,
            policy_version=policy, created_by=actor)
        tier = _retier(actor=actor, intake=intake, use_case=use_case, action="add")
        audit.record(action="use_case.add", actor=actor, obj=use_case, payload={
            "name": name, "description": description, "business_line": business_line,
            "answers": answers, "score": scoring.total, "use_case_tier": scoring.tier,
            "policy_version": str(policy), "tier": tier,
            "requirements": _requirements(policy, tier["after"])})
    return use_case


def use_case_remove(*, actor: User, use_case: UseCase) -> dict:
    """The model is no longer used for this purpose: remove the use case and re-tier the model
    (which may lower its tier, never below its main purpose's). Audited; returns the tier
    before and after."""
    model = use_case.model
    _intake_guard(actor, model, "use_case.remove")
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        intake = ModelIntake.objects.get(model=model)
        snapshot = {"name": use_case.name, "business_line": use_case.business_line,
                    "use_case_tier": use_case.tier, "answers": use_case.answers}
        use_case_id = use_case.pk
        use_case.delete()
        use_case.pk = use_case_id  # the event and any notice name the removed row
        tier = _retier(actor=actor, intake=intake, use_case=use_case, action="remove")
        audit.record(action="use_case.remove", actor=actor, obj=model,
                     payload={**snapshot, "use_case_id": use_case_id, "tier": tier})
    return tier
