"""Performance: how well the model predicts, with bootstrap intervals.

Binary: accuracy, precision, recall, F1 at the model's threshold (favourable when
``probability >= threshold``), ROC AUC, PR AUC (average precision, scikit-learn's step-wise
``average_precision_score``, not the trapezoidal area), log loss, the confusion matrix, and ROC
and PR curves for charts. Multiclass: the same one-vs-rest per class, their macro averages
(over the classes where defined), accuracy and log loss over all classes. Regression: RMSE, MAE,
R².

The rows are sorted by score once; every figure of a bootstrap replicate then comes from one
pass over the sorted rows with that replicate's weights (``bootstrap.poisson_weights``), tied
scores handled as scikit-learn handles them (a tie is one step of the curves).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evaluation.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_REPLICATES,
    BootstrapSpec,
    estimates,
    ranked_sums,
)
from evaluation.metrics.inputs import (
    BinaryData,
    MulticlassData,
    RegressionData,
    Task,
    task_data,
    task_from,
)
from evaluation.metrics.results import Estimate, Figures, estimates_figures

# Curves for charts keep at most this many points, spread evenly along the curve.
CURVE_POINTS = 200
BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss")
CLASS_METRICS = ("precision", "recall", "f1", "roc_auc", "pr_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")


@dataclass(frozen=True)
class Curve:
    """Points of a ROC or PR curve, one per distinct threshold (thinned for charts)."""

    x_name: str
    y_name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    thresholds: tuple[float | None, ...]  # None: the start of the ROC curve (nothing favourable)

    def as_dict(self) -> dict[str, Any]:
        return {"x_name": self.x_name, "y_name": self.y_name, "x": list(self.x),
                "y": list(self.y), "thresholds": list(self.thresholds)}


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of rows by true label (rows) and predicted label (columns), in ``labels`` order;
    for binary classification the order is (other class, favourable class)."""

    labels: tuple[str | int | float | bool | None, ...]
    counts: tuple[tuple[int, ...], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "counts": [list(row) for row in self.counts]}


@dataclass(frozen=True)
class ClassFigures:
    """One class of a multiclass model, against the rest."""

    label: str | int | float | bool
    support: int  # rows labelled with the class
    metrics: dict[str, Estimate]

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "support": self.support,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class PerformanceResult:
    task: Task
    n: int
    metrics: dict[str, Estimate]
    confusion: ConfusionMatrix | None
    per_class: tuple[ClassFigures, ...]
    curves: dict[str, Curve]
    positive_class: str | int | float | bool | None
    threshold: float | None
    undefined: dict[str, str]
    bootstrap: BootstrapSpec
    kind: str = "performance"
    # A chunked run whose scores became score cells (evaluation.metrics.chunks): how far each
    # ROC AUC can be from the exact one, e.g. {"roc_auc_max_error": 2e-7}; empty when exact.
    ranking_error: dict[str, float] = field(default_factory=dict)

    def figures(self) -> Figures:
        out = estimates_figures(self.metrics)
        out["n"] = float(self.n)
        out.update(self.ranking_error)
        for figures in self.per_class:
            out.update(estimates_figures(figures.metrics, f"[{figures.label}]"))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "task": self.task.value, "n": self.n,
                "positive_class": self.positive_class, "threshold": self.threshold,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
                "confusion": self.confusion.as_dict() if self.confusion else None,
                "per_class": [c.as_dict() for c in self.per_class],
                "curves": {k: v.as_dict() for k, v in self.curves.items()},
                "undefined": self.undefined, "bootstrap": self.bootstrap.as_dict(),
                **({"ranking_error": self.ranking_error} if self.ranking_error else {})}


def _divide(a: NDArray[np.float64] | float, b: NDArray[np.float64] | float) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) > 0, np.asarray(a) / np.asarray(b), np.nan)


def _dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """a · b without BLAS: OpenBLAS threads its dot product above 10,000 elements, and on a
    busy machine waking those threads costs milliseconds per call, ~1000x the work."""
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True, eq=False)
class _Ranked:
    """Rows of one score column sorted by descending score, split into runs of tied scores."""

    order: NDArray[np.intp]  # row numbers in sorted order
    positive: NDArray[np.float64]  # 1.0 where the row is of the class, in sorted order
    ends: NDArray[np.intp] | None  # last sorted position of each run; None: no ties
    scores: NDArray[np.float64]  # the score of each run, descending

    @classmethod
    def of(cls, scores: NDArray[np.float64], positive: NDArray[Any]) -> _Ranked:
        order = np.argsort(-scores, kind="stable").astype(np.intp)
        ordered = scores[order]
        ends = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True]).astype(np.intp)
        return cls(order, np.asarray(positive[order], dtype=np.float64),
                   None if len(ends) == len(order) else ends, ordered[ends])

    def cumulative(self, weights: NDArray[np.float64] | None,
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Weighted positives and negatives scoring at least each run's score (``weights`` in
        sorted order): the true and false positives at each distinct threshold."""
        if weights is None:
            tp = np.cumsum(self.positive)
            fp = np.arange(1.0, len(tp) + 1.0) - tp
        else:
            tp = np.cumsum(self.positive * weights)
            fp = np.cumsum(weights) - tp
        if self.ends is None:
            return tp, fp
        return tp[self.ends], fp[self.ends]


def ranking_figures(tp: NDArray[np.float64], fp: NDArray[np.float64]) -> tuple[float, float]:
    """ROC AUC (the trapezoidal area under the ROC curve: the Mann-Whitney statistic with ties
    counting one half) and average precision (sum over thresholds of the recall gained times
    the precision), from true and false positives at each distinct threshold, descending; NaN
    when undefined."""
    p, n = tp[-1], fp[-1]
    gained = np.diff(tp, prepend=0.0)
    auc = np.nan
    if p > 0 and n > 0:
        auc = float((p * n - _dot(gained, fp) + 0.5 * _dot(gained, np.diff(fp, prepend=0.0)))
                    / (p * n))
    # tp + fp is a whole number; where it is 0 so is tp, and max(., 1) keeps 0 / 1 = 0.
    ap = _dot(gained, tp / np.maximum(tp + fp, 1.0)) / p if p > 0 else np.nan
    return auc, ap


def counts_figures(tp: float, fp: float, fn: float, tn: float) -> list[float]:
    """Accuracy, precision, recall, F1 from confusion counts (NaN where a denominator is 0)."""
    return [float(_divide(tp + tn, tp + fp + fn + tn)), float(_divide(tp, tp + fp)),
            float(_divide(tp, tp + fn)), float(_divide(2 * tp, 2 * tp + fp + fn))]


def log_losses(prob_of_label: NDArray[np.float64]) -> NDArray[np.float64]:
    """-log of the probability given to the true label, clipped to [eps, 1 - eps] with float64's
    eps as scikit-learn's log_loss does."""
    eps = np.finfo(np.float64).eps
    return np.asarray(-np.log(np.clip(prob_of_label, eps, 1 - eps)), dtype=np.float64)


def _thin(progress: NDArray[np.float64], limit: int = CURVE_POINTS) -> NDArray[np.intp]:
    """At most ``limit`` indices of a curve, spread evenly along ``progress`` (non-decreasing
    along the curve), always keeping the first and last point."""
    if len(progress) <= limit:
        return np.arange(len(progress), dtype=np.intp)
    targets = np.linspace(progress[0], progress[-1], limit - 1)
    picked = np.searchsorted(progress, targets, side="left")
    return np.unique(np.r_[0, picked, len(progress) - 1]).astype(np.intp)


def _curves(ranked: _Ranked, suffix: str = "") -> dict[str, Curve]:
    return curves_of(*ranked.cumulative(None), ranked.scores, suffix)


def curves_of(tp: NDArray[np.float64], fp: NDArray[np.float64], scores: NDArray[np.float64],
              suffix: str = "") -> dict[str, Curve]:
    """ROC and PR curves from the true and false positives at each distinct score
    (``scores``, descending): what the one-pass check and merged chunks both draw."""
    p, n = tp[-1], fp[-1]
    curves: dict[str, Curve] = {}
    if p > 0 and n > 0:
        fpr, tpr = np.r_[0.0, fp / n], np.r_[0.0, tp / p]
        keep = _thin(fpr + tpr)
        thresholds = [None, *scores.tolist()]
        curves[f"roc{suffix}"] = Curve("fpr", "tpr", tuple(fpr[keep].tolist()),
                                       tuple(tpr[keep].tolist()),
                                       tuple(thresholds[i] for i in keep))
    if p > 0:
        recall, precision = tp / p, tp / (tp + fp)
        keep = _thin(recall + (tp + fp) / (p + n))
        curves[f"pr{suffix}"] = Curve("recall", "precision", tuple(recall[keep].tolist()),
                                      tuple(precision[keep].tolist()),
                                      tuple(scores[keep].tolist()))
    return curves


def _replicates(spec: BootstrapSpec, rows: NDArray[np.uint64],
                figures: Callable[[NDArray[np.float64] | None], list[float]],
                ) -> NDArray[np.float64]:
    """figures(weights) for the plain rows (row 0) and each replicate: shape (1 + B, k)."""
    out = [figures(None)]
    for r in range(spec.replicates):
        out.append(figures(spec.weights(r, rows)))
    return np.array(out, dtype=np.float64)


def _binary_replicates(ranked: _Ranked, cut: int, losses: NDArray[np.float64],
                       spec: BootstrapSpec) -> NDArray[np.float64]:
    """The binary figures of every replicate (shape (B, len(BINARY_METRICS))) from one compiled
    pass over the sorted rows (``bootstrap.ranked_sums``): what ``_binary_figures`` gives on each
    replicate's weights (:func:`_binary_replicates_reference`), the same terms summed in row
    order, so equal to about 1e-15 — and no weight vector made."""
    n = len(ranked.order)
    last = np.ones(n, dtype=np.bool_)
    if ranked.ends is not None:
        last[:] = False
        last[ranked.ends] = True
    position = int(ranked.ends[cut - 1]) if ranked.ends is not None and cut else cut - 1
    sums = ranked_sums(spec, ranked.order, ranked.positive > 0, last, position, losses)
    p, n_, tp, fp, cross, ties, ap_sum, loss = sums.T
    fn, tn = p - tp, n_ - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs = p * n_
        auc = np.where(pairs > 0, (pairs - cross + 0.5 * ties) / pairs, np.nan)
        ap = np.where(p > 0, ap_sum / p, np.nan)
    return np.column_stack([_divide(tp + tn, p + n_), _divide(tp, tp + fp), _divide(tp, tp + fn),
                            _divide(2 * tp, 2 * tp + fp + fn), auc, ap, _divide(loss, p + n_)])


def _binary_figures(ranked: _Ranked, cut: int, losses: NDArray[np.float64],
                    weights: NDArray[np.float64] | None) -> list[float]:
    """The binary figures (BINARY_METRICS) of the rows weighted by ``weights`` (sorted order;
    None: the plain rows), ``cut`` the number of runs scoring at or above the threshold."""
    tps, fps = ranked.cumulative(weights)
    tp, fp = (float(tps[cut - 1]), float(fps[cut - 1])) if cut else (0.0, 0.0)
    fn, tn = float(tps[-1]) - tp, float(fps[-1]) - fp
    total = float(tps[-1] + fps[-1])
    loss = float(losses.sum()) if weights is None else _dot(losses, weights)
    return [*counts_figures(tp, fp, fn, tn), *ranking_figures(tps, fps),
            float(_divide(loss, total))]


def _binary_replicates_reference(ranked: _Ranked, cut: int, losses: NDArray[np.float64],
                                 spec: BootstrapSpec) -> NDArray[np.float64]:
    """:func:`_binary_replicates` one replicate at a time in numpy, on each replicate's weight
    vector: the definition the tests compare the compiled pass with."""
    rows = ranked.order.astype(np.uint64)
    return np.array([_binary_figures(ranked, cut, losses, spec.weights(r, rows))
                     for r in range(spec.replicates)], dtype=np.float64).reshape(
        spec.replicates, len(BINARY_METRICS))


def _binary(data: BinaryData, spec: BootstrapSpec,
            ) -> tuple[dict[str, Estimate], ConfusionMatrix, dict[str, Curve]]:
    ranked = _Ranked.of(data.prob, data.y)
    cut = int(np.searchsorted(-ranked.scores, -data.threshold, side="right"))  # runs >= t
    losses = log_losses(np.where(data.y == 1, data.prob, 1.0 - data.prob))[ranked.order]
    stats = np.vstack([_binary_figures(ranked, cut, losses, None),
                       _binary_replicates(ranked, cut, losses, spec)])
    metrics = dict(zip(BINARY_METRICS, estimates(stats, spec), strict=True))
    y, pred = data.y.astype(np.intp), data.pred.astype(np.intp)
    counts = np.bincount(y * 2 + pred, minlength=4).reshape(2, 2)
    confusion = ConfusionMatrix((data.negative_class, data.positive_class),
                                tuple(tuple(int(c) for c in row) for row in counts))
    return metrics, confusion, _curves(ranked)


def multiclass_figures(matrix: NDArray[Any], loss: float,
                       rankings: Sequence[tuple[float, float]]) -> list[float]:
    """One replicate's multiclass figures from its (weighted) confusion matrix (true x
    predicted), summed log loss and per class (ROC AUC, average precision): accuracy, the macro
    averages, log loss, then each class's CLASS_METRICS. The one-pass check and merged chunks
    (evaluation.metrics.chunks) both call this."""
    k = matrix.shape[0]
    total = float(matrix.sum())
    per_class: list[list[float]] = []
    for c in range(k):
        tp = float(matrix[c, c])
        fp, fn = float(matrix[:, c].sum()) - tp, float(matrix[c].sum()) - tp
        _, precision, recall, f1 = counts_figures(tp, fp, fn, total - tp - fp - fn)
        per_class.append([precision, recall, f1, *rankings[c]])
    table = np.array(per_class)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column undefined for every class
        macro = np.nanmean(table, axis=0)
    return [float(_divide(np.trace(matrix), total)), *macro.tolist(),
            float(_divide(loss, total)), *table.ravel().tolist()]


def multiclass_result(stats: NDArray[np.float64], spec: BootstrapSpec,
                      classes: Sequence[str | int | float | bool], support: NDArray[Any],
                      counts: NDArray[Any], curves: dict[str, Curve],
                      ) -> tuple[dict[str, Estimate], ConfusionMatrix, tuple[ClassFigures, ...]]:
    """The multiclass estimates from ``multiclass_figures`` of the plain rows (row 0) and each
    replicate, with the classes' row counts (``support``) and the confusion ``counts``."""
    overall = estimates(stats[:, :7], spec)
    names = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss")
    metrics = dict(zip(names, overall, strict=True))
    per_class_estimates = estimates(stats[:, 7:], spec)
    per_class = tuple(
        ClassFigures(label=classes[c], support=int(support[c]),
                     metrics=dict(zip(CLASS_METRICS, per_class_estimates[c * 5:(c + 1) * 5],
                                      strict=True)))
        for c in range(len(classes)))
    confusion = ConfusionMatrix(tuple(classes),
                                tuple(tuple(int(c) for c in row) for row in counts))
    return metrics, confusion, per_class


def _multiclass(data: MulticlassData, spec: BootstrapSpec,
                ) -> tuple[dict[str, Estimate], ConfusionMatrix, tuple[ClassFigures, ...],
                           dict[str, Curve]]:
    k = len(data.classes)
    ranked = [_Ranked.of(data.prob[:, c], data.y == c) for c in range(k)]
    cells = data.y * k + data.pred
    losses = log_losses(data.prob[np.arange(data.n), data.y])

    def figures(weights: NDArray[np.float64] | None) -> list[float]:
        matrix = np.bincount(cells, weights=weights, minlength=k * k).reshape(k, k)
        loss = float(losses.sum()) if weights is None else _dot(losses, weights)
        return multiclass_figures(matrix, loss, [
            ranking_figures(*ranked[c].cumulative(
                None if weights is None else weights[ranked[c].order])) for c in range(k)])

    rows = np.arange(data.n, dtype=np.uint64)
    stats = _replicates(spec, rows, figures)
    curves: dict[str, Curve] = {}
    for c in range(k):
        curves.update(_curves(ranked[c], f"[{data.classes[c]}]"))
    metrics, confusion, per_class = multiclass_result(
        stats, spec, data.classes, np.bincount(data.y, minlength=k),
        np.bincount(cells, minlength=k * k).reshape(k, k), curves)
    return metrics, confusion, per_class, curves


def _regression(data: RegressionData, spec: BootstrapSpec,
                ) -> dict[str, Estimate]:
    error = data.pred - data.y
    centred = data.y - data.y.mean()  # R²'s total sum of squares, without cancellation
    columns = np.stack([np.ones_like(error), error * error, np.abs(error), centred,
                        centred * centred])

    def figures(weights: NDArray[np.float64] | None) -> list[float]:
        return regression_figures(*(columns.sum(axis=1) if weights is None
                                    else np.einsum("ij,j->i", columns, weights)).tolist())

    rows = np.arange(data.n, dtype=np.uint64)
    stats = _replicates(spec, rows, figures)
    return dict(zip(REGRESSION_METRICS, estimates(stats, spec), strict=True))


def regression_figures(total: float, sse: float, sae: float, sy: float,
                       syy: float) -> list[float]:
    """RMSE, MAE and R² from the (weighted) row count and sums of squared and absolute errors
    and of the labels' deviations (and squares) from their mean: what one pass and merged chunks
    both sum."""
    sst = syy - sy * sy / total if total > 0 else 0.0
    return [float(np.sqrt(_divide(sse, total))), float(_divide(sae, total)),
            float(1.0 - sse / sst) if sst > 0 else np.nan]


def binary_undefined(metrics: dict[str, Estimate]) -> dict[str, str]:
    """Why each undefined figure of a binary classifier is undefined."""
    why = {"roc_auc": "only one class in the labels: ROC AUC needs both",
           "pr_auc": "no row is labelled with the favourable class",
           "recall": "no row is labelled with the favourable class",
           "precision": "no row is predicted favourable at the threshold",
           "f1": "no favourable labels and no favourable predictions"}
    return {k: why[k] for k, v in metrics.items() if v.value is None}


def why_undefined(task: Task, metrics: dict[str, Estimate],
                  per_class: tuple[ClassFigures, ...]) -> dict[str, str]:
    """Why each undefined figure of a ``task`` model is undefined."""
    reasons: dict[str, str] = {}
    if task is Task.REGRESSION:
        if metrics["r2"].value is None:
            reasons["r2"] = "the labels are all equal, so R² (1 - SSE/SST) divides by 0"
        return reasons
    if task is Task.BINARY:
        return binary_undefined(metrics)
    for figures in per_class:
        for name, estimate in figures.metrics.items():
            if estimate.value is None:
                reasons[f"{name}[{figures.label}]"] = (
                    "no row is predicted as this class" if name == "precision"
                    else "the class is absent from the labels" if figures.support == 0
                    else "every row is labelled with this class")
    for name, estimate in metrics.items():
        if estimate.value is None:
            reasons[name] = "undefined for every class"
    return reasons


def performance(*, task: str | Task, y_true: ArrayLike, y_prob: ArrayLike | None = None,
                y_pred: ArrayLike | None = None, positive_class: Any = None,
                threshold: float | None = None, classes: Sequence[Any] | None = None,
                n_bootstrap: int = DEFAULT_REPLICATES, seed: int = 0,
                confidence: float = DEFAULT_CONFIDENCE) -> PerformanceResult:
    """The performance check. Classifiers pass ``y_prob`` (binary: the favourable class's
    probability, with ``positive_class`` and ``threshold``; multiclass: one column per entry of
    ``classes``), regressors ``y_pred``."""
    kind = task_from(task)
    spec = BootstrapSpec(n_bootstrap, seed, confidence)
    data = task_data(kind, y_true, y_prob=y_prob, y_pred=y_pred, positive_class=positive_class,
                     threshold=threshold, classes=classes)
    confusion: ConfusionMatrix | None = None
    per_class: tuple[ClassFigures, ...] = ()
    curves: dict[str, Curve] = {}
    if isinstance(data, BinaryData):
        metrics, confusion, curves = _binary(data, spec)
    elif isinstance(data, MulticlassData):
        metrics, confusion, per_class, curves = _multiclass(data, spec)
    else:
        metrics = _regression(data, spec)
    return PerformanceResult(
        task=kind, n=data.n, metrics=metrics, confusion=confusion, per_class=per_class,
        curves=curves,
        positive_class=data.positive_class if isinstance(data, BinaryData) else None,
        threshold=data.threshold if isinstance(data, BinaryData) else None,
        undefined=why_undefined(kind, metrics, per_class), bootstrap=spec)

