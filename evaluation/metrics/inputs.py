"""The arrays a check receives, checked and put in one shape: labels that fit the task,
probabilities that are probabilities, predictions at the model's threshold.

Every problem raises ``MetricInputError`` (a ``ValueError``) with a message that names it and says
what to pass instead; the Django side answers it with a 400.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

# Rows of a multiclass probability matrix must sum to 1 within this (ONNX float32 outputs are
# off by ~1e-7; a matrix of raw scores is off by far more).
PROBABILITY_SUM_TOLERANCE = 1e-3


class MetricInputError(ValueError):
    """The arrays or options given to a check do not fit it; the message says what is wrong."""


class Task(StrEnum):
    """The model's task, spelled as the registry spells it."""

    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"
    REGRESSION = "regression"


def task_from(value: str | Task) -> Task:
    try:
        return Task(value)
    except ValueError:
        raise MetricInputError(f"Unknown task {value!r}: use one of "
                               f"{', '.join(t.value for t in Task)}.") from None


def json_label(value: Any) -> str | int | float | bool:
    """A class label as JSON can hold it: numpy scalars become Python ones, others text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


@dataclass(frozen=True, eq=False)
class BinaryData:
    """Binary classification rows: ``y`` and ``pred`` are 1 for the favourable class."""

    y: NDArray[np.int8]
    prob: NDArray[np.float64]  # probability of the favourable class
    pred: NDArray[np.int8]  # prob >= threshold
    positive_class: str | int | float | bool
    negative_class: str | int | float | bool | None  # None when the labels hold one class only
    threshold: float

    @property
    def n(self) -> int:
        return len(self.y)


@dataclass(frozen=True, eq=False)
class MulticlassData:
    """Multiclass rows: ``y`` and ``pred`` index ``classes`` (the columns of ``prob``)."""

    y: NDArray[np.intp]
    prob: NDArray[np.float64]  # shape (n, k)
    pred: NDArray[np.intp]  # the most probable class; the first column wins a tie
    classes: tuple[str | int | float | bool, ...]

    @property
    def n(self) -> int:
        return len(self.y)


@dataclass(frozen=True, eq=False)
class RegressionData:
    y: NDArray[np.float64]
    pred: NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.y)


def _first_rows(mask: NDArray[np.bool_], limit: int = 3) -> str:
    rows = np.flatnonzero(mask)[:limit]
    more = " ..." if int(mask.sum()) > limit else ""
    return ", ".join(str(int(r)) for r in rows) + more


def _one_dimensional(name: str, values: ArrayLike) -> NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise MetricInputError(f"{name} must be one value per row (1-D), got shape {array.shape}.")
    if len(array) == 0:
        raise MetricInputError(f"{name} is empty: a check needs at least one row.")
    return array


def _same_length(n: int, name: str, other: NDArray[Any]) -> None:
    if len(other) != n:
        raise MetricInputError(f"y_true has {n} rows but {name} has {len(other)}: pass one "
                               f"{name} value per labelled row.")


def _floats(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as float64, refusing text, booleans and missing or infinite values."""
    array = np.asarray(values)
    if array.dtype.kind == "b":
        raise MetricInputError(f"{name} holds booleans; pass numbers.")
    if array.dtype.kind in "OUS":
        kind = pd.api.types.infer_dtype(array.ravel(), skipna=False)
        if kind not in ("integer", "floating", "mixed-integer-float", "decimal"):
            raise MetricInputError(f"{name} must be numeric; it holds {kind} values "
                                   f"(for example {array.ravel()[0]!r}).")
    try:
        floats = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetricInputError(f"{name} must be numeric.") from None
    bad = ~np.isfinite(floats)
    if bad.any():
        raise MetricInputError(f"{name} has {int(bad.sum())} missing or infinite values (rows "
                               f"{_first_rows(bad.ravel())}); drop or fill them first.")
    return floats


def _labels(values: ArrayLike) -> NDArray[Any]:
    array = _one_dimensional("y_true", values)
    missing = np.asarray(pd.isna(array), dtype=bool)
    if missing.any():
        raise MetricInputError(f"y_true has {int(missing.sum())} missing labels (rows "
                               f"{_first_rows(missing)}); drop those rows or fill them.")
    return array


def _describe(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(json_label(v)) for v in values[:limit])
    return shown + (" ..." if len(values) > limit else "")


def _check_threshold(threshold: float | None) -> float:
    if threshold is None:
        raise MetricInputError("A binary classifier needs its decision threshold (the model "
                               "records it): pass threshold.")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
            or not 0.0 <= float(threshold) <= 1.0:
        raise MetricInputError(f"threshold must be a number from 0 to 1, got {threshold!r}.")
    return float(threshold)


def binary_data(y_true: ArrayLike, y_prob: ArrayLike, *, positive_class: Any,
                threshold: float | None) -> BinaryData:
    """Check binary-classification inputs: at most two label values, one of them (if there are
    two) the favourable class; ``y_prob`` the favourable class's probability, in [0, 1]."""
    if positive_class is None:
        raise MetricInputError("A binary classifier needs its favourable (positive) class (the "
                               "model records it): pass positive_class.")
    cut = _check_threshold(threshold)
    labels = _labels(y_true)
    values = list(pd.unique(labels))
    if len(values) > 2:
        raise MetricInputError(f"y_true holds {len(values)} different labels "
                               f"({_describe(sorted(values, key=str))}), but the task is binary "
                               "classification: use the multiclass task or relabel the rows.")
    positive = np.asarray(labels == positive_class, dtype=bool)
    if len(values) == 2 and not positive.any():
        hint = ""
        if any(str(v) == str(positive_class) for v in values):
            hint = (f" (the labels are {type(values[0]).__name__}, the favourable class is "
                    f"{type(positive_class).__name__}: give it as the same type)")
        raise MetricInputError(f"The favourable class {positive_class!r} is not one of the labels "
                               f"{_describe(values)}{hint}.")
    negatives = list(pd.unique(labels[~positive]))
    prob = _floats("y_prob", y_prob)
    if prob.ndim != 1:
        raise MetricInputError(f"For binary classification y_prob is the favourable class's "
                               f"probability, one per row (1-D); got shape {prob.shape}. Pass "
                               "the favourable class's column.")
    _same_length(len(labels), "y_prob", prob)
    outside = (prob < 0.0) | (prob > 1.0)
    if outside.any():
        raise MetricInputError(f"y_prob must be probabilities in [0, 1]; {int(outside.sum())} "
                               f"rows are outside (rows {_first_rows(outside)}).")
    return BinaryData(y=positive.astype(np.int8), prob=prob,
                      pred=(prob >= cut).astype(np.int8),
                      positive_class=json_label(positive_class),
                      negative_class=json_label(negatives[0]) if negatives else None,
                      threshold=cut)


def multiclass_data(y_true: ArrayLike, y_prob: ArrayLike, *,
                    classes: Sequence[Any] | None) -> MulticlassData:
    """Check multiclass inputs: ``y_prob`` an (n, k) probability matrix whose columns are
    ``classes``, every label one of ``classes``."""
    if classes is None or len(classes) < 2:
        raise MetricInputError("A multiclass classifier needs its classes, in the order of the "
                               "probability columns (at least two): pass classes.")
    class_list = list(classes)
    index = pd.Index(class_list)
    if not index.is_unique:
        raise MetricInputError(f"classes has repeated entries: {_describe(class_list)}.")
    labels = _labels(y_true)
    codes = np.asarray(index.get_indexer(labels), dtype=np.intp)
    unknown = codes < 0
    if unknown.any():
        raise MetricInputError(f"y_true holds labels that are not among the classes "
                               f"{_describe(class_list)}: "
                               f"{_describe(list(pd.unique(labels[unknown])))}.")
    prob = _floats("y_prob", y_prob)
    if prob.ndim != 2 or prob.shape[1] != len(class_list):
        raise MetricInputError(f"For multiclass classification y_prob is one probability per "
                               f"class per row, shape (rows, {len(class_list)}); got shape "
                               f"{prob.shape}.")
    _same_length(len(labels), "y_prob", prob)
    if (prob < 0.0).any() or (prob > 1.0).any():
        raise MetricInputError("y_prob must be probabilities in [0, 1].")
    off = np.abs(prob.sum(axis=1) - 1.0) > PROBABILITY_SUM_TOLERANCE
    if off.any():
        raise MetricInputError(f"Each row of y_prob must sum to 1 (probabilities, not scores); "
                               f"{int(off.sum())} rows do not (rows {_first_rows(off)}).")
    return MulticlassData(y=codes, prob=prob, pred=np.argmax(prob, axis=1).astype(np.intp),
                          classes=tuple(json_label(c) for c in class_list))


def regression_labels(y_true: ArrayLike) -> NDArray[np.float64]:
    """A regressor's labels as float64: numeric and finite, one per row."""
    return _floats("y_true (regression labels)", _one_dimensional("y_true", y_true))


def regression_data(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionData:
    """Check regression inputs: numeric labels and predictions, finite, one each per row."""
    y = regression_labels(y_true)
    pred = _floats("y_pred", _one_dimensional("y_pred", y_pred))
    _same_length(len(y), "y_pred", pred)
    return RegressionData(y=y, pred=pred)


def task_data(task: Task, y_true: ArrayLike, *, y_prob: ArrayLike | None,
              y_pred: ArrayLike | None, positive_class: Any, threshold: float | None,
              classes: Sequence[Any] | None) -> BinaryData | MulticlassData | RegressionData:
    """The checked rows for ``task``: classifiers take ``y_prob``, regressors ``y_pred``."""
    if task is Task.REGRESSION:
        if y_pred is None:
            raise MetricInputError("A regression check needs y_pred (the predicted values).")
        if y_prob is not None:
            raise MetricInputError("A regression model has no probabilities: pass y_pred only.")
        return regression_data(y_true, y_pred)
    if y_prob is None:
        raise MetricInputError("A classification check needs y_prob (the predicted "
                               "probabilities); predictions are derived from them.")
    if y_pred is not None:
        raise MetricInputError("For a classifier pass y_prob only: the predictions come from it "
                               "(binary: at the threshold; multiclass: the most probable class).")
    if task is Task.BINARY:
        return binary_data(y_true, y_prob, positive_class=positive_class, threshold=threshold)
    return multiclass_data(y_true, y_prob, classes=classes)
