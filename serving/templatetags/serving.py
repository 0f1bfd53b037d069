"""What the registry's version page shows of deployments (its serving panel)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Q

from serving.models import Endpoint

register = template.Library()


@register.simple_tag
def version_endpoints(version: Any) -> list[tuple[Endpoint, str]]:
    """The endpoints the version is on, each with its role there (primary, canary, shadow)."""
    endpoints = Endpoint.objects.filter(
        Q(primary_version=version) | Q(canary_version=version) | Q(shadow_version=version))
    return [(e, next(role for role, v in e.deployed_versions() if v.pk == version.pk))
            for e in endpoints.select_related("primary_version", "canary_version",
                                              "shadow_version")]
