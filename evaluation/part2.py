"""Part 2's checks as a run computes them: robustness, explainability, drift, mitigation what-if.

The engine (evaluation.engine) scores the evaluation rows once and calls ``compute`` for each
part-2 check it was asked for, with a :class:`Scoring` that holds the ONNX session's predict
callable, the base scores and the labels as the metric functions take them (1 = the favourable
class). Each returns the metric module's frozen result (``as_dict()``, ``figures()``); the pure
maths is in ``evaluation.metrics`` (docs/evaluation-part2.md). No Django here.

``explain_row`` explains one row of the evaluation data on its own (the run page's local
explanation), with the run's seed and background, so it agrees with what the run recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics import MetricInputError
from evaluation.metrics import drift as drift_metrics
from evaluation.metrics import explain as explain_metrics
from evaluation.metrics import mitigation as mitigation_metrics
from evaluation.metrics import robustness as robustness_metrics
from evaluation.metrics.groups import Grouping
from evaluation.metrics.scoring import PredictFn, inputs_accepting_missing

CHECKS = ("robustness", "explainability", "drift", "mitigation")
# Which checks need what (the launch refuses a run that lacks it, with the reason).
MODEL_TASKS = {"robustness": ("binary_classification", "regression"),
               "explainability": ("binary_classification", "regression"),
               "drift": ("binary_classification", "multiclass_classification", "regression"),
               "mitigation": ("binary_classification",)}
DIRECTIONS = {"increasing": 1, "decreasing": -1}
# Rows a local explanation averages nothing over: the row itself is explained on its own.
LOCAL_SAMPLE_ROWS = 1


@dataclass(frozen=True)
class Scoring:
    """What the part-2 checks share: the model's inputs, a predict callable returning the
    favourable class's probability (or the regression value), the base scores of the
    evaluation rows, and the labels as 1 = favourable (or the target)."""

    task: str
    columns: tuple[str, ...]
    input_specs: tuple[Mapping[str, Any], ...]
    model_bytes: bytes
    predict: PredictFn
    scores: np.ndarray
    labels: np.ndarray
    threshold: float | None
    favourable_index: int  # the favourable class's column of the probabilities


@dataclass(frozen=True)
class Settings:
    """A run's part-2 settings, fixed at launch (evaluation.services)."""

    seed: int = 0
    shap_rows: int = explain_metrics.SAMPLE_SIZE
    monotone: Mapping[str, str] | None = None  # feature -> "increasing" / "decreasing"
    mitigation_constraint: str = "demographic_parity"
    disparity_limit: float | None = None


def compute(check: str, *, scoring: Scoring, frame: pd.DataFrame, settings: Settings,
            groupings: Sequence[Grouping] = (), sensitive_columns: Sequence[str] = (),
            reference: pd.DataFrame | None = None) -> Any:
    """The result of part-2 ``check`` on the evaluation ``frame``."""
    if scoring.task not in MODEL_TASKS[check]:
        raise MetricInputError(f"The {check} check is computed for "
                               f"{' and '.join(t.replace('_', ' ') for t in MODEL_TASKS[check])} "
                               "models only.")
    if check == "robustness":
        return _robustness(scoring, frame, settings)
    if check == "explainability":
        return explain_metrics.explain(
            frame, scoring.predict, **_explain_args(scoring, settings, reference),
            groups=shap_groups(groupings), sensitive_columns=tuple(sensitive_columns),
            sample_size=settings.shap_rows)
    if check == "drift":
        if reference is None:
            raise MetricInputError("The drift check compares the evaluation data with the "
                                   "reference data set, and this run has none.")
        reference_scores = scoring.predict(reference[list(scoring.columns)]) \
            if scoring.task != "multiclass_classification" else None
        return drift_metrics.drift_frames(
            reference, frame, scoring.columns, reference_scores=reference_scores,
            evaluation_scores=scoring.scores if reference_scores is not None else None)
    if check == "mitigation":
        if not groupings:
            raise MetricInputError("The mitigation what-if needs a sensitive feature.")
        rows = mitigation_metrics.sample_positions(len(frame), settings.seed)
        return mitigation(scores=scoring.scores[rows], labels=scoring.labels[rows],
                          groupings=[replace(g, codes=np.asarray(g.codes)[rows])
                                     for g in groupings],
                          settings=settings, threshold=scoring.threshold, total=len(frame),
                          gathered="one pass")
    raise MetricInputError(f"Unknown part-2 check {check!r}.")


def shap_groups(groupings: Sequence[Grouping]) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """Every sensitive feature's groups, as the explanation takes them."""
    return {g.name: (np.asarray(g.codes), g.labels) for g in groupings}


def mitigation(*, scores: np.ndarray, labels: np.ndarray, groupings: Sequence[Grouping],
               settings: Settings, threshold: float | None, total: int,
               gathered: str) -> mitigation_metrics.MitigationByFeature:
    """The what-if for every sensitive feature, on the rows the ``scores``, ``labels`` and
    ``groupings`` hold: those ``mitigation_metrics.sample_positions`` chose of the data set's
    ``total`` rows, ``gathered`` in "one pass" or from "chunks"."""
    try:
        return mitigation_metrics.what_if_per_feature(
            scores, labels, [(g.name, np.asarray(g.codes), g.labels) for g in groupings],
            constraint=settings.mitigation_constraint,
            threshold=float(threshold if threshold is not None else 0.5),
            disparity_limit=settings.disparity_limit,
            sample={"rows": total, "analysed": len(scores), "seed": settings.seed,
                    "drawn": "all rows" if len(scores) == total else "seeded",
                    "gathered": gathered})
    except ValueError as problem:
        raise MetricInputError(str(problem)) from None


def _robustness(scoring: Scoring, frame: pd.DataFrame, settings: Settings) -> Any:
    monotone = {name: DIRECTIONS[direction]
                for name, direction in (settings.monotone or {}).items()}
    regression = scoring.task == "regression"
    return robustness_metrics.robustness(
        frame, scoring.predict,
        data_profile=robustness_metrics.profile(frame, scoring.columns),
        labels=scoring.labels, task="regression" if regression else "classification",
        threshold=scoring.threshold, missing_columns=inputs_accepting_missing(scoring.input_specs),
        monotone=monotone, settings=robustness_metrics.Settings(seed=settings.seed),
        base_scores=scoring.scores)


def _explain_args(scoring: Scoring, settings: Settings,
                  reference: pd.DataFrame | None) -> dict[str, Any]:
    # The background is the reference (training) data when the run has one: SHAP values say
    # how a row differs from what the model was trained on. Otherwise the evaluation data.
    return {"columns": scoring.columns, "onnx_model": scoring.model_bytes,
            "input_specs": list(scoring.input_specs), "seed": settings.seed,
            "background": reference, "favourable_index": scoring.favourable_index}


def explain_row(row: int, *, scoring: Scoring, frame: pd.DataFrame, settings: Settings,
                reference: pd.DataFrame | None = None) -> explain_metrics.Explanation:
    """One row of ``frame`` (0-based position) explained on its own, against the run's
    background and seed: the explanation's ``local[0]`` (its ``method`` and ``output_space``
    say what the contributions are in)."""
    if not 0 <= row < len(frame):
        raise MetricInputError(f"Row {row} is not in the evaluation data: choose a row from 0 to "
                               f"{len(frame) - 1}.")
    return explain_metrics.explain(
        frame, scoring.predict, **_explain_args(scoring, settings, reference),
        local_rows=[row], sample_size=LOCAL_SAMPLE_ROWS)
