"""The monitoring statistics, with no Django in them: a window of logged predictions counted into
mergeable aggregates, and the statistics of a period computed from those aggregates.

Drift is the evaluation engine's (``evaluation.metrics.drift``): the reference's bins, the
window's counts in them, and PSI / KS / chi-square from merged counts. Data quality is four
counters per window that add up across windows:

* ``values`` / ``missing``: input values expected (rows x reference columns) and those missing
  (absent or null);
* ``checked`` / ``out_of_range``: present values compared with the reference, and those outside
  it (a number below the reference's minimum or above its maximum, a category it never had);
* ``rows`` / ``schema_violations``: records with a field absent, unknown or of the wrong type
  for the version's input schema.

Every statistic is "higher is worse", so each threshold is one upper limit
(governance.policy.STATISTICS names them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics import drift as drift_metrics

NUMERIC_TYPES = frozenset({"float", "double", "float16", "int8", "int16", "int32", "int64",
                           "uint8", "uint16", "uint32", "uint64"})
QUALITY_KEYS = ("values", "missing", "checked", "out_of_range", "rows", "schema_violations")
# Drift compares this many windows' worth of rows at least; below it the statistics say
# nothing (a PSI of a dozen rows is noise).
MIN_ROWS_FOR_DRIFT = 50


@dataclass(frozen=True)
class Reference:
    """What a plan's statistics compare with, fixed once from the validated reference data."""

    columns: tuple[str, ...]
    schema: Mapping[str, str]  # input name -> ONNX element type
    bins: drift_metrics.Binning
    counts: drift_metrics.Counts
    ranges: Mapping[str, tuple[float, float]]  # numeric columns
    categories: Mapping[str, frozenset[Any]]  # categorical columns
    score_output: str | None = None
    score_column: int = 0
    validated: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "schema": dict(self.schema),
                "bins": drift_metrics.binning_as_dict(self.bins),
                "counts": drift_metrics.counts_as_dict(self.counts),
                "ranges": {k: list(v) for k, v in self.ranges.items()},
                "categories": {k: sorted(v, key=str) for k, v in self.categories.items()},
                "score_output": self.score_output, "score_column": self.score_column,
                "validated": dict(self.validated)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reference:
        return cls(columns=tuple(data["columns"]), schema=dict(data["schema"]),
                   bins=drift_metrics.binning_from_dict(data["bins"]),
                   counts=drift_metrics.counts_from_dict(data["counts"]),
                   ranges={k: (float(v[0]), float(v[1])) for k, v in data["ranges"].items()},
                   categories={k: frozenset(v) for k, v in data["categories"].items()},
                   score_output=data.get("score_output"),
                   score_column=int(data.get("score_column") or 0),
                   validated=dict(data.get("validated") or {}))


def build_reference(frame: pd.DataFrame, schema: Mapping[str, str], *,
                    scores: np.ndarray | None, score_output: str | None, score_column: int,
                    validated: Mapping[str, float]) -> Reference:
    """The reference of a plan from the validated reference data (its input columns) and the
    version's scores on it."""
    columns = [name for name in schema if name in frame.columns]
    absent = [name for name in schema if name not in frame.columns]
    if absent:
        raise ValueError(f"The reference data lacks the input(s) {', '.join(absent)}.")
    bins = drift_metrics.binning(frame, columns, reference_scores=scores)
    counts = drift_metrics.count(frame, bins, scores=scores)
    ranges: dict[str, tuple[float, float]] = {}
    for name in bins.numeric:
        values = pd.to_numeric(frame[name], errors="coerce").dropna()
        if len(values):
            ranges[name] = (float(values.min()), float(values.max()))
    categories = {name: frozenset(cats) for name, cats in bins.categorical.items()}
    return Reference(columns=tuple(columns), schema=dict(schema), bins=bins, counts=counts,
                     ranges=ranges, categories=categories, score_output=score_output,
                     score_column=score_column, validated=dict(validated))


def score_of(output: Any, name: str | None, column: int) -> float | None:
    """The score in one logged output record: ``output[name]``, a number or a list of them (a
    probability per class, or one value of an [N, 1] output), at ``column``."""
    if name is None or not isinstance(output, dict):
        return None
    value = output.get(name)
    if isinstance(value, list):
        if not value:
            return None
        value = value[column] if len(value) > column else value[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _wrong_type(value: Any, element_type: str) -> bool:
    if value is None:
        return False  # missing, counted as such
    if element_type in NUMERIC_TYPES:
        return isinstance(value, bool) or not isinstance(value, int | float)
    if element_type == "string":
        return not isinstance(value, str)
    if element_type == "bool":
        return not isinstance(value, bool)
    return False


@dataclass(frozen=True)
class Tally:
    """One window's aggregates: drift counts (None without drift bins) and quality counters."""

    requests: int
    rows: int
    counts: drift_metrics.Counts | None
    quality: dict[str, int]


def tally(entries: Iterable[tuple[Sequence[Any], Sequence[Any]]], reference: Reference
          ) -> Tally:
    """Count logged predictions — (input records, output records) per request — into a
    window's aggregates. The values are gathered per column and counted with numpy: a million
    rows take a few seconds, once."""
    columns = list(reference.columns)
    schema = dict(reference.schema)
    gathered: dict[str, list[Any]] = {name: [] for name in columns}
    scores: list[float] = []
    requests = violations = 0
    known = set(schema)
    for inputs, outputs in entries:
        requests += 1
        outputs = outputs if isinstance(outputs, list) else []
        for i, record in enumerate(inputs if isinstance(inputs, list) else []):
            if not isinstance(record, dict):
                violations += 1
                for name in columns:
                    gathered[name].append(None)
                scores.append(math.nan)
                continue
            if set(record) != known or any(_wrong_type(record.get(name), kind)
                                           for name, kind in schema.items()):
                violations += 1
            for name in columns:
                gathered[name].append(record.get(name))
            score = score_of(outputs[i] if i < len(outputs) else None, reference.score_output,
                             reference.score_column)
            scores.append(math.nan if score is None else score)
    rows = len(scores)
    quality = dict.fromkeys(QUALITY_KEYS, 0)
    quality["rows"], quality["schema_violations"] = rows, violations
    if rows == 0:
        return Tally(requests=requests, rows=0, counts=None, quality=quality)
    frame: dict[str, Any] = {}
    for name in columns:
        raw = pd.Series(gathered[name], dtype=object)
        missing = raw.isna()
        quality["values"] += rows
        quality["missing"] += int(missing.sum())
        if name not in reference.bins.columns:
            frame[name] = raw  # no reference for it: only missing values are counted
        elif name in reference.bins.numeric:
            numbers = pd.to_numeric(raw, errors="coerce").astype(np.float64)
            frame[name] = numbers
            low, high = reference.ranges.get(name, (-math.inf, math.inf))
            present = numbers[~missing].to_numpy()
            quality["checked"] += int((~missing).sum())
            quality["out_of_range"] += int((np.isnan(present) | (present < low)
                                            | (present > high)).sum())
        else:
            frame[name] = raw
            known_categories = reference.categories.get(name, frozenset())
            present_values = raw[~missing]
            quality["checked"] += len(present_values)
            quality["out_of_range"] += int((~present_values.isin(list(known_categories))).sum())
    counts = None
    if reference.bins.columns or reference.bins.prediction:
        counts = drift_metrics.count(
            pd.DataFrame(frame), reference.bins,
            scores=np.asarray(scores, dtype=np.float64) if reference.bins.prediction else None)
    return Tally(requests=requests, rows=rows, counts=counts, quality=quality)


@dataclass(frozen=True)
class Window:
    """A stored window as the period's statistics read it."""

    start_s: float
    end_s: float
    rows: int
    counts: drift_metrics.Counts | None
    quality: Mapping[str, int]


def merge_counts(windows: Sequence[Window]) -> drift_metrics.Counts | None:
    merged: drift_metrics.Counts | None = None
    for window in windows:
        if window.counts is None:
            continue
        merged = window.counts if merged is None else merged.merge(window.counts)
    return merged


def period_statistics(reference: Reference | None, windows: Sequence[Window]
                      ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """The statistics of a period from its windows (oldest first), and the details a page
    shows (per-feature drift, counters)."""
    stats: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    quality = {key: sum(int(w.quality.get(key, 0)) for w in windows) for key in QUALITY_KEYS}
    details["quality"] = quality
    rows = quality["rows"]
    stats["missing_rate"] = quality["missing"] / quality["values"] if quality["values"] else None
    stats["out_of_range_rate"] = quality["out_of_range"] / quality["checked"] \
        if quality["checked"] else None
    stats["schema_violation_rate"] = quality["schema_violations"] / rows if rows else None
    stats["volume_change"] = volume_change(windows)
    stats["max_psi"] = stats["max_ks_statistic"] = stats["prediction_psi"] = None
    merged = merge_counts(windows)
    if reference is not None and merged is not None and merged.rows >= MIN_ROWS_FOR_DRIFT:
        result = drift_metrics.drift(reference.bins, reference.counts, merged)
        figures = result.figures()
        stats["max_psi"] = _number(figures.get("max_psi"))
        stats["max_ks_statistic"] = _number(figures.get("max_ks_statistic"))
        stats["prediction_psi"] = _number(figures.get("prediction_psi"))
        details["features"] = [{"column": f.column, "psi": _number(f.psi), "band": f.band,
                                "ks_statistic": _number(f.ks_statistic),
                                "chi2_pvalue": _number(f.chi2_pvalue)}
                               for f in result.features]
    return stats, details


DAY_S = 24 * 3600


def volume_change(windows: Sequence[Window]) -> float | None:
    """|rate of the latest window / the rate it is compared with - 1|, rates in rows per second.

    Traffic has a daily rhythm (a branch application is quiet at night), so the latest window is
    compared with the same hours a day earlier when the period's windows cover at least half of
    them; with less history, with the mean rate of the earlier windows. None with fewer than
    three earlier windows, or when the comparison had no traffic and now there is some (no
    baseline); quiet then and quiet now is no change."""
    timed = [w for w in windows if w.end_s > w.start_s]
    if len(timed) < 4:
        return None
    *earlier, latest = timed
    before = _rate_over(earlier, latest.start_s - DAY_S, latest.end_s - DAY_S)
    if before is None:
        before = sum(w.rows for w in earlier) / sum(w.end_s - w.start_s for w in earlier)
    now = latest.rows / (latest.end_s - latest.start_s)
    if before == 0:
        return 0.0 if now == 0 else None
    return abs(now / before - 1)


def _rate_over(windows: Sequence[Window], start_s: float, end_s: float) -> float | None:
    """The rows per second of ``windows`` over [start_s, end_s] (a window partly inside counts
    its share of rows), or None if they cover less than half of that span."""
    covered = rows = 0.0
    for w in windows:
        overlap = min(w.end_s, end_s) - max(w.start_s, start_s)
        if overlap > 0:
            covered += overlap
            rows += w.rows * overlap / (w.end_s - w.start_s)
    if covered < (end_s - start_s) / 2:
        return None
    return rows / covered


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Breach:
    statistic: str
    value: float
    limit: float
    severe: bool

    def as_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "value": self.value, "limit": self.limit,
                "severe": self.severe}


def breaches(statistics: Mapping[str, float | None],
             thresholds: Mapping[str, Mapping[str, float | None]]) -> list[Breach]:
    """The statistics above their limit (a statistic not computed breaches nothing: no data is
    shown as such, not as a breach)."""
    found = []
    for name, threshold in thresholds.items():
        value = statistics.get(name)
        limit = threshold.get("limit")
        if value is None or limit is None or not value > limit:
            continue
        severe_at = threshold.get("severe")
        found.append(Breach(statistic=name, value=value, limit=float(limit),
                            severe=severe_at is not None and value > severe_at))
    return found
