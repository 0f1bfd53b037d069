"""Statistics of chunks of rows that merge into those of all rows: chunked evaluation's maths.

A classifier's performance and calibration figures come from sums that add up across chunks
(docs/evaluation-metrics.md, "Chunked evaluation"):

* ``ScoreRuns``: the distinct scores with their favourable and other row counts. Merged, they are
  the one-pass sorted rows with ties collapsed, so ROC AUC, average precision, the curves, the
  confusion counts and the score quantiles come out exactly as in one pass. Past
  ``EXACT_SCORES`` distinct scores they become *score cells* instead, so that memory stays
  bounded whatever the rows: a cell holds the scores that share a float64's sign, exponent and
  top ``CELL_BITS`` mantissa bits (a relative width of 2^-16), keeps its lowest and highest
  score and its row counts, and cells merge by key in any order to the same cells. Pairs of a
  favourable and an other row within one cell then count as ties, which moves ROC AUC by at most
  ``auc_max_error`` (reported with the figures).
* ``bootstrap.tally`` sums per Poisson replicate (weights keyed by the row's index in the data
  set, so chunking does not change them): confusion cells with log-loss sums, calibration bins,
  and for AUC and average precision per replicate a histogram of favourable / other weights over
  ``auc_bins`` — one bin per distinct score when there are at most ``AUC_BINS`` of them (then
  exact), otherwise bins of consecutive distinct scores holding about n / AUC_BINS rows each.

A multiclass model gets the same per class, one against the rest (score runs and ranking
histograms of each class's probability column), and a k x k confusion tally with log-loss
sums. A regressor's sums are the row count and the sums of squared and absolute errors and of
the labels' deviations from their mean (and their squares), the mean fixed beforehand from the
label column alone (``chunked.prepare``), so that R² is computed as in one pass without
cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluation.metrics.bootstrap import BootstrapSpec, Tally, estimates
from evaluation.metrics.inputs import BinaryData, MulticlassData, RegressionData, Task
from evaluation.metrics.performance import (
    BINARY_METRICS,
    REGRESSION_METRICS,
    ConfusionMatrix,
    Curve,
    PerformanceResult,
    binary_undefined,
    counts_figures,
    curves_of,
    log_losses,
    multiclass_figures,
    multiclass_result,
    ranking_figures,
    regression_figures,
    why_undefined,
)

# Bins of the per-replicate AUC / average-precision histograms (each replicate holds 2 x this).
AUC_BINS = 4096
# Distinct scores kept exactly (32 bytes each); past this many, score runs become score cells.
EXACT_SCORES = 1 << 20
# Mantissa bits of a score cell's key: 2^16 cells per power of two of the score.
CELL_BITS = 16


@dataclass(frozen=True, eq=False)
class ScoreRuns:
    """Distinct scores, descending, with the number of favourable and other rows at each; or,
    past ``EXACT_SCORES`` of them, score cells (``scores`` each cell's lowest score, ``highs``
    its highest). ``scores`` is what a threshold at the run compares with: the rows scoring
    at least ``scores[i]`` are those of runs 0..i."""

    scores: NDArray[np.float64]
    positive: NDArray[np.float64]
    negative: NDArray[np.float64]
    highs: NDArray[np.float64]

    @classmethod
    def of(cls, scores: NDArray[np.float64], positive: NDArray[np.float64],
           counts: NDArray[np.float64] | None = None) -> ScoreRuns:
        """Runs of ``scores`` (any order, repeats allowed); ``positive`` is 1 for a favourable
        row (or, with ``counts``, the favourable rows among ``counts`` rows at that score)."""
        # + 0.0 turns -0.0 into 0.0, so that both are one score in cells as they are in runs.
        descending, inverse = np.unique(-(scores + 0.0), return_inverse=True)
        size = len(descending)
        total = np.asarray(np.bincount(inverse, weights=counts, minlength=size),
                           dtype=np.float64)
        pos = np.asarray(np.bincount(inverse, weights=positive, minlength=size),
                         dtype=np.float64)
        runs = cls(-descending, pos, total - pos, -descending)
        return runs if size <= EXACT_SCORES else _cells([runs])

    @property
    def n(self) -> int:
        return int(self.positive.sum() + self.negative.sum())

    @property
    def exact(self) -> bool:
        """Whether every run holds one score (always so for runs; for cells, when no cell
        holds two different scores)."""
        return bool(np.array_equal(self.scores, self.highs))

    def auc_max_error(self) -> float:
        """How far ROC AUC from these runs can be from the exact one: half the share of
        (favourable, other) pairs that fall in one cell holding different scores (0 when
        exact, NaN when AUC is undefined)."""
        p, n = float(self.positive.sum()), float(self.negative.sum())
        if p == 0 or n == 0:
            return float("nan")
        mixed = self.scores != self.highs
        return 0.5 * float(np.dot(self.positive[mixed], self.negative[mixed])) / (p * n)


def _cell_keys(scores: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Each score's cell: its float64 bits mapped to an unsigned integer that grows with the
    score (negative scores' bits flipped), keeping the sign, exponent and ``CELL_BITS`` bits."""
    bits = np.ascontiguousarray(scores, dtype=np.float64).view(np.uint64)
    ordered = np.where(bits >> np.uint64(63) == 1, ~bits, bits | np.uint64(1 << 63))
    return np.asarray(ordered >> np.uint64(52 - CELL_BITS), dtype=np.uint64)


def _cells(parts: Sequence[ScoreRuns]) -> ScoreRuns:
    """The score cells of all the parts' rows (parts may be runs or cells already): grouped by
    cell key, each cell's lowest and highest score and its row counts. Grouping is the same
    whatever the parts, so cells do not depend on how the rows were chunked or merged."""
    lows = np.concatenate([p.scores for p in parts])
    highs = np.concatenate([p.highs for p in parts])
    if len(lows) == 0:
        return parts[0]
    keys = _cell_keys(highs)
    order = np.argsort(-lows, kind="stable")  # descending scores, so descending keys
    keys, lows, highs = keys[order], lows[order], highs[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    positive = np.concatenate([p.positive for p in parts])[order]
    negative = np.concatenate([p.negative for p in parts])[order]
    return ScoreRuns(np.minimum.reduceat(lows, starts), np.add.reduceat(positive, starts),
                     np.add.reduceat(negative, starts), np.maximum.reduceat(highs, starts))


def merge_runs(parts: Sequence[ScoreRuns]) -> ScoreRuns:
    """The runs of all the parts' rows: exact while every part is exact and there are at most
    ``EXACT_SCORES`` distinct scores, else cells."""
    if all(p.exact for p in parts):
        scores = np.concatenate([p.scores for p in parts])
        positive = np.concatenate([p.positive for p in parts])
        counts = np.concatenate([p.positive + p.negative for p in parts])
        return ScoreRuns.of(scores, positive, counts)
    return _cells(parts)


def ranking_error(runs: Sequence[ScoreRuns], suffixes: Sequence[str]) -> dict[str, float]:
    """``roc_auc_max_error`` (with each suffix) for the runs that became cells holding different
    scores; empty when every ranking figure is exact."""
    errors = {f"roc_auc_max_error{suffix}": r.auc_max_error()
              for r, suffix in zip(runs, suffixes, strict=True) if not r.exact}
    return {name: error for name, error in errors.items() if np.isfinite(error)}


def runs_percentile(runs: ScoreRuns, percents: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.percentile(all scores, percents)`` (numpy's linear method) from the runs alone:
    the same virtual indexes, order statistics and interpolation, so the same floats."""
    ascending = runs.scores[::-1]
    ends = np.cumsum((runs.positive + runs.negative)[::-1])  # rows up to each run, ascending
    n = int(ends[-1])
    virtual = np.true_divide(percents, 100) * (n - 1)
    below = np.floor(virtual)
    gamma = virtual - below
    first = np.clip(below, 0, n - 1).astype(np.int64)
    second = np.clip(below + 1, 0, n - 1).astype(np.int64)
    a = ascending[np.searchsorted(ends, first, side="right")]
    b = ascending[np.searchsorted(ends, second, side="right")]
    diff = b - a
    return np.asarray(np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma),
                      dtype=np.float64)


def auc_bins(runs: ScoreRuns, bins: int = AUC_BINS) -> NDArray[np.float64]:
    """The lowest score of each histogram bin, descending: every distinct score when there are
    at most ``bins``, else consecutive runs grouped by their first row's position."""
    if len(runs.scores) <= bins:
        return runs.scores.copy()
    counts = runs.positive + runs.negative
    starts = np.cumsum(counts) - counts
    ids = (starts * bins // max(runs.n, 1)).astype(np.int64)
    last = np.flatnonzero(np.r_[ids[1:] != ids[:-1], True])
    return runs.scores[last]


def bin_of_score(scores: NDArray[np.float64], lows: NDArray[np.float64]) -> NDArray[np.intp]:
    """The histogram bin (0: highest scores) of each score, given each bin's lowest score."""
    return (len(lows) - np.searchsorted(lows[::-1], scores, side="right")).astype(np.intp)


def binary_tallies(data: BinaryData) -> list[Tally]:
    """The sums a chunk adds for binary performance: rows and log-loss per confusion cell."""
    losses = log_losses(np.where(data.y == 1, data.prob, 1.0 - data.prob))
    cells = data.y.astype(np.intp) * 2 + data.pred.astype(np.intp)
    return [Tally(cells, 4, (losses,))]


def ranking_tally(data: BinaryData, lows: NDArray[np.float64]) -> Tally:
    """The AUC / average-precision histogram's sums: bin x (other, favourable)."""
    return Tally(bin_of_score(data.prob, lows) * 2 + data.y.astype(np.intp), 2 * len(lows))


def binary_performance(*, runs: ScoreRuns, cells: NDArray[np.float64],
                       histogram: NDArray[np.float64] | None, spec: BootstrapSpec,
                       positive_class: str | int | float | bool,
                       negative_class: str | int | float | bool | None,
                       threshold: float) -> PerformanceResult:
    """The binary performance result from merged sums: ``cells`` is the confusion tally
    (1 + replicates, 2, 4), ``histogram`` the ranking tally (1 + replicates, 1, 2 x bins), None
    without replicates. The point figures come from the runs, so they are the one-pass figures;
    the replicates' AUC and AP from the histogram."""
    tps, fps = np.cumsum(runs.positive), np.cumsum(runs.negative)
    stats = np.full((1 + spec.replicates, len(BINARY_METRICS)), np.nan)
    for r in range(1 + spec.replicates):
        counts, loss = cells[r, 0], float(cells[r, 1].sum())
        tn, fp, fn, tp = (float(c) for c in counts)
        total = float(counts.sum())
        if r == 0:
            ranking = ranking_figures(tps, fps)
        elif histogram is None:
            raise ValueError("Bootstrap replicates need the ranking histogram.")
        else:
            ranking = ranking_figures(np.cumsum(histogram[r, 0, 1::2]),
                                      np.cumsum(histogram[r, 0, 0::2]))
        stats[r] = [*counts_figures(tp, fp, fn, tn), *ranking,
                    loss / total if total > 0 else np.nan]
    metrics = dict(zip(BINARY_METRICS, estimates(stats, spec), strict=True))
    counts = cells[0, 0].reshape(2, 2)
    confusion = ConfusionMatrix((negative_class, positive_class),
                                tuple(tuple(int(c) for c in row) for row in counts))
    return PerformanceResult(
        task=Task.BINARY, n=int(counts.sum()), metrics=metrics, confusion=confusion,
        per_class=(), curves=curves_of(tps, fps, runs.scores), positive_class=positive_class,
        threshold=threshold, undefined=binary_undefined(metrics), bootstrap=spec,
        ranking_error=ranking_error([runs], [""]))


def multiclass_tallies(data: MulticlassData) -> list[Tally]:
    """The sums a chunk adds for multiclass performance: rows and log loss per (true,
    predicted) cell."""
    k = len(data.classes)
    losses = log_losses(data.prob[np.arange(data.n), data.y])
    return [Tally(data.y * k + data.pred, k * k, (losses,))]


def class_ranking_tally(data: MulticlassData, c: int, lows: NDArray[np.float64]) -> Tally:
    """Class ``c``'s AUC / average-precision histogram against the rest (as ``ranking_tally``)."""
    return Tally(bin_of_score(data.prob[:, c], lows) * 2 + (data.y == c).astype(np.intp),
                 2 * len(lows))


def multiclass_performance(*, runs: Sequence[ScoreRuns], cells: NDArray[np.float64],
                           histograms: Sequence[NDArray[np.float64]] | None,
                           spec: BootstrapSpec,
                           classes: Sequence[str | int | float | bool]) -> PerformanceResult:
    """The multiclass performance result from merged sums: ``runs`` per class, ``cells`` the
    confusion tally (1 + replicates, 2, k x k), ``histograms`` per class the ranking tally (None
    without replicates). Point figures are the one-pass figures; the replicates' AUC and AP
    come from the histograms, as for a binary classifier."""
    k = len(classes)
    cumulative = [(np.cumsum(r.positive), np.cumsum(r.negative)) for r in runs]
    stats = np.full((1 + spec.replicates, 7 + 5 * k), np.nan)
    for r in range(1 + spec.replicates):
        matrix = cells[r, 0].reshape(k, k)
        if r == 0:
            rankings = [ranking_figures(tp, fp) for tp, fp in cumulative]
        elif histograms is None:
            raise ValueError("Bootstrap replicates need the ranking histograms.")
        else:
            rankings = [ranking_figures(np.cumsum(h[r, 0, 1::2]), np.cumsum(h[r, 0, 0::2]))
                        for h in histograms]
        stats[r] = multiclass_figures(matrix, float(cells[r, 1].sum()), rankings)
    curves: dict[str, Curve] = {}
    for c, (tp, fp) in enumerate(cumulative):
        curves.update(curves_of(tp, fp, runs[c].scores, f"[{classes[c]}]"))
    counts = cells[0, 0].reshape(k, k)
    metrics, confusion, per_class = multiclass_result(stats, spec, classes, counts.sum(axis=1),
                                                      counts, curves)
    return PerformanceResult(
        task=Task.MULTICLASS, n=int(counts.sum()), metrics=metrics, confusion=confusion,
        per_class=per_class, curves=curves, positive_class=None, threshold=None,
        undefined=why_undefined(Task.MULTICLASS, metrics, per_class), bootstrap=spec,
        ranking_error=ranking_error(runs, [f"[{c}]" for c in classes]))


def regression_tallies(data: RegressionData, label_mean: float) -> list[Tally]:
    """The sums a chunk adds for regression performance: rows, squared and absolute errors,
    the labels' deviations from ``label_mean`` (the whole data set's) and their squares."""
    error = data.pred - data.y
    centred = data.y - label_mean
    return [Tally(np.zeros(data.n, dtype=np.intp), 1,
                  (error * error, np.abs(error), centred, centred * centred))]


def regression_performance(*, sums: NDArray[np.float64], spec: BootstrapSpec,
                           ) -> PerformanceResult:
    """The regression performance result from the merged ``regression_tallies``."""
    stats = np.array([regression_figures(*sums[r, :, 0].tolist())
                      for r in range(1 + spec.replicates)], dtype=np.float64)
    metrics = dict(zip(REGRESSION_METRICS, estimates(stats, spec), strict=True))
    return PerformanceResult(
        task=Task.REGRESSION, n=int(sums[0, 0, 0]), metrics=metrics, confusion=None,
        per_class=(), curves={}, positive_class=None, threshold=None,
        undefined=why_undefined(Task.REGRESSION, metrics, ()), bootstrap=spec)
