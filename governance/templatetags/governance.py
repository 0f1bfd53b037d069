"""Template access to a version's governance status and a model's intake, for the panels
governance adds to the registry's pages (governance.apps), and the ``label`` filter."""

from __future__ import annotations

from typing import Any

from django import template

from governance.dashboard import Dashboard, dashboard
from governance.models import ModelIntake, PolicyVersion
from governance.services.attestations import AttestationStanding, attestation_standing
from governance.status import version_status

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


@register.filter
def label(value: str) -> str:
    """'pending_approval' -> 'pending approval'."""
    return str(value).replace("_", " ")
