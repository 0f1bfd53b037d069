"""Results as evidence (evaluation.metrics.results): JSON-safe, flat figures, and a canonical
digest that the same inputs reproduce and different inputs change."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evaluation.metrics import (
    CHECKS,
    BinSpec,
    bin_column,
    canonical_json,
    digest,
    encode_column,
)
from evaluation.metrics.results import canonical, round_float


def _inputs(seed=0, n=2000):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    prob = np.clip(0.3 * y + rng.uniform(size=n) * 0.7, 0, 1)
    groups = [encode_column("sex", rng.choice(["f", "m"], n)),
              bin_column("age", rng.uniform(18, 80, n), BinSpec.of([25, 60]))]
    return y, prob, groups


def _run_all(y, prob, groups, seed=0):
    common = {"task": "binary_classification", "y_true": y, "y_prob": prob, "positive_class": 1,
              "n_bootstrap": 30, "seed": seed}
    return {"performance": CHECKS["performance"](threshold=0.5, **common),
            "bias": CHECKS["bias"](threshold=0.5, groups=groups, **common),
            "calibration": CHECKS["calibration"](groups=groups, **common)}


def test_the_same_inputs_give_the_same_digest_and_different_inputs_another():
    y, prob, groups = _inputs()
    first = {name: digest(result) for name, result in _run_all(y, prob, groups).items()}
    again = {name: digest(result) for name, result in _run_all(*_inputs()).items()}
    assert first == again
    assert all(len(d) == 64 for d in first.values())
    reseeded = {name: digest(r) for name, r in _run_all(y, prob, groups, seed=1).items()}
    assert all(reseeded[name] != first[name] for name in first)
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    changed = {name: digest(r) for name, r in _run_all(flipped, prob, groups).items()}
    assert all(changed[name] != first[name] for name in first)


def test_results_are_json_safe_and_figures_are_flat_numbers():
    y, prob, groups = _inputs(n=300)
    for name, result in _run_all(y, prob, groups).items():
        assert result.kind == name
        text = json.dumps(result.as_dict(), allow_nan=False)
        assert json.loads(text)["kind"] == name
        figures = result.figures()
        for key, value in figures.items():
            assert isinstance(key, str)
            assert value is None or (type(value) is float and math.isfinite(value)), key
    assert set(CHECKS) == {"performance", "bias", "calibration"}


def test_figure_names_policies_read():
    y, prob, groups = _inputs()
    results = _run_all(y, prob, groups)
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss",
            "roc_auc_ci_low", "roc_auc_ci_high"} <= set(results["performance"].figures())
    assert {"dp_difference", "dp_ratio", "eo_difference", "eo_ratio", "four_fifths_min_ratio",
            "four_fifths_pass", "dp_difference[sex]", "dp_difference[sex&age]",
            "small_groups"} <= set(results["bias"].figures())
    assert {"ece", "mce", "brier", "brier_reliability", "brier_resolution",
            "brier_uncertainty", "group_ece_max"} <= set(results["calibration"].figures())


@pytest.mark.parametrize("value, expected", [
    (0.1 + 0.2, 0.3), (1 / 3, 0.3333333333), (2 / 3, 0.6666666667),
    (123456789012345.0, 123456789000000.0), (-0.0, 0.0), (1e-300, 1e-300),
    (float("nan"), None), (float("inf"), None), (-float("inf"), None),
])
def test_floats_are_rounded_to_ten_significant_digits(value, expected):
    assert round_float(value) == expected


def test_canonical_json_sorts_keys_and_converts_numpy():
    value = {"b": np.float32(0.5), "a": [np.int64(3), np.bool_(True), (1.0, None)],
             "c": np.array([0.1 + 0.2, np.nan])}
    assert canonical_json(value) == '{"a":[3,true,[1.0,null]],"b":0.5,"c":[0.3,null]}'
    assert canonical({"é": "ü"}) == {"é": "ü"}
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical({1: "x"})
    with pytest.raises(TypeError, match="cannot put"):
        canonical({"x": object()})


def test_rounding_absorbs_summation_order():
    rng = np.random.default_rng(0)
    values = rng.uniform(size=10_000)
    forwards, backwards = float(np.sum(values)), float(sum(values[::-1].tolist()))
    assert canonical_json({"x": forwards}) == canonical_json({"x": backwards})


def test_stored_results_keep_full_precision_and_write_what_is_not_a_result_value_as_text():
    import pandas as pd

    from evaluation.metrics.results import to_json_safe
    value = {1: np.float64(1 / 3), "na": pd.NA, "nan": float("nan"), "pair": (1, np.int64(2)),
             "interval": pd.Interval(0, 1)}
    assert to_json_safe(value) == {"1": 1 / 3, "na": None, "nan": None, "pair": [1, 2],
                                   "interval": "(0, 1]"}
    with pytest.raises(TypeError):
        canonical(value)
