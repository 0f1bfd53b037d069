"""The model page's model card tab (core.pages.Tab, added in ReportsConfig.ready): the card of
one version (``?version=N``; by default the version in use, else the newest), with its
downloads."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone

from core import pages
from core.errors import ValidationFailed
from registry.filters import IN_USE_STATES
from registry.models import RegisteredModel
from registry.tabs import MODEL_PAGE
from reports.facts import gather


def _model_card(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    versions = list(model.versions.order_by("-number"))
    asked = request.GET.get("version", "")
    if asked and not asked.isdigit():
        raise ValidationFailed(f"?version= takes a version number, e.g. ?version=1, not {asked!r}.",
                               field="version")
    if asked:
        version = next((v for v in versions if v.number == int(asked)), None)
        if version is None:
            raise Http404(f"{model.name} has no version {asked}.")
    else:
        version = next((v for v in versions if v.state in IN_USE_STATES),
                       versions[0] if versions else None)
    return {"card_versions": versions, "card_version": version,
            "facts": gather(version, now=timezone.now()) if version else None}


def register() -> None:
    pages.add_tab(MODEL_PAGE, pages.Tab("model-card", "Model card", "reports/_model_tab.html",
                                        _model_card, order=100))
