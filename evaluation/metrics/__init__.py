"""The evaluation checks: pure functions on numpy arrays, no Django (docs/evaluation-metrics.md).

``CHECKS`` maps a check's name to its function. Every check takes keyword arguments with shared
names and meanings — ``task``, ``y_true``, ``y_prob`` (classifiers) or ``y_pred`` (regressors),
``positive_class``, ``threshold``, ``classes``, ``groups`` (encoded sensitive features, see
``groups``), ``min_group_size``, ``n_bootstrap``, ``seed``, ``confidence`` — each taking the ones
it needs, and returns a frozen result with ``as_dict()`` (JSON-safe) and ``figures()`` (the flat
metric names policies read). Bad input raises ``MetricInputError``, a ValueError whose message
says what is wrong: answer it with a 400.
"""

from collections.abc import Callable
from typing import Any

from evaluation.metrics.bias import BiasResult, BiasTally, bias, bias_result, bias_tally
from evaluation.metrics.bootstrap import BootstrapSpec, poisson_weights
from evaluation.metrics.calibration import CalibrationResult, calibration
from evaluation.metrics.groups import (
    MISSING,
    BinSpec,
    Grouping,
    bin_column,
    encode_column,
    encode_columns,
    intersect,
)
from evaluation.metrics.inputs import MetricInputError, Task
from evaluation.metrics.performance import PerformanceResult, performance
from evaluation.metrics.results import CheckResult, Estimate, canonical_json, digest

CHECKS: dict[str, Callable[..., Any]] = {
    "performance": performance,
    "bias": bias,
    "calibration": calibration,
}

__all__ = [
    "CHECKS",
    "MISSING",
    "BiasResult",
    "BiasTally",
    "BinSpec",
    "BootstrapSpec",
    "CalibrationResult",
    "CheckResult",
    "Estimate",
    "Grouping",
    "MetricInputError",
    "PerformanceResult",
    "Task",
    "bias",
    "bias_result",
    "bias_tally",
    "bin_column",
    "calibration",
    "canonical_json",
    "digest",
    "encode_column",
    "encode_columns",
    "intersect",
    "performance",
    "poisson_weights",
]
