"""Calibration: do the favourable-class probabilities match how often the class occurs?

Binning (the same rule as scikit-learn's ``calibration_curve``, which the tests use as the
oracle): ``n_bins`` bins with edges e_0 < ... < e_m; a score s goes to the first bin whose upper
edge is >= s, so bin k holds (e_k, e_k+1], the first bin also holds e_0, and 1.0 is in the last
bin. Uniform edges are ``linspace(0, 1, n_bins + 1)``; quantile edges are
``percentile(scores, linspace(0, 100, n_bins + 1))`` (numpy's linear method), so tied scores can
leave quantile bins empty. Empty bins are reported with count 0 and skipped by every figure.

ECE = sum over bins of (count / n) * |observed rate - mean score| (uniform bins; ``ece_quantile``
on quantile bins); MCE = the largest |observed rate - mean score| of a non-empty uniform bin.
Brier = mean (score - label)². Its Murphy decomposition is computed on the binned forecasts (each
score replaced by its uniform bin's mean score), for which Brier = reliability - resolution +
uncertainty exactly; the rest of the actual Brier score (within-bin variance of the scores minus
twice their within-bin covariance with the labels) is reported as ``brier_within_bin``.
Hosmer-Lemeshow is computed on the quantile bins and is informational, never a gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special
from numpy.typing import ArrayLike, NDArray

from evaluation.metrics.bias import DEFAULT_MIN_GROUP_SIZE
from evaluation.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_REPLICATES,
    BootstrapSpec,
    Tally,
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
    MetricInputError,
    Task,
    binary_data,
    json_label,
    multiclass_data,
    task_from,
)
from evaluation.metrics.results import Estimate, Figures, estimates_figures, finite

DEFAULT_BINS = 10
MAX_BINS = 100
METRICS = ("ece", "mce", "ece_quantile", "brier", "brier_reliability", "brier_resolution",
           "brier_uncertainty", "brier_within_bin")
HL_NOTE = ("Informational only, never a gate: with thousands of rows any miscalibration, however "
           "small, makes the p-value tiny, and with few rows a real one may not; judge "
           "calibration by ECE and the reliability diagram.")


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Per bin: its edges, row count, mean score and observed rate (None when empty)."""

    strategy: str  # "uniform" or "quantile"
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    mean_score: tuple[float | None, ...]
    observed_rate: tuple[float | None, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "edges": list(self.edges),
                "counts": list(self.counts), "mean_score": list(self.mean_score),
                "observed_rate": list(self.observed_rate)}


@dataclass(frozen=True)
class HosmerLemeshow:
    """The Hosmer-Lemeshow statistic on the quantile bins: sum over bins of
    (observed - expected)² / (expected * (1 - expected / count)), chi² with bins - 2 degrees of
    freedom. Bins whose expected count is 0 or equals their row count are skipped."""

    statistic: float | None
    df: int
    p_value: float | None
    bins_used: int
    gating: bool = False
    note: str = HL_NOTE

    def as_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value,
                "bins_used": self.bins_used, "gating": self.gating, "note": self.note}


@dataclass(frozen=True)
class GroupCalibration:
    label: str
    values: dict[str, str]
    count: int
    small: bool
    mean_score: float
    observed_rate: float
    ece: float

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "values": self.values, "count": self.count,
                "small": self.small, "mean_score": self.mean_score,
                "observed_rate": self.observed_rate, "ece": self.ece}


@dataclass(frozen=True)
class GroupingCalibration:
    """ECE per group of one sensitive feature (or the intersection), on the uniform bins; the
    largest ECE of the groups that are not small."""

    name: str
    features: tuple[str, ...]
    groups: tuple[GroupCalibration, ...]
    ece_max: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "features": list(self.features),
                "groups": [g.as_dict() for g in self.groups], "ece_max": self.ece_max}


@dataclass(frozen=True)
class CalibrationResult:
    task: Task
    positive_class: str | int | float | bool
    n: int
    n_bins: int
    metrics: dict[str, Estimate]
    uniform: ReliabilityDiagram
    quantile: ReliabilityDiagram
    hosmer_lemeshow: HosmerLemeshow
    min_group_size: int
    groupings: tuple[GroupingCalibration, ...]
    undefined: dict[str, str]
    bootstrap: BootstrapSpec
    kind: str = "calibration"

    def group_ece_max(self) -> float | None:
        values = [g.ece_max for g in self.groupings if g.ece_max is not None]
        return max(values) if values else None

    def figures(self) -> Figures:
        out = estimates_figures(self.metrics)
        if self.groupings:
            out["group_ece_max"] = self.group_ece_max()
            for view in self.groupings:
                out[f"group_ece_max[{view.name}]"] = view.ece_max
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "task": self.task.value,
                "positive_class": self.positive_class, "n": self.n, "n_bins": self.n_bins,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
                "reliability": {"uniform": self.uniform.as_dict(),
                                "quantile": self.quantile.as_dict()},
                "hosmer_lemeshow": self.hosmer_lemeshow.as_dict(),
                "min_group_size": self.min_group_size, "group_ece_max": self.group_ece_max(),
                "groupings": [g.as_dict() for g in self.groupings],
                "undefined": self.undefined, "bootstrap": self.bootstrap.as_dict()}


def uniform_edges(n_bins: int) -> NDArray[np.float64]:
    return np.linspace(0.0, 1.0, n_bins + 1)


def quantile_edges(scores: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
    return np.asarray(np.percentile(scores, np.linspace(0.0, 1.0, n_bins + 1) * 100),
                      dtype=np.float64)


def bin_of(scores: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.intp]:
    """The bin of each score: the first bin whose upper edge is >= the score."""
    return np.searchsorted(edges[1:-1], scores, side="left").astype(np.intp)


def _divide(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(b > 0, a / b, np.nan), dtype=np.float64)


def _ece(sums: NDArray[np.float64]) -> NDArray[np.float64]:
    """ECE per replicate from per-bin sums (count, scores, labels, ...): sum over bins of
    |labels - scores| / n, which is sum of count / n * |observed rate - mean score|."""
    return _divide(np.abs(sums[:, 2] - sums[:, 1]).sum(axis=1), sums[:, 0].sum(axis=1))


def _bin_figures(sums: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """Figures per replicate from per-bin sums of shape (replicates, 4, bins): count, sum of
    scores, sum of labels, sum of squared errors."""
    count, scores, labels, squared = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
    n = count.sum(axis=1)
    mean_score, observed = _divide(scores, count), _divide(labels, count)
    gap = np.abs(observed - mean_score)
    rate = _divide(labels.sum(axis=1), n)
    reliability = _divide(np.nansum(count * (mean_score - observed) ** 2, axis=1), n)
    resolution = _divide(np.nansum(count * (observed - rate[:, None]) ** 2, axis=1), n)
    uncertainty = rate * (1.0 - rate)
    brier = _divide(squared.sum(axis=1), n)
    return {"ece": _ece(sums),
            "mce": np.max(np.where(count > 0, gap, np.nan), axis=1, initial=-np.inf,
                          where=count > 0),
            "brier": brier, "brier_reliability": reliability,
            "brier_resolution": resolution, "brier_uncertainty": uncertainty,
            "brier_within_bin": brier - (reliability - resolution + uncertainty)}


def _diagram(strategy: str, edges: NDArray[np.float64],
             sums: NDArray[np.float64]) -> ReliabilityDiagram:
    count, scores, labels = sums[0], sums[1], sums[2]
    return ReliabilityDiagram(
        strategy=strategy, edges=tuple(edges.tolist()),
        counts=tuple(int(c) for c in count),
        mean_score=tuple(finite(v) for v in _divide(scores, count)),
        observed_rate=tuple(finite(v) for v in _divide(labels, count)))


def hosmer_lemeshow(count: NDArray[np.float64], expected: NDArray[np.float64],
                    observed: NDArray[np.float64]) -> HosmerLemeshow:
    """Hosmer-Lemeshow from per-bin row counts, summed scores (expected) and summed labels."""
    variance = expected * (1.0 - _divide(expected, count))
    used = (count > 0) & (variance > 0)
    bins_used = int(used.sum())
    df = bins_used - 2
    if df < 1:
        return HosmerLemeshow(None, df, None, bins_used)
    statistic = float(np.sum((observed[used] - expected[used]) ** 2 / variance[used]))
    return HosmerLemeshow(statistic, df, finite(scipy.special.chdtrc(df, statistic)), bins_used)


def cell_bin_sums(cells: Grouping, scores: NDArray[np.float64], labels: NDArray[np.float64],
                  bins: NDArray[np.intp], n_bins: int) -> NDArray[np.float64]:
    """Per intersection cell and uniform bin: row count, sum of scores, sum of labels, shape
    (1, cells, bins, 3). The sums of two chunks of rows add up to those of both."""
    index, size = cells.codes * n_bins + bins, cells.size * n_bins
    per_cell = np.stack([np.bincount(index, minlength=size).astype(np.float64),
                         np.bincount(index, weights=scores, minlength=size),
                         np.bincount(index, weights=labels, minlength=size)], axis=-1)
    return per_cell.reshape(1, cells.size, n_bins, 3)


def _group_calibration(groupings: Sequence[Grouping], cells: Grouping,
                       per_cell: NDArray[np.float64],
                       min_group_size: int) -> tuple[GroupingCalibration, ...]:
    out = []
    for grouping, position in views(groupings, cells):
        grouped = cell_sums_to_groups(per_cell, groupings, position)[0]  # group, bin, 3
        count = grouped[:, :, 0].sum(axis=1)
        ece = _divide(np.abs(grouped[:, :, 2] - grouped[:, :, 1]).sum(axis=1), count)
        groups = tuple(
            GroupCalibration(label=grouping.labels[g],
                             values=dict(zip(grouping.features, grouping.parts[g], strict=True)),
                             count=int(count[g]), small=bool(count[g] < min_group_size),
                             mean_score=float(grouped[g, :, 1].sum() / count[g]),
                             observed_rate=float(grouped[g, :, 2].sum() / count[g]),
                             ece=float(ece[g]))
            for g in np.flatnonzero(count > 0))
        judged = [g.ece for g in groups if not g.small]
        out.append(GroupingCalibration(grouping.name, grouping.features, groups,
                                       max(judged) if judged else None))
    return tuple(out)


def calibration(*, task: str | Task, y_true: ArrayLike, y_prob: ArrayLike,
                positive_class: Any, classes: Sequence[Any] | None = None,
                groups: Sequence[Grouping] = (), n_bins: int = DEFAULT_BINS,
                min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
                n_bootstrap: int = DEFAULT_REPLICATES, seed: int = 0,
                confidence: float = DEFAULT_CONFIDENCE) -> CalibrationResult:
    """The calibration check on the favourable class's probability (for a multiclass model: its
    column, against the other classes)."""
    kind = task_from(task)
    spec = BootstrapSpec(n_bootstrap, seed, confidence)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 2 <= n_bins <= MAX_BINS:
        raise MetricInputError(f"n_bins must be a whole number from 2 to {MAX_BINS}, got "
                               f"{n_bins!r}.")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) \
            or min_group_size < 1:
        raise MetricInputError(f"min_group_size must be a whole number of at least 1, got "
                               f"{min_group_size!r}.")
    if kind is Task.REGRESSION:
        raise MetricInputError("Calibration needs predicted probabilities; a regression model "
                               "has none.")
    if kind is Task.BINARY:
        # The threshold plays no part in calibration; any valid one will do here.
        binary = binary_data(y_true, y_prob, positive_class=positive_class, threshold=0.5)
        scores, labels, favourable = binary.prob, binary.y.astype(np.float64), \
            binary.positive_class
    else:
        multi = multiclass_data(y_true, y_prob, classes=classes)
        favourable = json_label(positive_class)
        if positive_class is None or favourable not in multi.classes:
            raise MetricInputError(f"Calibration of a multiclass model needs its favourable "
                                   f"class, one of {list(multi.classes)}: pass positive_class.")
        k = multi.classes.index(favourable)
        scores, labels = multi.prob[:, k], (multi.y == k).astype(np.float64)
    n = len(scores)
    groupings = check_groupings(groups, n)
    u_edges, q_edges = uniform_edges(n_bins), quantile_edges(scores, n_bins)
    u_bins, q_bins = bin_of(scores, u_edges), bin_of(scores, q_edges)
    squared = (scores - labels) ** 2
    rows = np.arange(n, dtype=np.uint64)
    uniform_sums, quantile_sums = tally(
        [Tally(u_bins, n_bins, (scores, labels, squared)),
         Tally(q_bins, n_bins, (scores, labels))], rows=rows, spec=spec)
    cells = intersect(groupings) if groupings else None
    per_cell = cell_bin_sums(cells, scores, labels, u_bins, n_bins) if cells else None
    return calibration_result(
        task=kind, positive_class=favourable, n_bins=n_bins, q_edges=q_edges,
        uniform_sums=uniform_sums, quantile_sums=quantile_sums, groupings=groupings,
        per_cell=per_cell, min_group_size=min_group_size, spec=spec)


def calibration_result(*, task: Task, positive_class: str | int | float | bool, n_bins: int,
                       q_edges: NDArray[np.float64], uniform_sums: NDArray[np.float64],
                       quantile_sums: NDArray[np.float64], groupings: Sequence[Grouping],
                       per_cell: NDArray[np.float64] | None, min_group_size: int,
                       spec: BootstrapSpec) -> CalibrationResult:
    """The calibration figures from (merged) sums: ``uniform_sums`` and ``quantile_sums`` as
    ``bootstrap.tally`` returns them, ``per_cell`` as ``cell_bin_sums``."""
    kind, favourable = task, positive_class
    n = int(uniform_sums[0, 0].sum())
    u_edges = uniform_edges(n_bins)
    figures = _bin_figures(uniform_sums)
    figures["ece_quantile"] = _ece(quantile_sums)
    metrics = {name: estimates(figures[name][:, None], spec)[0] for name in METRICS}
    undefined = {name: "no bin has rows" for name, e in metrics.items() if e.value is None}
    grouping_figures = _group_calibration(groupings, intersect(groupings), per_cell,
                                          min_group_size) \
        if groupings and per_cell is not None else ()
    for view in grouping_figures:
        if view.ece_max is None:
            undefined[f"group_ece_max[{view.name}]"] = (f"no group of {view.name} has at least "
                                                        f"{min_group_size} rows")
    return CalibrationResult(
        task=kind, positive_class=favourable, n=n, n_bins=n_bins, metrics=metrics,
        uniform=_diagram("uniform", u_edges, uniform_sums[0]),
        quantile=_diagram("quantile", q_edges, quantile_sums[0]),
        hosmer_lemeshow=hosmer_lemeshow(*quantile_sums[0, :3]),
        min_group_size=min_group_size, groupings=grouping_figures, undefined=undefined,
        bootstrap=spec)
