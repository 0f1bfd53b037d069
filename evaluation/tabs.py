"""The model page's evaluations tab (core.pages.Tab, added in EvaluationConfig.ready): the
model's evaluation data, its versions' runs, and two runs picked to compare side by side."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core import pages, permissions
from evaluation.models import Run, RunStatus
from registry.models import RegisteredModel
from registry.tabs import MODEL_PAGE

RUNS_SHOWN = 50


def _evaluations(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    runs = list(Run.objects.visible_to(request.user).filter(version__model=model)
                .select_related("version", "dataset", "launched_by").defer("results")
                .order_by("-created_at", "-pk")[:RUNS_SHOWN])
    return {
        "datasets": list(model.datasets.select_related("uploaded_by")[:50]),
        "may_upload": not permissions.reason_cannot_upload_dataset(request.user, model),
        "runs": runs,
        "comparable": [r for r in runs if r.status == RunStatus.SUCCEEDED],
    }


def register() -> None:
    pages.add_tab(MODEL_PAGE, pages.Tab("evaluations", "Evaluations",
                                        "evaluation/_model_tab.html", _evaluations, order=20))
