"""Evaluation pages: upload a data set, launch a run, watch it (htmx polling that stops when the
run ends) and read its figures and charts. Thin: each action is one service call."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from core.uploads import require_file
from evaluation import explanations, services
from evaluation.api import results_download
from evaluation.charts import check_sections, local_chart
from evaluation.forms import DatasetForm, RunForm
from evaluation.models import Dataset, RowExplanation, Run
from governance.gates import blocking_items, case_for, launcher_conflict
from registry.models import ModelVersion, RegisteredModel
from registry.storage import stored_file_response


def _visible_model(request: AuthenticatedHttpRequest, slug: str) -> RegisteredModel:
    return get_object_or_404(RegisteredModel.objects.visible_to(request.user), slug=slug)


def _visible_run(request: AuthenticatedHttpRequest, pk: int) -> Run:
    return get_object_or_404(Run.objects.visible_to(request.user).select_related(
        "version__model", "dataset", "launched_by"), pk=pk)


@login_required
def dataset_upload(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = _visible_model(request, slug)
    reason = permissions.reason_cannot_upload_dataset(request.user, model)
    if reason:
        raise PermissionRefused(reason)
    form = DatasetForm(request.POST or None, request.FILES or None, model=model)
    refused = getattr(request, "upload_refusals", {}).get("file")
    if refused and request.method == "POST":
        form.is_valid()
        form.add_error("file", refused)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "evaluation/dataset_form.html", {"form": form, "model": model},
                      status=status)

    if request.method != "POST":
        return page()
    if refused:
        return page(400)

    def call() -> Dataset:
        require_file(request, request.FILES, "file", "data set")
        return services.dataset_upload(actor=request.user, model=model,
                                       **form.service_kwargs())

    return pages.form_action(
        request, form=form, call=call,
        success=lambda d: f"Data set '{d.name}' is stored: {d.row_count} rows, SHA-256 "
                          f"{d.sha256[:12]}….",
        done=lambda d: redirect("registry:model-tab", slug=model.slug, tab="evaluations"),
        failure=page)


@login_required
def dataset_download(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=pk)
    return stored_file_response(dataset.sha256, dataset.filename)


@login_required
def run_launch(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion.objects.visible_to(request.user)
                                .select_related("model"), model__slug=slug, number=number)
    reason = permissions.reason_cannot_launch_evaluation(request.user, case_for(version))
    if reason:
        raise PermissionRefused(reason)
    form = RunForm(request.POST or None, version=version)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "evaluation/run_form.html",
                      {"form": form, "version": version, "model": version.model}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.run_launch(
            actor=request.user, version=version, **form.service_kwargs()),
        success="The evaluation is queued; this page follows its progress.",
        done=lambda run: redirect("evaluation:run-detail", pk=run.pk), failure=page)


def _run_context(request: AuthenticatedHttpRequest, run: Run) -> dict[str, Any]:
    version = run.version
    case = case_for(version)
    return {
        "run": run, "version": version, "model": version.model,
        "exploratory": launcher_conflict(run.launched_by, case),
        "can_cancel": not run.is_finished and not permissions.reason_cannot_cancel_evaluation(
            request.user, case, run.launched_by_id),
        "sections": check_sections(run) if run.is_finished else [],
        "blockers": blocking_items(version, case) if run.is_finished else [],
        "can_explain_rows": run.status == "succeeded" and "explainability" in run.checks
        and not permissions.reason_cannot_launch_evaluation(request.user, case),
    }


@login_required
def run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The run page; with htmx, only its body (``run.html#body``), which its progress bar polls
    while the run goes on (core/_progress.html). Once the run is finished, the body holds its
    results and no bar: the polling stops and the results show without a reload."""
    run = _visible_run(request, pk)
    context = _run_context(request, run)
    template = "evaluation/run.html#body" if request.htmx else "evaluation/run.html"
    return render(request, template, context)


@login_required
@require_POST
def run_explain_row(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Ask for one row of the run's evaluation data (``row``, 1-based) to be explained on a
    worker, then follow it on the run page. A bad row number shows the page again with the
    reason (400)."""
    run = _visible_run(request, pk)
    row = request.POST.get("row", "")
    try:
        explanation = explanations.explanation_request(actor=request.user, run=run, row=row)
    except DomainError as error:
        if isinstance(error, PermissionRefused):
            raise
        context = _run_context(request, run)
        context.update(row_asked=row, local_error=error.message)
        return render(request, "evaluation/run.html", context, status=error.status)
    return redirect(reverse("evaluation:run-explanation", args=[run.pk, explanation.pk])
                    + "#local")


@login_required
def run_explanation(request: AuthenticatedHttpRequest, pk: int, explanation: int
                    ) -> HttpResponse:
    """The run page with one row's explanation: its progress (polled with htmx until it ends,
    then the page reloads), then the row's values and SHAP bars."""
    run = _visible_run(request, pk)
    asked = get_object_or_404(RowExplanation.objects.filter(run=run), pk=explanation)
    context = _run_context(request, run)
    context.update(explanation=asked, row_asked=asked.row)
    if asked.status == "succeeded" and asked.result:
        context["local"] = {"explanation": asked.result, "row": asked.result["local"][0],
                            "number": asked.row, "chart": local_chart(asked.result)}
    if request.htmx:
        if asked.is_finished:
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return render(request, "evaluation/run.html#local-progress", context)
    return render(request, "evaluation/run.html", context)


@login_required
@require_POST
def run_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = _visible_run(request, pk)
    return pages.form_action(
        request, form=None, call=lambda: services.run_cancel(actor=request.user, run=run),
        success="The evaluation is cancelled.",
        done=lambda r: redirect("evaluation:run-detail", pk=r.pk),
        failure=lambda status, error: render(request, "error.html", {
            "status": status, "message": error.message if error else ""}, status=status))


@login_required
def run_results(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return results_download(Run.objects.get(pk=_visible_run(request, pk).pk))
