"""The MLflow import pages: ask for an import (a dry run by default) and follow it, its progress
polled with htmx, then its report. Thin: one service call or one read each."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from registry import mlflow_jobs
from registry.forms import MlflowImportForm
from registry.models import MlflowImport


@login_required
@require_http_methods(["GET", "POST"])
def mlflow_imports(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not permissions.can_create_model(request.user):
        raise PermissionRefused("Only administrators and data scientists can import models.")
    form = MlflowImportForm(request.POST or None, user=request.user)
    earlier = MlflowImport.objects.select_related("team", "requested_by")
    if not permissions.is_admin(request.user):
        earlier = earlier.filter(requested_by=request.user)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/mlflow_imports.html",
                      {"form": form, "imports": earlier[:50]}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form,
        call=lambda: mlflow_jobs.import_request(actor=request.user, **form.service_kwargs()),
        success=lambda job: ("Dry run" if job.dry_run else "Import")
        + f" {job.pk} is queued; this page shows its progress, then its report.",
        done=lambda job: redirect("mlflow-import", pk=job.pk), failure=page)


@login_required
def mlflow_import(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    job = mlflow_jobs.visible_import(request.user, pk)
    template = ("registry/mlflow_import.html#progress" if request.htmx
                else "registry/mlflow_import.html")
    return render(request, template, {"job": job, "lines": job.report.get("lines", [])})
