"""Comparison pages: two runs side by side, and a version against the previous approved version.
Thin: the comparison is evaluation.compare's, the charts evaluation.compare_charts'."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from core.errors import ValidationFailed
from core.http import AuthenticatedHttpRequest
from evaluation import compare
from evaluation.compare_charts import paired_charts
from evaluation.models import Run, RunStatus
from registry.models import ModelVersion, RegisteredModel

# The runs offered in the picker (newest first).
PICKER_RUNS = 200


def _side_name(run: Run) -> str:
    return f"Run {run.pk} ({run.version.model.slug} v{run.version.number})"


def _sections(comparison: compare.RunComparison) -> list[dict[str, Any]]:
    """Per check: the two statuses, the figure rows, the paired charts."""
    drawn = paired_charts(comparison.left.results, comparison.right.results,
                          left_name=_side_name(comparison.left),
                          right_name=_side_name(comparison.right))
    return [{"check": check, "charts": [c.svg for c in drawn if c.check == check.name]}
            for check in comparison.checks]


@login_required
def run_compare(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Pick two runs (of a model's or a version's runs, ``?model=`` or ``?version=``) and see
    them side by side; ``?left=&right=`` names the two."""
    runs = (Run.objects.visible_to(request.user).filter(status=RunStatus.SUCCEEDED)
            .select_related("version__model", "dataset").defer("results"))
    model = version = None
    if request.GET.get("model"):
        model = get_object_or_404(RegisteredModel.objects.visible_to(request.user),
                                  slug=request.GET["model"])
        runs = runs.filter(version__model=model)
    if request.GET.get("version", "").isdigit():
        version = get_object_or_404(ModelVersion.objects.visible_to(request.user)
                                    .select_related("model"), pk=int(request.GET["version"]))
        runs = runs.filter(version__model=version.model)
    context: dict[str, Any] = {"choices": list(runs[:PICKER_RUNS]), "model": model,
                               "version": version, "left_id": request.GET.get("left", ""),
                               "right_id": request.GET.get("right", "")}
    if "left" not in request.GET and "right" not in request.GET:
        return render(request, "evaluation/compare.html", context)
    try:
        left, right = compare.runs_to_compare(request.user, request.GET.get("left"),
                                              request.GET.get("right"))
    except ValidationFailed as error:  # the picker stays, with what to fix (a 404 does not)
        context["error"] = error.message
        return render(request, "evaluation/compare.html", context, status=error.status)
    comparison = compare.compare_runs(left, right)
    context.update(comparison=comparison, sections=_sections(comparison),
                   counts=compare.counts(comparison.checks))
    return render(request, "evaluation/compare.html", context)


@login_required
def version_compare(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    """A version's latest runs against the previous approved version's."""
    version = get_object_or_404(ModelVersion.objects.visible_to(request.user)
                                .select_related("model"), model__slug=slug, number=number)
    result = compare.version_comparison(version)
    pairings = [{"pairing": p, "sections": _sections(p.comparison),
                 "counts": compare.counts(p.comparison.checks)} for p in result.pairings]
    return render(request, "evaluation/version_compare.html",
                  {"version": version, "model": version.model, "result": result,
                   "pairings": pairings})
