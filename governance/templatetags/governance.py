"""Template access to a version's governance status and a model's intake, for the panels
governance adds to the registry's pages (governance.apps), and the ``label`` filter."""

from __future__ import annotations

from typing import Any

from django import template

from governance.dashboard import Dashboard, dashboard
from governance.models import ModelIntake, PolicyVersion
from governance.policy import MINOR, Definition
from governance.services.attestations import AttestationStanding, attestation_standing
from governance.services.dependencies import upstream_impact
from governance.status import version_status
from registry.models import RegisteredModel

register = template.Library()


@register.simple_tag(takes_context=True)
def governance_status(context: template.Context, version: Any) -> dict[str, Any]:
    return version_status(version, context["request"].user)


@register.simple_tag(takes_context=True)
def governance_dashboard(context: template.Context) -> Dashboard:
    """The signed-in person's dashboard (governance.dashboard), for the home page's panel."""
    return dashboard(context["request"].user)


@register.simple_tag
def model_intake(model: Any) -> ModelIntake | None:
    return ModelIntake.objects.filter(model=model).first()


@register.simple_tag
def model_policy(model: Any) -> PolicyVersion | None:
    """The policy that governs the model now (PolicyVersionQuerySet.current_for)."""
    return PolicyVersion.objects.current_for(model)


@register.simple_tag
def model_attestation(model: Any) -> AttestationStanding | None:
    """Where the model stands with its owner's attestation (None: not tiered, not attested)."""
    return attestation_standing(model)


@register.simple_tag
def change_definitions_for(model: Any) -> dict[str, Any]:
    """What a minor and a major change are under the policy a new version of the model would be
    bound to, and the checks a minor change needs at the model's tier (the version form)."""
    policy = PolicyVersion.objects.current_for(model)
    definition = Definition(policy.definition) if policy is not None else Definition({})
    intake = ModelIntake.objects.filter(model=model).first()
    rules = definition.tier_rules(intake.tier) if policy is not None and intake is not None \
        and intake.tier is not None else None
    checks = None
    if rules is not None:
        checks = sorted({r.check for r in rules.evidence_for(MINOR) if r.applies_to(model.task)})
    return {"definitions": definition.change_materiality, "policy": policy,
            "tier": rules.tier if rules else None, "minor_checks": checks,
            "full_scope": rules is not None and rules.minor_change_checks is None}


@register.simple_tag(takes_context=True)
def upstream_impact_for(context: template.Context, model: Any) -> dict[str, Any]:
    """The models an upstream change of ``model`` would flag, as far as the viewer may see."""
    affected = upstream_impact(model)
    visible = set(RegisteredModel.objects.visible_to(context["request"].user).filter(
        pk__in=[a.model.pk for a in affected]).values_list("pk", flat=True))
    shown = [a for a in affected if a.model.pk in visible]
    return {"affected": shown, "hidden": len(affected) - len(shown)}


@register.filter
def label(value: str) -> str:
    """'pending_approval' -> 'pending approval'."""
    return str(value).replace("_", " ")
