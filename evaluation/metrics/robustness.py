"""Robustness: how much the model's answers move when its inputs are perturbed.

Six perturbations, each scored in one batched pass next to the unperturbed base pass (seven
inference passes in all):

* ``noise_low`` / ``noise_medium`` / ``noise_high``: Gaussian noise on every numeric column, with
  standard deviation 0.05, 0.10 and 0.25 times that column's standard deviation (integer columns
  rounded back to whole numbers, so the values stay valid for an integer input);
* ``category_swap``: 10% of the cells of each text column replaced by another value seen in it;
* ``missing``: 10% of the cells of each column that can be missing set to missing;
* ``out_of_range``: 10% of the cells of each numeric column moved one standard deviation beyond
  the seen minimum or maximum (half each way), and of each text column set to a value never seen.

Per perturbation: the flip rate (rows whose decision at the threshold changes), the metric drop
(accuracy for a classifier, RMSE for a regressor; positive means worse) and the largest and mean
score shift. Optionally, monotonicity: for each feature the model declares monotone, every row's
value is raised by one standard deviation and the score must not move the wrong way.

Chunks merge exactly. The random numbers of a cell are a function of the seed, the perturbation,
the column and the row's position in the whole data set (``row_offset`` + its position in the
chunk), not of how the data was cut; counts add up and maxima take the max. The noise scales,
ranges and seen categories come from a :class:`DataProfile` computed once beforehand (profiles
of chunks merge too), so every chunk perturbs by the same rules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics import kernels
from evaluation.metrics.results import to_json_safe
from evaluation.metrics.scoring import BATCH_SIZE, PredictFn

CHECK = "robustness"
UNSEEN_CATEGORY = "__unseen__"
MONOTONICITY_TOLERANCE = 1e-6  # score moves smaller than this are float noise, not violations


@dataclass(frozen=True)
class ColumnProfile:
    """What the perturbations need to know about one column, mergeable across chunks."""

    name: str
    kind: str  # "numeric" or "categorical"
    integer: bool  # numeric values are whole numbers of an integer dtype
    count: int = 0  # non-missing values
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean (Chan et al.'s parallel form)
    minimum: float = math.inf
    maximum: float = -math.inf
    categories: tuple[Any, ...] = ()  # seen values of a categorical column, in a fixed order

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else math.nan

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        if (other.name, other.kind, other.integer) != (self.name, self.kind, self.integer):
            raise ValueError(f"Cannot merge the profiles of {self.name!r} and {other.name!r}: "
                             f"they differ in name or type.")
        n = self.count + other.count
        if n == 0:
            return self
        delta = other.mean - self.mean
        return replace(
            self, count=n, mean=self.mean + delta * other.count / n,
            m2=self.m2 + other.m2 + delta * delta * self.count * other.count / n,
            minimum=min(self.minimum, other.minimum), maximum=max(self.maximum, other.maximum),
            categories=_ordered({*self.categories, *other.categories}))


@dataclass(frozen=True)
class DataProfile:
    """Profiles of the model's input columns."""

    columns: tuple[ColumnProfile, ...]

    def merge(self, other: DataProfile) -> DataProfile:
        if [c.name for c in self.columns] != [c.name for c in other.columns]:
            raise ValueError("Cannot merge profiles of different columns.")
        return DataProfile(tuple(a.merge(b) for a, b in zip(self.columns, other.columns,
                                                             strict=True)))


def profile(frame: pd.DataFrame, columns: Sequence[str]) -> DataProfile:
    """Profile ``columns`` of ``frame``: numeric dtypes are numeric, everything else categorical."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"The data lacks the column(s) {', '.join(absent)}.")
    profiles = []
    for name in columns:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[np.isfinite(values)]
            mean = float(values.mean()) if len(values) else 0.0
            profiles.append(ColumnProfile(
                name=name, kind="numeric", integer=pd.api.types.is_integer_dtype(series),
                count=len(values), mean=mean, m2=float(((values - mean) ** 2).sum()),
                minimum=float(values.min()) if len(values) else math.inf,
                maximum=float(values.max()) if len(values) else -math.inf))
        else:
            profiles.append(ColumnProfile(name=name, kind="categorical", integer=False,
                                          count=int(series.notna().sum()),
                                          categories=_ordered(set(series.dropna().unique()))))
    return DataProfile(tuple(profiles))


def _ordered(values: set[Any]) -> tuple[Any, ...]:
    return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


@dataclass(frozen=True)
class Settings:
    """How hard each perturbation pushes; results merge only under the same settings."""

    noise_levels: tuple[tuple[str, float], ...] = (
        ("noise_low", 0.05), ("noise_medium", 0.10), ("noise_high", 0.25))
    swap_rate: float = 0.10
    missing_rate: float = 0.10
    out_of_range_rate: float = 0.10
    out_of_range_spreads: float = 1.0  # how far beyond the seen range, in standard deviations
    monotone_step_spreads: float = 1.0  # the monotonicity probe's step, in standard deviations
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"noise_levels": dict(self.noise_levels), "swap_rate": self.swap_rate,
                "missing_rate": self.missing_rate, "out_of_range_rate": self.out_of_range_rate,
                "out_of_range_spreads": self.out_of_range_spreads,
                "monotone_step_spreads": self.monotone_step_spreads, "seed": self.seed}


@dataclass(frozen=True)
class PerturbationStats:
    """Counts and extremes of one perturbation over some rows; chunks merge exactly."""

    name: str
    columns: tuple[str, ...]  # the columns it changed
    rows: int
    flips: int | None  # decisions changed at the threshold (None: no threshold)
    nan_scores: int  # rows the model scored NaN once perturbed (counted as flips and errors)
    compared: int  # rows with a finite score before and after
    sum_abs_shift: float
    max_abs_shift: float
    errors: float | None  # misclassified rows, or the sum of squared errors (None: no labels)
    error_rows: int  # rows the errors are over

    def merge(self, other: PerturbationStats) -> PerturbationStats:
        if (other.name, other.columns) != (self.name, self.columns):
            raise ValueError(f"Cannot merge perturbation {other.name!r} into {self.name!r}.")
        return replace(
            self, rows=self.rows + other.rows, flips=_add(self.flips, other.flips),
            nan_scores=self.nan_scores + other.nan_scores,
            compared=self.compared + other.compared,
            sum_abs_shift=self.sum_abs_shift + other.sum_abs_shift,
            max_abs_shift=max(self.max_abs_shift, other.max_abs_shift),
            errors=_add(self.errors, other.errors), error_rows=self.error_rows + other.error_rows)


@dataclass(frozen=True)
class MonotonicityStats:
    """The monotonicity probe of one feature: rows whose score moved the wrong way."""

    column: str
    direction: int  # +1: the score must not fall as the value rises; -1: must not rise
    rows: int  # rows compared (finite scores before and after)
    violations: int
    max_violation: float  # the largest wrong-way score move

    def merge(self, other: MonotonicityStats) -> MonotonicityStats:
        if (other.column, other.direction) != (self.column, self.direction):
            raise ValueError(f"Cannot merge the monotonicity of {other.column!r} into "
                             f"{self.column!r}.")
        return replace(self, rows=self.rows + other.rows,
                       violations=self.violations + other.violations,
                       max_violation=max(self.max_violation, other.max_violation))


@dataclass(frozen=True)
class RobustnessResult:
    """The base pass and every perturbation's statistics; ``merge`` adds a chunk's."""

    task: str  # "classification" or "regression"
    threshold: float | None
    settings: Settings
    rows: int
    base_nan_scores: int
    base_errors: float | None
    base_error_rows: int
    perturbations: tuple[PerturbationStats, ...]
    monotonicity: tuple[MonotonicityStats, ...] = field(default=())

    @property
    def metric(self) -> str | None:
        if self.base_errors is None:
            return None
        return "accuracy" if self.task == "classification" else "rmse"

    def merge(self, other: RobustnessResult) -> RobustnessResult:
        if (other.task, other.threshold, other.settings) != (self.task, self.threshold,
                                                             self.settings):
            raise ValueError("Cannot merge robustness results run with different settings.")
        return replace(
            self, rows=self.rows + other.rows,
            base_nan_scores=self.base_nan_scores + other.base_nan_scores,
            base_errors=_add(self.base_errors, other.base_errors),
            base_error_rows=self.base_error_rows + other.base_error_rows,
            perturbations=_merge_all(self.perturbations, other.perturbations),
            monotonicity=_merge_all(self.monotonicity, other.monotonicity))

    def metric_value(self, errors: float | None, rows: int) -> float | None:
        """Accuracy or RMSE from summed errors."""
        if errors is None or rows == 0:
            return None
        return 1.0 - errors / rows if self.task == "classification" else math.sqrt(errors / rows)

    def summary(self, stats: PerturbationStats) -> dict[str, Any]:
        """Rates and the metric drop of one perturbation."""
        base = self.metric_value(self.base_errors, self.base_error_rows)
        after = self.metric_value(stats.errors, stats.error_rows)
        drop = None
        if base is not None and after is not None:
            drop = base - after if self.task == "classification" else after - base
        return {
            "name": stats.name, "columns": list(stats.columns), "rows": stats.rows,
            "flip_rate": stats.flips / stats.rows if stats.flips is not None and stats.rows
            else None,
            "nan_score_rate": stats.nan_scores / stats.rows if stats.rows else None,
            "metric_after": after, "metric_drop": drop,
            "max_score_shift": stats.max_abs_shift if stats.compared else None,
            "mean_score_shift": stats.sum_abs_shift / stats.compared if stats.compared
            else None,
        }

    def figures(self) -> dict[str, float | int | None]:
        """Flat figures for policy thresholds (see docs/evaluation-part2.md)."""
        summaries = [self.summary(p) for p in self.perturbations]
        figures: dict[str, float | int | None] = {
            "max_flip_rate": _max(s["flip_rate"] for s in summaries),
            "max_metric_drop": _max(s["metric_drop"] for s in summaries),
            "max_score_shift": _max(s["max_score_shift"] for s in summaries),
            "max_nan_score_rate": _max(s["nan_score_rate"] for s in summaries),
        }
        for s in summaries:
            for key in ("flip_rate", "metric_drop", "max_score_shift", "mean_score_shift"):
                figures[f"{key}_{s['name']}"] = s[key]
        if self.monotonicity:
            figures["monotonicity_violations"] = sum(m.violations for m in self.monotonicity)
            figures["monotonicity_violation_rate"] = _max(
                m.violations / m.rows if m.rows else None for m in self.monotonicity)
            figures["max_monotonicity_violation"] = max(m.max_violation
                                                        for m in self.monotonicity)
        return to_json_safe(figures)  # type: ignore[no-any-return]

    def as_dict(self) -> dict[str, Any]:
        return to_json_safe({  # type: ignore[no-any-return]
            "check": CHECK, "task": self.task, "threshold": self.threshold,
            "metric": self.metric, "rows": self.rows,
            "settings": self.settings.as_dict(), "base_nan_scores": self.base_nan_scores,
            "base_metric": self.metric_value(self.base_errors, self.base_error_rows),
            "perturbations": [self.summary(p) for p in self.perturbations],
            "monotonicity": [{"column": m.column, "direction": m.direction, "rows": m.rows,
                              "violations": m.violations,
                              "violation_rate": m.violations / m.rows if m.rows else None,
                              "max_violation": m.max_violation} for m in self.monotonicity],
            "figures": self.figures(),
        })


def robustness(frame: pd.DataFrame, predict: PredictFn, *, data_profile: DataProfile,
               labels: np.ndarray | None = None, task: str = "classification",
               threshold: float | None = 0.5, settings: Settings | None = None,
               missing_columns: Sequence[str] | None = None,
               monotone: Mapping[str, int] | None = None,
               row_offset: int = 0, base_scores: np.ndarray | None = None) -> RobustnessResult:
    """Perturb ``frame``'s profiled columns and score each perturbation with ``predict``.

    ``labels`` (1 = the favourable class whose score ``predict`` returns, or the regression
    target) give the metric drop; without them it is None. ``threshold`` turns scores into
    decisions (score >= threshold) for the flip rate; None for a regressor without a cutoff.
    ``missing_columns`` are the columns the missing perturbation may empty (default: the
    non-integer ones; an integer input cannot take a missing value — see
    :func:`evaluation.metrics.scoring.inputs_accepting_missing`). ``monotone`` maps a numeric
    column to +1 or -1. ``row_offset`` is this chunk's first row in the whole data set.
    ``base_scores`` are ``predict(frame)`` when the caller has them already (the run engine
    scored the rows for part 1): the base pass is then not made again.
    """
    settings = settings or Settings()
    monotone = dict(monotone or {})
    if task not in ("classification", "regression"):
        raise ValueError("task is 'classification' or 'regression'.")
    if task == "classification" and threshold is None:
        raise ValueError("A classifier needs a decision threshold for the flip rate.")
    by_name = {c.name: c for c in data_profile.columns}
    absent = [c for c in by_name if c not in frame.columns]
    if absent:
        raise ValueError(f"The data lacks the column(s) {', '.join(absent)}.")
    for column, direction in monotone.items():
        if column not in by_name or by_name[column].kind != "numeric":
            raise ValueError(f"Monotonicity is checked on numeric model inputs; {column!r} is "
                             f"not one.")
        if direction not in (1, -1):
            raise ValueError(f"The direction of {column!r} is +1 (increasing) or -1 "
                             f"(decreasing), not {direction!r}.")
    if missing_columns is None:
        missing_columns = [c.name for c in data_profile.columns if not c.integer]
    unknown = [c for c in missing_columns if c not in by_name]
    if unknown:
        raise ValueError(f"Missing values can only be put in profiled columns, not "
                         f"{', '.join(unknown)}.")
    y = None if labels is None else _labels(labels, task)
    if y is not None and y.shape != (len(frame),):
        raise ValueError(f"There are {len(frame)} rows but {len(y)} labels.")

    rows = np.arange(row_offset, row_offset + len(frame), dtype=np.uint64)
    if base_scores is None:
        base = _scores(predict, frame)
    else:
        base = np.asarray(base_scores, dtype=np.float64).reshape(-1)
        if len(base) != len(frame):
            raise ValueError(f"There are {len(frame)} rows but {len(base)} base scores.")
    base_errors, base_error_rows = _errors(base, y, task, threshold)
    perturbations = []
    plans = [*((name, _noise(level)) for name, level in settings.noise_levels),
             ("category_swap", _swap), ("missing", _missing(set(missing_columns))),
             ("out_of_range", _out_of_range)]
    for name, plan in plans:

        def perturb(block: pd.DataFrame, block_rows: np.ndarray,
                    name: str = name, plan: Plan = plan) -> dict[str, np.ndarray]:
            changed = {}
            for profiled in data_profile.columns:
                values = plan(block[profiled.name], profiled, settings,
                              _Draws(settings.seed, name, profiled.name, block_rows))
                if values is not None:
                    changed[profiled.name] = values
            return changed

        columns, scores = _perturbed_scores(predict, frame, rows, perturb)
        perturbations.append(_compare(name, columns, base, scores, y, task, threshold))
    monotonicity = []
    for column, direction in monotone.items():
        _, scores = _perturbed_scores(
            predict, frame, rows,
            lambda block, _rows, column=column: {
                column: _monotone_step(block[column], by_name[column], settings)})
        moved = (scores - base) * direction
        finite = np.isfinite(moved)
        wrong = -moved[finite]
        violating = wrong > MONOTONICITY_TOLERANCE
        monotonicity.append(MonotonicityStats(
            column=column, direction=direction, rows=int(finite.sum()),
            violations=int(violating.sum()),
            max_violation=float(wrong[violating].max()) if violating.any() else 0.0))
    return RobustnessResult(
        task=task, threshold=threshold, settings=settings, rows=len(frame),
        base_nan_scores=int(np.isnan(base).sum()), base_errors=base_errors,
        base_error_rows=base_error_rows, perturbations=tuple(perturbations),
        monotonicity=tuple(monotonicity))


def merge(results: Sequence[RobustnessResult]) -> RobustnessResult:
    """The result of all the chunks' rows, from the chunks' results."""
    if not results:
        raise ValueError("There are no robustness results to merge.")
    merged = results[0]
    for result in results[1:]:
        merged = merged.merge(result)
    return merged


# ---------------------------------------------------------------------------------------------
# The perturbations: each returns a column's new values, or None to leave the column as it is.

class _Draws:
    """Uniform numbers in (0, 1) for the cells of one column of one perturbation.

    Counter-based: the number for a cell is SplitMix64 of (a key hashed from seed, perturbation,
    column and purpose) plus the row's index in the whole data set, so a chunk draws exactly
    what the one-pass run draws for the same rows.
    """

    def __init__(self, seed: int, perturbation: str, column: str, rows: np.ndarray) -> None:
        self.prefix = f"{seed}\x00{perturbation}\x00{column}\x00"
        self.rows = rows

    def uniform(self, purpose: str) -> np.ndarray:
        key = int.from_bytes(
            hashlib.blake2b((self.prefix + purpose).encode(), digest_size=8).digest(), "little")
        return kernels.splitmix_uniform(self.rows, key)

    def normal(self, purpose: str) -> np.ndarray:
        from scipy.special import ndtri

        return np.asarray(ndtri(self.uniform(purpose)), dtype=np.float64)


Plan = Any  # Callable[[pd.Series, ColumnProfile, Settings, _Draws], np.ndarray | None]


def _noise(level: float) -> Plan:
    def plan(series: pd.Series, column: ColumnProfile, settings: Settings,
             draws: _Draws) -> np.ndarray | None:
        if column.kind != "numeric" or not column.std > 0:
            return None
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        noisy = values + level * column.std * draws.normal("noise")
        return _like(column, noisy)
    return plan


def _swap(series: pd.Series, column: ColumnProfile, settings: Settings,
          draws: _Draws) -> np.ndarray | None:
    if column.kind != "categorical" or len(column.categories) < 2:
        return None
    categories = np.empty(len(column.categories), dtype=object)
    categories[:] = column.categories
    values: np.ndarray = series.to_numpy(dtype=object, copy=True)
    chosen = draws.uniform("which") < settings.swap_rate
    current = pd.Categorical(series, categories=column.categories).codes
    # another seen value, uniformly: pick among the k-1 others by skipping the current one
    seen = current >= 0
    k = len(categories) - seen.astype(np.int64)
    pick = np.minimum((draws.uniform("to") * k).astype(np.int64), k - 1)
    pick = np.where(seen & (pick >= current), pick + 1, pick)
    values[chosen] = categories[pick[chosen]]
    return values


def _missing(allowed: set[str]) -> Plan:
    def plan(series: pd.Series, column: ColumnProfile, settings: Settings,
             draws: _Draws) -> np.ndarray | None:
        if column.name not in allowed:
            return None
        chosen = draws.uniform("which") < settings.missing_rate
        if column.kind == "numeric":
            values: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            values[chosen] = np.nan
        else:
            values = series.to_numpy(dtype=object, copy=True)
            values[chosen] = None
        return values
    return plan


def _out_of_range(series: pd.Series, column: ColumnProfile, settings: Settings,
                  draws: _Draws) -> np.ndarray | None:
    chosen = draws.uniform("which") < settings.out_of_range_rate
    if column.kind == "categorical":
        values: np.ndarray = series.to_numpy(dtype=object, copy=True)
        values[chosen] = UNSEEN_CATEGORY
        return values
    if not (column.std > 0 and math.isfinite(column.minimum)):
        return None
    distance = settings.out_of_range_spreads * column.std
    above = draws.uniform("side") < 0.5
    values = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    values[chosen & above] = column.maximum + distance
    values[chosen & ~above] = column.minimum - distance
    if column.integer:  # stay outside the range after rounding
        values[chosen & above] = np.ceil(values[chosen & above])
        values[chosen & ~above] = np.floor(values[chosen & ~above])
    return _like(column, values)


def _monotone_step(series: pd.Series, column: ColumnProfile, settings: Settings) -> np.ndarray:
    step = settings.monotone_step_spreads * column.std if column.std > 0 else 1.0
    if column.integer:
        step = max(1.0, round(step))
    values = series.to_numpy(dtype=np.float64, na_value=np.nan) + step
    return _like(column, values)


def _like(column: ColumnProfile, values: np.ndarray) -> np.ndarray:
    """Numeric values of an integer column rounded back to whole numbers (int64)."""
    if column.integer and not np.isnan(values).any():
        return np.asarray(np.rint(values), dtype=np.int64)
    return values


def _perturbed_scores(predict: PredictFn, frame: pd.DataFrame, rows: np.ndarray,
                      perturb: Any) -> tuple[tuple[str, ...], np.ndarray]:
    """The scores of ``frame`` with the columns ``perturb(block, block_rows)`` returns replaced,
    and the names of those columns. The rows are perturbed and scored ``BATCH_SIZE`` at a time
    — the batches ``onnx_predict`` scores a whole frame in, so the model sees the same batches
    — and only one block's perturbed columns (float64 copies) are held at once, not the
    frame's: a draw depends on the row's index alone (``_Draws``), so the values are those of
    perturbing all rows together."""
    scores = np.empty(len(frame), dtype=np.float64)
    columns: tuple[str, ...] = ()
    for start in range(0, max(len(frame), 1), BATCH_SIZE):
        block = frame.iloc[start:start + BATCH_SIZE]
        changed = perturb(block, rows[start:start + BATCH_SIZE])
        columns = tuple(changed)
        scores[start:start + len(block)] = _scores(predict, _with_columns(block, changed))
    return columns, scores


def _with_columns(frame: pd.DataFrame, columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """A shallow copy of the frame with some columns replaced: the others are not copied."""
    perturbed = frame.copy(deep=False)
    for name, values in columns.items():
        perturbed[name] = values
    return perturbed


# ---------------------------------------------------------------------------------------------
# Comparing scores.

def _scores(predict: PredictFn, frame: pd.DataFrame) -> np.ndarray:
    scores = np.asarray(predict(frame), dtype=np.float64).reshape(-1)
    if len(scores) != len(frame):
        raise ValueError(f"The model returned {len(scores)} scores for {len(frame)} rows.")
    return scores


def _labels(labels: Any, task: str) -> np.ndarray:
    try:
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("Labels must be numbers: 0 or 1 for a classifier (1 = the favourable "
                         "class), the target value for a regressor.") from None
    if task == "classification" and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("A classifier's labels must be 0 or 1 (1 = the favourable class, whose "
                         "score the model returns).")
    return y


def _errors(scores: np.ndarray, y: np.ndarray | None, task: str, threshold: float | None
            ) -> tuple[float | None, int]:
    """Misclassified rows (a NaN score is an error), or the squared error over finite scores."""
    if y is None:
        return None, 0
    if task == "classification" and threshold is not None:
        decided = np.where(np.isnan(scores), -1, scores >= threshold)
        return float((decided != y).sum()), len(scores)
    finite = np.isfinite(scores)
    return float(((scores[finite] - y[finite]) ** 2).sum()), int(finite.sum())


def _compare(name: str, columns: tuple[str, ...], base: np.ndarray, scores: np.ndarray,
             y: np.ndarray | None, task: str, threshold: float | None) -> PerturbationStats:
    base_nan, nan = np.isnan(base), np.isnan(scores)
    flips = None
    if threshold is not None:
        changed = (base >= threshold) != (scores >= threshold)
        flips = int(((changed & ~base_nan & ~nan) | (base_nan != nan)).sum())
    both = ~base_nan & ~nan
    shift = np.abs(scores[both] - base[both])
    errors, error_rows = _errors(scores, y, task, threshold)
    return PerturbationStats(
        name=name, columns=columns, rows=len(scores), flips=flips, nan_scores=int(nan.sum()),
        compared=int(both.sum()), sum_abs_shift=float(shift.sum()),
        max_abs_shift=float(shift.max()) if len(shift) else 0.0, errors=errors,
        error_rows=error_rows)


def _add(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def _max(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _merge_all(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(a) != len(b):
        raise ValueError("Cannot merge results with different perturbations.")
    return tuple(x.merge(y) for x, y in zip(a, b, strict=True))
