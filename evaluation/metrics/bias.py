"""Bias: figures per group of each sensitive feature and of their intersection, and the
disparities between groups as fairlearn defines them (``between_groups``: largest minus smallest
group value, smallest over largest).

Everything comes from one weighted ``np.bincount`` per bootstrap replicate over (intersection
cell x outcome): the groups of one feature are sums of intersection cells. fairlearn's
MetricFrame slices a DataFrame per group and is hundreds of times slower on a million rows
(bench/evaluation.py); the tests hold these figures to fairlearn's within 1e-9.

Two choices differ from calling fairlearn on all rows, both deliberate and documented:
groups smaller than ``min_group_size`` are reported and flagged ``small`` but left out of the
disparities (flagged, not judged), and a rate a group cannot have (a TPR without rows of the
favourable class) is None and left out, where fairlearn would count it as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluation.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_REPLICATES,
    BootstrapSpec,
    Tally,
    estimate,
    estimates,
    tally,
)
from evaluation.metrics.groups import (
    Grouping,
    cell_sums_to_groups,
    check_groupings,
    intersect,
    views,
)
from evaluation.metrics.inputs import (
    BinaryData,
    MetricInputError,
    MulticlassData,
    RegressionData,
    Task,
    json_label,
    task_data,
    task_from,
)
from evaluation.metrics.results import Estimate, Figures, estimates_figures

DEFAULT_MIN_GROUP_SIZE = 30
FOUR_FIFTHS = 0.8

CLASSIFICATION_METRICS = ("selection_rate", "tpr", "fpr", "precision", "accuracy",
                          "impact_ratio")
REGRESSION_METRICS = ("mae", "rmse", "mean_prediction", "mean_error")
# disparity name -> (group metric, "difference" or "ratio")
CLASSIFICATION_DISPARITIES = {
    "dp_difference": ("selection_rate", "difference"),
    "dp_ratio": ("selection_rate", "ratio"),
    "tpr_difference": ("tpr", "difference"),
    "tpr_ratio": ("tpr", "ratio"),
    "fpr_difference": ("fpr", "difference"),
    "fpr_ratio": ("fpr", "ratio"),
    "precision_difference": ("precision", "difference"),
    "accuracy_difference": ("accuracy", "difference"),
}
REGRESSION_DISPARITIES = {
    "mae_difference": ("mae", "difference"),
    "rmse_difference": ("rmse", "difference"),
    "mean_prediction_difference": ("mean_prediction", "difference"),
}
_NEEDS = {"tpr": "rows labelled with the favourable class",
          "fpr": "rows labelled with another class",
          "precision": "favourable predictions"}


@dataclass(frozen=True, eq=False)
class BiasTally:
    """The sufficient statistics of a bias check: weighted sums per (replicate, intersection
    cell, channel). Classification channels are the 8 outcomes ``4*y + 2*pred + correct``
    (y, pred: favourable class or not; correct: label equals prediction); regression channels
    are count, sum of error, of |error|, of error², of prediction. Tallies of two chunks of rows
    ``merge`` into the tally of both."""

    task: Task
    sums: NDArray[np.float64]  # (1 + replicates, cells, channels)
    spec: BootstrapSpec
    positive_class: str | int | float | bool | None
    threshold: float | None

    def merge(self, other: BiasTally) -> BiasTally:
        if (other.task, other.spec, other.positive_class, other.threshold) != \
                (self.task, self.spec, self.positive_class, self.threshold) \
                or other.sums.shape != self.sums.shape:
            raise ValueError("Only tallies of the same check over the same groups merge.")
        return BiasTally(self.task, self.sums + other.sums, self.spec, self.positive_class,
                         self.threshold)


@dataclass(frozen=True)
class GroupFigures:
    """One group: its size, whether it is too small to judge, and its figures."""

    label: str
    values: dict[str, str]  # feature -> value
    count: int
    small: bool
    metrics: dict[str, Estimate]

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "values": self.values, "count": self.count,
                "small": self.small,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class GroupingFigures:
    """One sensitive feature (or the intersection): its groups and the disparities among the
    groups that are not small."""

    name: str
    features: tuple[str, ...]
    groups: tuple[GroupFigures, ...]
    disparities: dict[str, Estimate]
    undefined: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "features": list(self.features),
                "groups": [g.as_dict() for g in self.groups],
                "disparities": {k: v.as_dict() for k, v in self.disparities.items()},
                "undefined": self.undefined}


@dataclass(frozen=True)
class BiasResult:
    """Group figures and disparities per sensitive feature and their intersection; the summary
    is the worst disparity over all of them (largest difference, smallest ratio)."""

    task: Task
    positive_class: str | int | float | bool | None
    threshold: float | None
    min_group_size: int
    groupings: tuple[GroupingFigures, ...]
    summary: dict[str, Estimate]
    four_fifths_pass: bool | None
    undefined: dict[str, str]
    bootstrap: BootstrapSpec
    kind: str = "bias"

    def figures(self) -> Figures:
        out = estimates_figures(self.summary)
        if self.task is not Task.REGRESSION:
            out["four_fifths_pass"] = (None if self.four_fifths_pass is None
                                       else float(self.four_fifths_pass))
        out["small_groups"] = float(sum(g.small for v in self.groupings for g in v.groups))
        for view in self.groupings:
            out.update(estimates_figures(view.disparities, f"[{view.name}]"))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "task": self.task.value,
                "positive_class": self.positive_class, "threshold": self.threshold,
                "min_group_size": self.min_group_size,
                "summary": {k: v.as_dict() for k, v in self.summary.items()},
                "four_fifths_pass": self.four_fifths_pass,
                "groupings": [g.as_dict() for g in self.groupings],
                "undefined": self.undefined, "bootstrap": self.bootstrap.as_dict()}


def bias_tally(data: BinaryData | MulticlassData | RegressionData, cells: Grouping,
               spec: BootstrapSpec, *, positive_class: Any = None,
               first_row: int = 0) -> BiasTally:
    """Tally rows whose first row is row ``first_row`` of the data set (the bootstrap weights
    depend on the row number). ``cells`` is the intersection of the sensitive features."""
    rows = np.arange(first_row, first_row + data.n, dtype=np.uint64)
    if isinstance(data, RegressionData):
        error = data.pred - data.y
        (sums,) = tally([Tally(cells.codes, cells.size,
                               (error, np.abs(error), error * error, data.pred))],
                        rows=rows, spec=spec)
        return BiasTally(Task.REGRESSION, np.ascontiguousarray(sums.transpose(0, 2, 1)), spec,
                         None, None)
    if isinstance(data, BinaryData):
        y_pos, pred_pos = data.y.astype(np.intp), data.pred.astype(np.intp)
        correct = (y_pos == pred_pos).astype(np.intp)
        task, favourable, cut = Task.BINARY, data.positive_class, data.threshold
    else:
        favourable = json_label(positive_class)
        if positive_class is None or favourable not in data.classes:
            raise MetricInputError(f"Bias on a multiclass model needs its favourable class, one "
                                   f"of {list(data.classes)}: pass positive_class.")
        k = data.classes.index(favourable)
        y_pos = (data.y == k).astype(np.intp)
        pred_pos = (data.pred == k).astype(np.intp)
        correct = (data.y == data.pred).astype(np.intp)
        task, cut = Task.MULTICLASS, None
    index = cells.codes * 8 + y_pos * 4 + pred_pos * 2 + correct
    (sums,) = tally([Tally(index, cells.size * 8)], rows=rows, spec=spec)
    return BiasTally(task, sums.reshape(sums.shape[0], cells.size, 8), spec, favourable, cut)


def _divide(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(b > 0, a / b, np.nan), dtype=np.float64)


def _group_metrics(task: Task, sums: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per-group figures, shape (1 + replicates, groups), NaN where undefined."""
    if task is Task.REGRESSION:
        n = sums[..., 0]
        return {"mae": _divide(sums[..., 2], n),
                "rmse": np.sqrt(_divide(sums[..., 3], n)),
                "mean_prediction": _divide(sums[..., 4], n),
                "mean_error": _divide(sums[..., 1], n)}
    c = sums.reshape(*sums.shape[:2], 2, 2, 2)  # y, pred, correct
    n = c.sum(axis=(2, 3, 4))
    tp, fp = c[:, :, 1, 1].sum(axis=-1), c[:, :, 0, 1].sum(axis=-1)
    fn, tn = c[:, :, 1, 0].sum(axis=-1), c[:, :, 0, 0].sum(axis=-1)
    return {"selection_rate": _divide(tp + fp, n), "tpr": _divide(tp, tp + fn),
            "fpr": _divide(fp, fp + tn), "precision": _divide(tp, tp + fp),
            "accuracy": _divide(c[..., 1].sum(axis=(2, 3)), n)}


def _spread(values: NDArray[np.float64], how: str) -> NDArray[np.float64]:
    """Per replicate (row), max - min or min / max over the groups (columns) with a defined
    value; NaN with fewer than two such groups, or for a ratio whose max is 0."""
    defined = (~np.isnan(values)).sum(axis=1)
    high = np.max(np.where(np.isnan(values), -np.inf, values), axis=1, initial=-np.inf)
    low = np.min(np.where(np.isnan(values), np.inf, values), axis=1, initial=np.inf)
    out = high - low if how == "difference" else _divide(low, high)
    return np.asarray(np.where(defined >= 2, out, np.nan), dtype=np.float64)


def group_figures(task: Task, sums: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Per-group figures from a tally's sums (shape (replicates, groups, channels)): what a
    check over live outcomes (monitoring) computes from its own mergeable sums."""
    return _group_metrics(task, sums)


def spread(values: NDArray[np.float64], how: str) -> NDArray[np.float64]:
    """The disparity among groups (columns) per replicate (row): ``"difference"`` or
    ``"ratio"``, as the bias check computes it."""
    return _spread(values, how)


def _why_undefined(metric: str, how: str, eligible: NDArray[np.float64], name: str,
                   min_group_size: int) -> str:
    if eligible.shape[1] < 2:
        return f"fewer than two groups of {name} have at least {min_group_size} rows"
    defined = int((~np.isnan(eligible[0])).sum())
    if defined < 2:
        need = f" (it needs {_NEEDS[metric]})" if metric in _NEEDS else ""
        return f"{metric} is defined in fewer than two groups of {name}{need}"
    if how == "ratio":
        return f"every group of {name} has {metric} 0, so the ratio is 0/0"
    return f"{metric} is undefined"


def _grouping_figures(tally_: BiasTally, grouping: Grouping, sums: NDArray[np.float64],
                      min_group_size: int,
                      ) -> tuple[GroupingFigures, dict[str, NDArray[np.float64]]]:
    spec = tally_.spec
    counts = sums[0].sum(axis=-1) if tally_.task is not Task.REGRESSION else sums[0, :, 0]
    present = np.flatnonzero(counts > 0)  # groups no row falls into are not reported
    sums = sums[:, present]
    counts = counts[present]
    eligible = counts >= min_group_size
    metrics = _group_metrics(tally_.task, sums)
    table = (CLASSIFICATION_DISPARITIES if tally_.task is not Task.REGRESSION
             else REGRESSION_DISPARITIES)
    if tally_.task is not Task.REGRESSION:
        rates = metrics["selection_rate"][:, eligible]
        top = np.max(np.where(np.isnan(rates), -np.inf, rates), axis=1, initial=-np.inf)
        metrics["impact_ratio"] = _divide(metrics["selection_rate"], top[:, None])
    per_metric = {name: estimates(values, spec) for name, values in metrics.items()}
    groups = tuple(
        GroupFigures(label=grouping.labels[g], values=dict(zip(grouping.features,
                                                               grouping.parts[g], strict=True)),
                     count=int(counts[i]), small=not bool(eligible[i]),
                     metrics={name: per_metric[name][i] for name in metrics})
        for i, g in enumerate(present))
    disparities: dict[str, Estimate] = {}
    replicates: dict[str, NDArray[np.float64]] = {}
    undefined: dict[str, str] = {}
    for name, (metric, how) in table.items():
        values = metrics[metric][:, eligible]
        spread = _spread(values, how)
        replicates[name] = spread
        disparities[name] = estimate(spread, spec)
        if disparities[name].value is None:
            undefined[name] = _why_undefined(metric, how, values, grouping.name, min_group_size)
    if tally_.task is not Task.REGRESSION:
        # The worse of the TPR and FPR figures; a component that is undefined is left out (an
        # FPR ratio of 0/0 means no group has false positives: no disparity to report there).
        replicates["eo_difference"] = np.fmax(replicates["tpr_difference"],
                                              replicates["fpr_difference"])
        replicates["eo_ratio"] = np.fmin(replicates["tpr_ratio"], replicates["fpr_ratio"])
        for name, parts in (("eo_difference", ("tpr_difference", "fpr_difference")),
                            ("eo_ratio", ("tpr_ratio", "fpr_ratio"))):
            disparities[name] = estimate(replicates[name], spec)
            if disparities[name].value is None:
                undefined[name] = "; ".join(undefined[p] for p in parts if p in undefined)
        replicates["four_fifths_min_ratio"] = replicates["dp_ratio"]
        disparities["four_fifths_min_ratio"] = disparities["dp_ratio"]
        if "dp_ratio" in undefined:
            undefined["four_fifths_min_ratio"] = undefined["dp_ratio"]
    view = GroupingFigures(name=grouping.name, features=grouping.features, groups=groups,
                           disparities=disparities, undefined=undefined)
    return view, replicates


def bias_result(tally_: BiasTally, groupings: Sequence[Grouping], cells: Grouping,
                min_group_size: int) -> BiasResult:
    """The bias figures from a (merged) tally over the intersection ``cells`` of
    ``groupings``."""
    figures, replicates = [], []
    for grouping, position in views(groupings, cells):
        sums = cell_sums_to_groups(tally_.sums, groupings, position)
        view, reps = _grouping_figures(tally_, grouping, sums, min_group_size)
        figures.append(view)
        replicates.append(reps)
    summary: dict[str, Estimate] = {}
    undefined: dict[str, str] = {}
    for name in replicates[0]:
        stacked = np.stack([r[name] for r in replicates], axis=1)
        worst = np.where(np.isnan(stacked), -np.inf if "difference" in name else np.inf,
                         stacked)
        combined = worst.max(axis=1) if "difference" in name else worst.min(axis=1)
        combined = np.where(np.isinf(combined), np.nan, combined)
        summary[name] = estimate(combined, tally_.spec)
        if summary[name].value is None:
            undefined[name] = "; ".join(sorted({v.undefined[name] for v in figures
                                                if name in v.undefined}))
    ratio = summary["four_fifths_min_ratio"].value if "four_fifths_min_ratio" in summary \
        else None
    return BiasResult(task=tally_.task, positive_class=tally_.positive_class,
                      threshold=tally_.threshold, min_group_size=min_group_size,
                      groupings=tuple(figures), summary=summary,
                      four_fifths_pass=None if ratio is None else ratio >= FOUR_FIFTHS,
                      undefined=undefined, bootstrap=tally_.spec)


def bias(*, task: str | Task, y_true: ArrayLike, groups: Sequence[Grouping],
         y_prob: ArrayLike | None = None, y_pred: ArrayLike | None = None,
         positive_class: Any = None, threshold: float | None = None,
         classes: Sequence[Any] | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
         n_bootstrap: int = DEFAULT_REPLICATES, seed: int = 0,
         confidence: float = DEFAULT_CONFIDENCE) -> BiasResult:
    """The bias check. Classifiers: per group count, selection rate, TPR, FPR, precision,
    accuracy and impact ratio (selection rate over the highest eligible group's), and the
    demographic-parity, equalized-odds and four-fifths figures; a multiclass model is judged on
    its favourable class against the rest (accuracy stays multiclass). Regression: per group
    MAE, RMSE, mean prediction and mean error, and the largest differences."""
    kind = task_from(task)
    spec = BootstrapSpec(n_bootstrap, seed, confidence)
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) \
            or min_group_size < 1:
        raise MetricInputError(f"min_group_size must be a whole number of at least 1, got "
                               f"{min_group_size!r}.")
    data = task_data(kind, y_true, y_prob=y_prob, y_pred=y_pred, positive_class=positive_class,
                     threshold=threshold, classes=classes)
    if not groups:
        raise MetricInputError("The bias check needs at least one sensitive feature.")
    groupings = check_groupings(groups, data.n)
    cells = intersect(groupings)
    tally_ = bias_tally(data, cells, spec, positive_class=positive_class)
    return bias_result(tally_, groupings, cells, min_group_size)
