"""The run engine: the same inputs give the same digest; its figures are scikit-learn's on the
model's own scores; the results carry what they were computed on."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from evaluation import engine
from evaluation.metrics import digest
from evaluation.metrics.scoring import inference_session
from registry.artifacts import inspect_artifact
from registry.onnx_feed import onnx_feed
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE


@pytest.fixture(scope="module")
def specs(demo_onnx) -> list[dict]:
    return [t.as_dict() for t in inspect_artifact(io.BytesIO(demo_onnx),
                                                  max_bytes=10**9).inputs]


def run(demo_onnx, specs, frame=None, **kw):
    steps = []
    args = {"task": "binary_classification", "model_bytes": demo_onnx, "input_specs": specs,
            "frame": pd.read_csv(GERMAN_CSV) if frame is None else frame,
            "label_column": "good_credit", "favourable_class": "1", "threshold": 0.5,
            "checks": list(engine.PART_1), "sensitive_features": SENSITIVE,
            "options": {"n_bootstrap": 50}, "inputs": {"artifact_digest": "a" * 64},
            "report": lambda percent, step: steps.append(percent), **kw}
    return engine.evaluate(**args), steps


def test_the_same_inputs_give_the_same_digest(demo_onnx, specs):
    first, steps = run(demo_onnx, specs)
    second, _ = run(demo_onnx, specs)
    assert first.digest == second.digest
    assert [c.digest for c in first.checks] == [c.digest for c in second.checks]
    assert first.digest == digest(first.results)  # the digest covers the stored results
    assert steps == sorted(steps) and steps[0] > 0 and steps[-1] < 100
    # Another seed resamples differently: the intervals, so the digest, change.
    reseeded, _ = run(demo_onnx, specs, options={"n_bootstrap": 50, "seed": 7})
    assert reseeded.digest != first.digest
    assert reseeded.results["checks"]["performance"]["figures"]["roc_auc"] == \
        first.results["checks"]["performance"]["figures"]["roc_auc"]
    # Row order is part of the input (the bootstrap weights rows by position), the figures'
    # point estimates are not.
    shuffled, _ = run(demo_onnx, specs, frame=pd.read_csv(GERMAN_CSV).sample(frac=1,
                                                                             random_state=1))
    assert shuffled.results["checks"]["bias"]["figures"]["dp_ratio"] == \
        first.results["checks"]["bias"]["figures"]["dp_ratio"]


def test_figures_agree_with_scikit_learn_on_the_models_scores(demo_onnx, specs):
    outcome, _ = run(demo_onnx, specs)
    frame = pd.read_csv(GERMAN_CSV)
    (probabilities,) = inference_session(demo_onnx).run(["probabilities"],
                                                        onnx_feed(frame, specs))
    expected = roc_auc_score(frame.good_credit, np.asarray(probabilities)[:, 1])
    figures = outcome.results["checks"]["performance"]["figures"]
    assert figures["roc_auc"] == pytest.approx(expected, abs=1e-9)
    assert figures["accuracy"] == pytest.approx(
        ((np.asarray(probabilities)[:, 1] >= 0.5) == frame.good_credit).mean(), abs=1e-9)
    assert outcome.results["rows"] == 1000
    assert outcome.results["inputs"] == {"artifact_digest": "a" * 64}


def test_the_favourable_class_picks_the_probability_column(demo_onnx, specs):
    good, _ = run(demo_onnx, specs, checks=["performance"])
    bad, _ = run(demo_onnx, specs, checks=["performance"], favourable_class="0")
    assert good.results["checks"]["performance"]["figures"]["roc_auc"] == pytest.approx(
        bad.results["checks"]["performance"]["figures"]["roc_auc"], abs=1e-9)
    assert bad.results["checks"]["performance"]["result"]["positive_class"] == 0


def test_what_cannot_be_computed_is_an_engine_error(demo_onnx, specs):
    with pytest.raises(engine.EngineError, match="sensitive features"):
        run(demo_onnx, specs, sensitive_features=[])
    with pytest.raises(engine.EngineError, match="Choose checks"):
        run(demo_onnx, specs, checks=["shap"])


def test_a_regressor_is_scored_from_its_variable_output():
    from sklearn.metrics import mean_squared_error

    from tests.evaluation.part2_models import german_credit, tree_model

    built = tree_model("gbr")
    frame, _labels = german_credit()
    outcome = engine.evaluate(
        task="regression", model_bytes=built.onnx_bytes, input_specs=built.specs, frame=frame,
        label_column="credit_amount", favourable_class="", threshold=None,
        checks=["performance", "bias"], sensitive_features=SENSITIVE,
        options={"n_bootstrap": 20})
    expected = mean_squared_error(frame.credit_amount, built.pipeline.predict(
        frame.drop(columns=["credit_amount"]))) ** 0.5
    figures = outcome.results["checks"]["performance"]["figures"]
    assert figures["rmse"] == pytest.approx(expected, rel=1e-4)  # ONNX computes in float32
    assert "mae_difference" in outcome.results["checks"]["bias"]["figures"]


def test_a_multiclass_model_reads_its_probability_columns_in_sorted_label_order():
    from sklearn.linear_model import LogisticRegression

    from registry.demo import train_german_credit as demo
    from tests.evaluation.part2_models import _built, export, german_credit

    frame, _labels = german_credit()
    X = frame.drop(columns=["credit_amount"])
    y = pd.qcut(frame.credit_amount, 3, labels=["low", "mid", "high"]).astype(str)
    pipeline = demo.make_pipeline(*demo.feature_columns(X))
    pipeline.steps[-1] = ("classify", LogisticRegression(max_iter=500))
    pipeline.fit(X, y)
    built = _built(pipeline, export(pipeline, X))
    data = X.assign(amount_band=y)
    outcome = engine.evaluate(
        task="multiclass_classification", model_bytes=built.onnx_bytes,
        input_specs=built.specs, frame=data, label_column="amount_band",
        favourable_class="high", threshold=None, checks=list(engine.PART_1),
        sensitive_features=SENSITIVE, options={"n_bootstrap": 0})
    figures = outcome.results["checks"]["performance"]["figures"]
    assert figures["accuracy"] == pytest.approx((pipeline.predict(X) == y).mean(), abs=1e-9)
    assert {"recall[high]", "recall[low]", "recall[mid]"} <= set(figures)
    assert outcome.results["checks"]["calibration"]["result"]["positive_class"] == "high"
