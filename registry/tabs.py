"""The model page's tabs (core.pages.Tab): the registry's own (overview, versions, history), and
the URL converter that knows every app's tab keys.

Each app above the registry adds the tab whose content it owns from its ``AppConfig.ready()``
(evaluations, findings, review and sign-offs, deployments, model card), so the registry's page
names none of them; a tab's ``context`` reads what it shows, scoped to the person asking.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core import pages
from core.audit_views import model_timeline
from registry import dependencies
from registry.forms import VendorDocumentForm
from registry.models import RegisteredModel

# The page's name in core.pages' tab registry.
MODEL_PAGE = "registry.model"
TIMELINE_LIMIT = 50


class ModelTabConverter:
    """``<modeltab:tab>`` in a URL: the key of one of the model page's tabs, other than the
    first (whose URL is the model's own). Any other word is no match, so the URLs apps put under
    ``/models/<slug>/`` (governance's ``intake/``) still resolve."""

    regex = "[a-z-]+"

    def to_python(self, value: str) -> str:
        if value and value in {t.key for t in pages.tabs(MODEL_PAGE)}:
            return value
        raise ValueError(value)

    def to_url(self, value: str) -> str:
        return value


def _overview(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    return {"vendor_documents": model.vendor_documents.all(),
            "vendor_document_form": VendorDocumentForm()}


def _versions(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    return {"versions": model.versions.select_related("created_by").order_by("-number")}


def _dependencies(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    """The dependency graph around the model and the data it uses, as far as the viewer may
    see (a hidden model in between does not hide what lies beyond it)."""
    visible = list(RegisteredModel.objects.visible_to(request.user).values_list("pk", flat=True))
    return {"graph": dependencies.graph_chart(model, visible),
            "upstream": dependencies.neighbours(model, downstream=False, visible=visible),
            "downstream": dependencies.neighbours(model, downstream=True, visible=visible),
            "data_sources": model.linked_data_sources.select_related("owner")}


def _history(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    return {"timeline": model_timeline(model.pk, limit=TIMELINE_LIMIT)}


def register() -> None:
    """Add the registry's tabs (called from RegistryConfig.ready)."""
    pages.add_tab(MODEL_PAGE, pages.Tab("", "Overview", "registry/_tab_overview.html",
                                        _overview, order=0))
    pages.add_tab(MODEL_PAGE, pages.Tab("versions", "Versions", "registry/_tab_versions.html",
                                        _versions, order=10))
    pages.add_tab(MODEL_PAGE, pages.Tab("dependencies", "Dependencies",
                                        "registry/_tab_dependencies.html", _dependencies,
                                        order=60))
    pages.add_tab(MODEL_PAGE, pages.Tab("history", "Audit timeline", "registry/_tab_history.html",
                                        _history, order=90))
