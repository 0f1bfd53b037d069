"""Template tags of the evaluation panels on registry pages (which cannot query evaluation)."""

from __future__ import annotations

from typing import Any

from django import template

from core import permissions
from evaluation.models import Dataset, Run

register = template.Library()


@register.simple_tag
def model_datasets(model: Any) -> list[Dataset]:
    return list(model.datasets.select_related("uploaded_by")[:50])


@register.simple_tag
def version_runs(version: Any) -> list[Run]:
    return list(version.evaluation_runs.select_related("dataset", "launched_by")
                .defer("results")[:20])


@register.simple_tag
def may_upload_dataset(user: Any, model: Any) -> bool:
    return not permissions.reason_cannot_upload_dataset(user, model)


@register.simple_tag
def may_launch_evaluation(user: Any, version: Any) -> bool:
    from governance.gates import case_for

    # A model with no ONNX form is evaluated on its predictions files, with no artifact.
    return (version.has_artifact or not version.model.has_onnx_form) \
        and permissions.can_launch_evaluation(user, case_for(version))


@register.simple_tag
def version_against_approved(version: Any) -> Any:
    """The version's latest runs against the previous approved version's (evaluation.compare)."""
    from evaluation.compare import version_comparison

    return version_comparison(version)
