"""The Exports page (every export from one page: the inventory and board reports, the CSVs of
the inventory, findings, waivers and audit events, and each model's own documents), an
export's page (its progress, polled with htmx, then its download) and the download. Thin: each
view is one service call or one read; every download is audited (reports.jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.errors import DomainError, NotVisible, PermissionRefused
from core.http import AuthenticatedHttpRequest
from governance.models import FindingCategory, FindingStatus, RootCause, Severity, SR117Area
from governance.models.findings import AGEING_BUCKETS, UNCLASSIFIED
from registry import storage
from registry.models import DecisionType, RegisteredModel, VersionState
from reports import exports, jobs
from reports.models import ExportKind, GeneratedReport
from reports.services import DECIDED


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, date or select
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModelExport:
    """A per-model export listed for each version on the Exports page: its label, the URL name
    (``<slug>/v<n>/…``) and whether only decided versions have it."""

    label: str
    url_name: str
    decided_only: bool = False


# The per-version documents; the model's evidence pack is linked above them (one per model).
MODEL_EXPORTS: list[ModelExport] = [
    ModelExport("Model card (PDF)", "reports:model-card-pdf"),
    ModelExport("Model card (JSON)", "reports:model-card-json"),
    ModelExport("Model card (Markdown)", "reports:model-card-markdown"),
    ModelExport("Validation report (PDF)", "reports:validation-report-pdf"),
    ModelExport("Approval certificate (PDF)", "reports:certificate-pdf", decided_only=True),
]

_STATUSES = (("", "any"), *VersionState.choices)
INVENTORY_FIELDS = (Field("q", "Search"), Field("team", "Team (slug)"),
                    Field("status", "Status", "select", _STATUSES),
                    Field("owner", "Owner (username)"), Field("business_line", "Business line"),
                    Field("decision_type", "Decision type", "select",
                          (("", "any"), *DecisionType.choices)),
                    Field("tag", "Tag"))
FIELDS: dict[str, tuple[Field, ...]] = {
    ExportKind.INVENTORY_PDF: INVENTORY_FIELDS,
    ExportKind.INVENTORY_CSV: INVENTORY_FIELDS,
    ExportKind.BOARD_PDF: (Field("date_from", "From", "date"), Field("date_to", "To", "date")),
    ExportKind.FINDINGS_CSV: (
        Field("status", "Show", "select", (
            ("unresolved", "unresolved"), *FindingStatus.choices, ("all", "all"))),
        Field("severity", "Severity", "select", (("", "any"), *Severity.choices)),
        Field("overdue", "Overdue only", "select", (("", "no"), ("true", "yes"))),
        *(Field(name, label, "select", (("", "any"), (UNCLASSIFIED, "not classified"),
                                        *choices))
          for name, label, choices in (("category", "Category", FindingCategory.choices),
                                       ("root_cause", "Root cause", RootCause.choices),
                                       ("sr117_area", "SR 11-7 area", SR117Area.choices))),
        Field("ageing", "Days open", "select", (("", "any"), *((b[0], b[1])
                                                               for b in AGEING_BUCKETS)))),
    ExportKind.WAIVERS_CSV: (),
    ExportKind.AUDIT_CSV: (Field("model", "Model (slug)"), Field("actor", "Person (username)"),
                           Field("action", "Action (or a prefix ending in a dot)"),
                           Field("date_from", "From (UTC)", "date"),
                           Field("date_to", "To (UTC)", "date")),
    ExportKind.EVIDENCE_PACK: (Field("model", "Model (slug)"),),
}


def _page(request: AuthenticatedHttpRequest, *, status: int = 200, error: str = "",
          failed_kind: str = "", values: dict[str, Any] | None = None) -> HttpResponse:
    user = request.user
    kinds = [{"kind": k, "fields": FIELDS[k.value],
              "values": values if k.value == failed_kind else {},
              "error": error if k.value == failed_kind else ""}
             for k in exports.KINDS.values() if k.may(user)]
    slug = request.GET.get("model", "")
    model = RegisteredModel.objects.visible_to(user).filter(slug=slug).first() if slug else None
    versions = list(model.versions.order_by("-number")) if model else []
    return render(request, "reports/exports.html", {
        "kinds": kinds, "model": model, "model_slug": slug, "versions": versions,
        "model_exports": MODEL_EXPORTS, "decided": DECIDED,
        "models": RegisteredModel.objects.visible_to(user).order_by("name").values_list(
            "slug", "name")[:2000],
        "recent": GeneratedReport.objects.filter(requested_by=user)[:20],
        "today": timezone.now().date()}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exports_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every export the person may make, with the filters of the pages they come from; POST
    asks for one (made at once, or queued for a worker) and goes to its page."""
    if request.method == "GET":
        return _page(request)
    kind = request.POST.get("kind", "")
    params = {k: v for k, v in request.POST.items() if k not in ("kind", "csrfmiddlewaretoken")}
    try:
        job = jobs.export_request(actor=request.user, kind=kind, params=params)
    except (PermissionRefused, NotVisible):
        raise
    except DomainError as exc:
        return _page(request, status=exc.status, error=exc.message, failed_kind=kind,
                     values=params)
    return redirect("reports:export", pk=job.pk)


@login_required
def export_page(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """An export's progress (the partial polls itself while a worker makes it), then its
    download link, or why it failed."""
    job = jobs.visible_export(request.user, pk)
    template = "reports/export.html#progress" if request.htmx else "reports/export.html"
    return render(request, template, {"job": job})


@login_required
def export_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """The export's stored file, checked against its digest; the download is audited."""
    job = jobs.visible_export(request.user, pk)
    jobs.export_download_record(actor=request.user, job=job)
    response = storage.stored_file_response(job.sha256, job.filename)
    response["Content-Type"] = job.content_type
    return response
