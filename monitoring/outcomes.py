"""Live performance and fairness from the outcomes applications post (docs/monitoring.md).

Each check counts the outcomes recorded in its window, joined to the version's logged
predictions, into mergeable sums (``OutcomeSums``, stored on the window): a statistic over the
rolling period adds the windows' sums up instead of reading every outcome again.

* Binary classifiers: the confusion counts at the model's decision threshold and a histogram of
  the scores per label (``AUC_BINS`` uniform bins on [0, 1]), from which ROC AUC is the
  evaluation engine's ``ranking_figures`` over the bins (ties within a bin count one half).
* Multiclass classifiers: the confusion matrix of the labels; accuracy and macro F1 with the
  engine's ``counts_figures`` per class.
* Regression: count, sums of error, |error|, error² and prediction; MAE and RMSE.

Fairness, where outcomes carry sensitive attributes: per attribute and value, the channels of
the evaluation engine's bias tally (classifiers: the 8 outcomes ``4*y + 2*pred + correct`` with
the favourable class; regression: count, error, |error|, error², prediction), turned into group
figures and disparities by ``evaluation.metrics.bias.group_figures`` and ``spread`` over groups
of at least ``MIN_GROUP_SIZE`` outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evaluation.metrics.bias import DEFAULT_MIN_GROUP_SIZE, group_figures, spread
from evaluation.metrics.inputs import Task
from evaluation.metrics.performance import counts_figures, ranking_figures

AUC_BINS = 200
MIN_ROWS = 30  # fewer joined outcomes in the period: no performance figure
MIN_GROUP_SIZE = DEFAULT_MIN_GROUP_SIZE
CLASSIFIER_CHANNELS = 8
REGRESSION_CHANNELS = 5
# Fairness statistics (higher is worse) and the bias figures they come from.
FAIRNESS: dict[Task, dict[str, tuple[str | tuple[str, ...], str]]] = {
    Task.BINARY: {"dp_ratio_shortfall": ("selection_rate", "ratio"),
                  "eo_difference": (("tpr", "fpr"), "difference")},
    Task.MULTICLASS: {"dp_ratio_shortfall": ("selection_rate", "ratio"),
                      "eo_difference": (("tpr", "fpr"), "difference")},
    Task.REGRESSION: {"mae_difference": ("mae", "difference")},
}


@dataclass
class OutcomeSums:
    """Mergeable sums of the outcomes joined to predictions in one window (or a period)."""

    task: str
    n: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # true -> predicted -> n
    histogram: dict[str, list[int]] = field(default_factory=dict)  # "pos"/"neg" -> bin counts
    regression: list[float] = field(default_factory=lambda: [0.0] * REGRESSION_CHANNELS)
    groups: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # attr -> value
    received: int = 0  # outcomes read, joined to a prediction or not

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "n": self.n, "received": self.received,
                "confusion": self.confusion,
                "histogram": self.histogram, "regression": self.regression,
                "groups": self.groups}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutcomeSums:
        return cls(task=data["task"], n=int(data["n"]), confusion=data.get("confusion") or {},
                   histogram=data.get("histogram") or {},
                   regression=list(data.get("regression") or [0.0] * REGRESSION_CHANNELS),
                   groups=data.get("groups") or {}, received=int(data.get("received", 0)))

    def merge(self, other: OutcomeSums) -> OutcomeSums:
        if other.task != self.task:
            raise ValueError("Only sums of the same task merge.")
        confusion = {t: dict(row) for t, row in self.confusion.items()}
        for t, row in other.confusion.items():
            mine = confusion.setdefault(t, {})
            for p, n in row.items():
                mine[p] = mine.get(p, 0) + n
        histogram = {k: [a + b for a, b in zip(self.histogram.get(k, [0] * AUC_BINS),
                                               other.histogram.get(k, [0] * AUC_BINS),
                                               strict=True)]
                     for k in {*self.histogram, *other.histogram}}
        groups = {a: {v: list(c) for v, c in values.items()} for a, values in self.groups.items()}
        for a, values in other.groups.items():
            mine_a = groups.setdefault(a, {})
            for v, channels in values.items():
                old = mine_a.get(v)
                mine_a[v] = list(channels) if old is None else [
                    x + y for x, y in zip(old, channels, strict=True)]
        return OutcomeSums(task=self.task, n=self.n + other.n, confusion=confusion,
                           histogram=histogram,
                           regression=[a + b for a, b in zip(self.regression, other.regression,
                                                             strict=True)],
                           groups=groups, received=self.received + other.received)


@dataclass(frozen=True)
class Joined:
    """One outcome joined to its logged prediction: the actual outcome, the model's score (binary
    classifiers, regression) or predicted label (multiclass), and the sensitive attributes."""

    outcome: Any
    score: float | None
    label: str | None
    sensitive: Mapping[str, Any]


def _label(value: Any) -> str:
    """Labels compared as text: 1, 1.0, "1" and true are the same class."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return "1" if value.strip().lower() == "true" else "0"
    return str(value).strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and np.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if np.isfinite(number) else None
    return None


def tally(task: str, rows: Iterable[Joined], *, favourable: str,
          threshold: float) -> OutcomeSums:
    """Count joined outcomes into sums. Rows whose outcome or prediction cannot be read for
    the task (a label that is not a class, a prediction without a score) are left out."""
    sums = OutcomeSums(task=task)
    if task == Task.BINARY:
        sums.histogram = {"pos": [0] * AUC_BINS, "neg": [0] * AUC_BINS}
    favourable = _label(favourable)
    for row in rows:
        channels: list[float]
        if task == Task.REGRESSION:
            y = _number(row.outcome)
            if y is None or row.score is None:
                continue
            error = row.score - y
            channels = [1.0, error, abs(error), error * error, row.score]
            sums.regression = [a + b for a, b in zip(sums.regression, channels, strict=True)]
        else:
            y_label = _label(row.outcome)
            if task == Task.BINARY:
                if row.score is None or y_label not in ("0", "1", favourable):
                    continue
                y_pos = y_label == favourable or (favourable not in ("0", "1") and y_label == "1")
                pred_pos = row.score >= threshold
                y_text, pred_text = ("1" if y_pos else "0"), ("1" if pred_pos else "0")
                score = min(max(row.score, 0.0), 1.0)
                bin_ = min(int(score * AUC_BINS), AUC_BINS - 1)
                sums.histogram["pos" if y_pos else "neg"][bin_] += 1
            else:
                if row.label is None:
                    continue
                y_text, pred_text = y_label, _label(row.label)
                y_pos, pred_pos = y_text == favourable, pred_text == favourable
            row_counts = sums.confusion.setdefault(y_text, {})
            row_counts[pred_text] = row_counts.get(pred_text, 0) + 1
            channels = [0.0] * CLASSIFIER_CHANNELS
            channels[4 * y_pos + 2 * pred_pos + (y_text == pred_text)] = 1.0
        sums.n += 1
        for attribute, value in sorted(row.sensitive.items()):
            groups = sums.groups.setdefault(str(attribute), {})
            old = groups.get(_label(value))
            groups[_label(value)] = channels if old is None else [
                a + b for a, b in zip(old, channels, strict=True)]
    return sums


def live_figures(sums: OutcomeSums) -> dict[str, float]:
    """The period's performance figures from its merged sums (only the defined ones)."""
    out: dict[str, float] = {}
    if sums.n < MIN_ROWS:
        return out
    if sums.task == Task.REGRESSION:
        n, _err, abs_err, sq_err, _pred = sums.regression
        out = {"mae": abs_err / n, "rmse": float(np.sqrt(sq_err / n))}
    elif sums.task == Task.BINARY:
        tp = sums.confusion.get("1", {}).get("1", 0)
        fn = sums.confusion.get("1", {}).get("0", 0)
        fp = sums.confusion.get("0", {}).get("1", 0)
        tn = sums.confusion.get("0", {}).get("0", 0)
        out["accuracy"] = counts_figures(tp, fp, fn, tn)[0]
        # Thresholds descending: cumulative positives and negatives from the top bin down.
        pos = np.cumsum(np.asarray(sums.histogram["pos"][::-1], dtype=np.float64))
        neg = np.cumsum(np.asarray(sums.histogram["neg"][::-1], dtype=np.float64))
        auc, _ap = ranking_figures(pos, neg)
        if np.isfinite(auc):
            out["roc_auc"] = auc
    else:
        classes = sorted({*sums.confusion, *(p for r in sums.confusion.values() for p in r)})
        total = sum(sum(r.values()) for r in sums.confusion.values())
        correct = sum(sums.confusion.get(c, {}).get(c, 0) for c in classes)
        out["accuracy"] = correct / total
        f1s = []
        for c in classes:
            tp = sums.confusion.get(c, {}).get(c, 0)
            fp = sum(r.get(c, 0) for t, r in sums.confusion.items() if t != c)
            fn = sum(n for p, n in sums.confusion.get(c, {}).items() if p != c)
            f1 = counts_figures(tp, fp, fn, total - tp - fp - fn)[3]
            if np.isfinite(f1):
                f1s.append(f1)
        if f1s:
            out["f1"] = float(np.mean(f1s))
    return {k: float(v) for k, v in out.items() if np.isfinite(v)}


# Which live figure is back-tested against the validated one, per task, in order of preference,
# and whether higher is better (the drop is validated - live) or worse (live - validated,
# relative to the validated figure, since errors are in the label's units).
BACKTEST: dict[str, tuple[tuple[str, bool], ...]] = {
    Task.BINARY: (("roc_auc", True), ("accuracy", True)),
    Task.MULTICLASS: (("f1", True), ("accuracy", True)),
    Task.REGRESSION: (("rmse", False), ("mae", False)),
}


def performance_drop(task: str, live: Mapping[str, float], validated: Mapping[str, float]
                     ) -> tuple[float | None, str | None]:
    """How much worse the live performance is than the validated one, and on which figure."""
    for metric, higher_is_better in BACKTEST.get(task, ()):
        if metric in live and metric in validated:
            if higher_is_better:
                return validated[metric] - live[metric], metric
            if validated[metric] > 0:
                return (live[metric] - validated[metric]) / validated[metric], metric
    return None, None


def fairness(sums: OutcomeSums) -> tuple[dict[str, float | None], dict[str, Any]]:
    """The fairness statistics (worst over the sensitive attributes) and per attribute the
    groups' figures and disparities, over groups of at least ``MIN_GROUP_SIZE`` outcomes."""
    task = Task(sums.task)
    statistics: dict[str, float | None] = dict.fromkeys(FAIRNESS[task])
    details: dict[str, Any] = {}
    for attribute, values in sorted(sums.groups.items()):
        labels = sorted(values)
        table = np.asarray([values[v] for v in labels], dtype=np.float64)[np.newaxis]
        figures = group_figures(task, table)
        counts = table[0, :, 0] if task is Task.REGRESSION else table[0].sum(axis=1)
        eligible = counts >= MIN_GROUP_SIZE
        groups = [{"value": v, "count": int(counts[i]), "small": not bool(eligible[i]),
                   **{k: _plain(a[0, i]) for k, a in figures.items()}}
                  for i, v in enumerate(labels)]
        disparities: dict[str, float | None] = {}
        for name, (metric, how) in FAIRNESS[task].items():
            metrics = metric if isinstance(metric, tuple) else (metric,)
            values_ = [spread(figures[m][:, eligible], how)[0] for m in metrics]
            value = float(np.nanmax(values_)) if not all(np.isnan(values_)) else np.nan
            if how == "ratio" and np.isfinite(value):
                value = 1.0 - value  # shortfall from parity: higher is worse
            found = disparities[name] = _plain(value)
            if found is not None:
                current = statistics[name]
                statistics[name] = found if current is None else max(current, found)
        details[attribute] = {"groups": groups, "disparities": disparities}
    return statistics, details


def _plain(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def merged(parts: Sequence[OutcomeSums]) -> OutcomeSums | None:
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part)
    return out
