"""The reports of a version: its model card (page, PDF, JSON, Markdown, and the owner's
narrative), its validation report and its approval certificate. Thin: each view is one service
call or one read; every download is audited."""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core import pages, permissions
from core.http import AuthenticatedHttpRequest
from core.models import User
from registry import storage
from registry.models import ModelVersion, RegisteredModel
from reports import jobs, services
from reports.facts import gather
from reports.forms import ModelCardForm
from reports.modelcard import hf_markdown, mct_json_text
from reports.models import ExportKind, ExportState, Report, ReportKind


def _version(request: AuthenticatedHttpRequest, slug: str, number: int) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.visible_to(request.user)
                             .select_related("model"), model__slug=slug, number=number)


def _pdf(request: AuthenticatedHttpRequest, report: Report) -> HttpResponseBase:
    services.report_download_record(actor=request.user, report=report)
    response = storage.stored_file_response(report.sha256, report.filename)
    response["Content-Type"] = "application/pdf"
    return response


def _text_download(content: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content.encode(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-SHA256"] = hashlib.sha256(content.encode()).hexdigest()
    return response


@login_required
@require_http_methods(["GET", "POST"])
def model_card(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    """The model card as a page; its owner edits the narrative here until the version is
    decided."""
    version = _version(request, slug, number)
    editable = (permissions.can_edit_model(request.user, version.model)
                and version.state not in services.DECIDED)
    narrative = getattr(version, "model_card_narrative", None)
    initial = {name: getattr(narrative, name) for name in ModelCardForm.base_fields} \
        if narrative else {}
    form = ModelCardForm(request.POST if request.method == "POST" else None, initial=initial)

    def page(status: int = 200) -> HttpResponse:
        return render(request, "reports/model_card.html", {
            "version": version, "model": version.model, "form": form, "editable": editable,
            "facts": gather(version, now=timezone.now())}, status=status)

    if request.method == "GET":
        return page()
    return pages.form_action(
        request, form=form,
        call=lambda: services.model_card_edit(actor=request.user, version=version,
                                              **form.cleaned_data),
        success="Model card saved.",
        done=reverse("reports:model-card", kwargs={"slug": slug, "number": number}),
        failure=lambda status, _: page(status))


@login_required
def model_card_pdf(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponseBase:
    version = _version(request, slug, number)
    return _pdf(request, services.report_generate(actor=request.user, version=version,
                                                  kind=ReportKind.MODEL_CARD))


# format -> (how the facts are written, the file's name after "<slug>-v<n>-", its type)
EXPORTS = {"json": (mct_json_text, "model-card.json", "application/json"),
           "markdown": (hf_markdown, "README.md", "text/markdown; charset=utf-8")}


def model_card_download(user: User, version: ModelVersion, what: str) -> HttpResponse:
    """The model card of ``version`` as a download in format ``what`` (a key of EXPORTS),
    audited with its digest; the page's download and the API's are this one."""
    write, name, content_type = EXPORTS[what]
    response = _text_download(write(gather(version, now=timezone.now())),
                              f"{version.model.slug}-v{version.number}-{name}", content_type)
    services.model_card_export_record(actor=user, version=version, what=what,
                                      sha256=response["X-Content-SHA256"])
    return response


def _model_card_export(request: AuthenticatedHttpRequest, slug: str, number: int,
                       what: str) -> HttpResponse:
    return model_card_download(request.user, _version(request, slug, number), what)


@login_required
def model_card_json(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    """The model card as Model Card Toolkit JSON (schema v0.0.2)."""
    return _model_card_export(request, slug, number, "json")


@login_required
def model_card_markdown(request: AuthenticatedHttpRequest, slug: str,
                        number: int) -> HttpResponse:
    """The model card as Markdown in the Hugging Face layout (a README.md)."""
    return _model_card_export(request, slug, number, "markdown")


@login_required
def validation_report_pdf(request: AuthenticatedHttpRequest, slug: str,
                          number: int) -> HttpResponseBase:
    version = _version(request, slug, number)
    return _pdf(request, services.report_generate(actor=request.user, version=version,
                                                  kind=ReportKind.VALIDATION_REPORT))


@login_required
def certificate_pdf(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponseBase:
    version = _version(request, slug, number)
    return _pdf(request, services.certificate_generate(actor=request.user, version=version))


@login_required
def evidence_pack(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """What the model's evidence pack holds and how to verify it; the download button for
    auditors and administrators."""
    model = get_object_or_404(RegisteredModel.objects.visible_to(request.user), slug=slug)
    return render(request, "reports/evidence_pack.html", {
        "model": model, "can_download": permissions.can_export_audit(request.user),
        "filename": f"{model.slug}-evidence-pack.zip"})


@login_required
@require_POST
def evidence_pack_download(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Ask for the model's evidence pack (an export, ``reports.jobs``): made at once, it is
    downloaded straight away (the download is audited); made by a worker, its page shows the
    progress (and the requester's inbox tells when it is ready)."""
    model = get_object_or_404(RegisteredModel.objects.visible_to(request.user), slug=slug)
    job = jobs.export_request(actor=request.user, kind=ExportKind.EVIDENCE_PACK,
                              params={"model": model.slug})
    if job.state == ExportState.DONE:
        return redirect("reports:export-download", pk=job.pk)
    return redirect("reports:export", pk=job.pk)
