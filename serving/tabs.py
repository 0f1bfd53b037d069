"""The model page's deployments tab (core.pages.Tab, added in ServingConfig.ready): the
endpoints that serve any version of the model, as primary, canary or shadow."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from core import pages, permissions
from registry.models import RegisteredModel, VersionState
from registry.tabs import MODEL_PAGE
from serving.models import Endpoint


def _deployments(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    endpoints = (Endpoint.objects.visible_to(request.user)
                 .filter(Q(primary_version__model=model) | Q(canary_version__model=model)
                         | Q(shadow_version__model=model))
                 .select_related("primary_version__model", "canary_version__model",
                                 "shadow_version__model").distinct())
    return {
        "endpoints": list(endpoints),
        "may_deploy": permissions.is_deployer(request.user),
        "approved": model.versions.filter(state=VersionState.APPROVED).order_by("-number").first(),
    }


def register() -> None:
    pages.add_tab(MODEL_PAGE, pages.Tab("deployments", "Deployments",
                                        "serving/_model_tab.html", _deployments, order=50))
