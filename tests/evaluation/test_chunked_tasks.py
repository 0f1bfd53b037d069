"""Multiclass and regression runs in chunks give the one-pass results: the same data set
evaluated in one pass and in chunks (CSV and Parquet, several chunk sizes), every check those
models run compared figure by figure.

A multiclass model (the credit amount's band) runs performance, bias, calibration and drift; a
regressor (the credit amount) runs performance, bias, robustness, drift and explanations (on
the seeded sample gathered from the chunks)."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from evaluation import chunked, engine
from evaluation import services as evaluation
from evaluation.models import Dataset
from governance import services as governance
from registry import services as registry
from registry.models import ModelVersion
from tests.evaluation.conftest import GERMAN_CSV, MEDIUM, SENSITIVE
from tests.evaluation.part2_models import multiclass_frame, multiclass_model, tree_model
from tests.evaluation.test_chunked import assert_same, numbers_close
from tests.registry.conftest import model_fields

MULTICLASS_CHECKS = ["performance", "bias", "calibration", "drift"]
REGRESSION_CHECKS = ["performance", "bias", "robustness", "drift", "explainability"]
OPTIONS = {"n_bootstrap": 30, "seed": 5, "shap_rows": 120}


def multiclass_data() -> pd.DataFrame:
    features, band = multiclass_frame(pd.read_csv(GERMAN_CSV).drop(columns=["good_credit"]))
    return features.assign(amount_band=band)


def regression_data() -> pd.DataFrame:
    return pd.read_csv(GERMAN_CSV).drop(columns=["good_credit"])


def reference_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The shorter loans: the evaluation rows drift from it."""
    return frame[frame["duration"] <= 24].reset_index(drop=True)


def as_bytes(frame: pd.DataFrame, file_format: str) -> bytes:
    buffer = io.BytesIO()
    if file_format == "parquet":
        frame.to_parquet(buffer, row_group_size=300)
    else:
        frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def both_ways(task: str, built, frame: pd.DataFrame, label: str, favourable: str,
              checks: list[str], file_format: str, chunk_rows: int, **extra):
    args = {"task": task, "model_bytes": built.onnx_bytes, "input_specs": built.specs,
            "label_column": label, "favourable_class": favourable, "threshold": None,
            "checks": checks, "sensitive_features": SENSITIVE, "options": OPTIONS,
            "inputs": {"artifact_digest": "b" * 64}, "reference": reference_of(frame), **extra}
    expected = engine.evaluate(frame=frame, **args)
    steps: list = []
    actual = chunked.evaluate_chunked(
        data=io.BytesIO(as_bytes(frame, file_format)), file_format=file_format,
        chunk_rows=chunk_rows, report=lambda p, s: steps.append(s), **args)
    return expected, actual, steps


@pytest.mark.parametrize(("file_format", "chunk_rows"), [("csv", 137), ("parquet", 300)])
def test_a_multiclass_run_in_chunks_gives_the_one_pass_results(file_format, chunk_rows):
    expected, actual, steps = both_ways(
        "multiclass_classification", multiclass_model(), multiclass_data(), "amount_band",
        "high", MULTICLASS_CHECKS, file_format, chunk_rows)
    checks = expected.results["checks"]
    figures = checks["performance"]["figures"]
    assert {"recall[high]", "roc_auc[low]", "pr_auc[mid]"} <= set(figures)
    assert figures["roc_auc_ci_low"] < figures["roc_auc"] < figures["roc_auc_ci_high"]
    assert checks["bias"]["result"]["positive_class"] == "high"
    assert checks["calibration"]["result"]["positive_class"] == "high"
    assert checks["drift"]["figures"]["max_psi"] > 0.1
    # 1,000 rows have fewer distinct scores per class than the AUC histograms have bins, so
    # even the AUC and average-precision intervals are the one-pass ones; all to 1e-9.
    assert_same(expected.results, actual.results)
    chunks = math.ceil(1000 / chunk_rows)
    assert f"Chunk {2 * chunks} of {2 * chunks} evaluated" in steps  # two passes


@pytest.mark.parametrize(("file_format", "chunk_rows"), [("csv", 137), ("parquet", 300)])
def test_a_regression_run_in_chunks_gives_the_one_pass_results(file_format, chunk_rows):
    expected, actual, steps = both_ways(
        "regression", tree_model("gbr"), regression_data(), "credit_amount", "",
        REGRESSION_CHECKS, file_format, chunk_rows,
        monotone={"duration": "increasing"})
    checks = expected.results["checks"]
    assert set(checks["performance"]["figures"]) >= {"rmse", "mae", "r2", "r2_ci_low"}
    assert "mae_difference" in checks["bias"]["figures"]
    assert checks["robustness"]["result"]["monotonicity"][0]["rows"] == 1000
    assert checks["drift"]["result"]["prediction"] is not None
    assert actual.results["checks"]["explainability"]["result"]["sample"]["gathered"] == \
        "chunks"
    # One pass, no second stage: a regressor's sums need no bins fixed from all the rows.
    chunks = math.ceil(1000 / chunk_rows)
    assert f"Chunk {chunks} of {chunks} evaluated" in steps
    for name in expected.results["checks"]:
        if name == "explainability":
            continue
        # Score shifts under perturbation to 1e-6 (ONNX Runtime may round a score one float32
        # ulp differently in another batch); everything else to 1e-9.
        numbers_close(checks[name], actual.results["checks"][name], name,
                      tolerance=1e-9 if name != "robustness" else 1e-6)
    shap = checks["explainability"]["result"]
    chunked_shap = actual.results["checks"]["explainability"]["result"]
    assert {k: v for k, v in shap.items() if k != "sample"} == \
        {k: v for k, v in chunked_shap.items() if k != "sample"}
    assert {k: v for k, v in expected.results.items() if k != "checks"} == \
        {k: v for k, v in actual.results.items() if k != "checks"}


def test_a_multiclass_chunk_without_intervals_needs_one_pass_only_without_calibration():
    frame = multiclass_data()
    built = multiclass_model()
    plan = chunked.prepare(
        source=io.BytesIO(as_bytes(frame, "csv")), file_format="csv",
        task="multiclass_classification", label_column="amount_band",
        favourable_class="high", threshold=0.3, checks=["performance", "bias"],
        sensitive_features=SENSITIVE, options={"n_bootstrap": 0}, chunk_rows=400,
        model_bytes=built.onnx_bytes, input_specs=built.specs)
    assert (plan.classes, plan.positive, plan.threshold) == (["high", "low", "mid"], "high", None)
    assert not plan.needs_second_stage
    expected = engine.evaluate(task="multiclass_classification", model_bytes=built.onnx_bytes,
                               input_specs=built.specs, frame=frame, label_column="amount_band",
                               favourable_class="high", threshold=None,
                               checks=["performance", "bias"], sensitive_features=SENSITIVE,
                               options={"n_bootstrap": 0})
    actual = chunked.evaluate_chunked(
        model_bytes=built.onnx_bytes, input_specs=built.specs, task="multiclass_classification",
        data=io.BytesIO(as_bytes(frame, "csv")), file_format="csv", label_column="amount_band",
        favourable_class="high", threshold=None, checks=["performance", "bias"],
        sensitive_features=SENSITIVE, options={"n_bootstrap": 0}, inputs={}, chunk_rows=400)
    assert_same(expected.results, actual.results)


@pytest.mark.parametrize(("task", "checks", "message"), [
    ("regression", ["performance", "calibration"], "Calibration needs predicted probabilities"),
    ("multiclass_classification", ["performance", "robustness"],
     "robustness check is computed for binary classification and regression models only"),
    ("regression", ["performance", "mitigation"],
     "mitigation check is computed for binary classification models only"),
])
def test_a_check_the_model_cannot_take_is_refused_before_any_chunk(task, checks, message):
    with pytest.raises(engine.EngineError, match=message):
        chunked.prepare(source=io.BytesIO(b"a\n1\n"), file_format="csv", task=task,
                        label_column="a", favourable_class="", threshold=None, checks=checks,
                        sensitive_features=SENSITIVE, options={}, chunk_rows=10)


def registered(people, task: str, built, frame: pd.DataFrame, label: str,
               favourable: str) -> tuple[ModelVersion, Dataset]:
    """A model of ``task`` registered with ``built``'s ONNX graph and ``frame`` as its data."""
    governance.ensure_policy_templates()
    extra = {"favourable_class": favourable} if favourable else {}
    name = f"Credit amount {task.replace('_', ' ')}"
    model = registry.model_create(actor=people["dana"], team=people["dana"].teams.first(),
                                  **model_fields(name=name, task=task), **extra)
    governance.intake_record(actor=people["dana"], model=model, is_model=True, answers=MEDIUM,
                             rationale="A credit amount model.")
    artifact = io.BytesIO(built.onnx_bytes)
    artifact.name = "amount.onnx"
    version = registry.version_create(actor=people["dana"], model=model, artifact=artifact)
    dataset = evaluation.dataset_upload(
        actor=people["dana"], model=model, file=io.BytesIO(frame.to_csv(index=False).encode()),
        filename="amounts.csv", label_column=label, sensitive_features=SENSITIVE)
    return version, dataset


@pytest.mark.parametrize("kind", ["multiclass_classification", "regression"])
def test_a_launched_run_above_the_size_setting_is_chunked_with_the_one_pass_results(
        db, people, queued_runs, settings, monkeypatch, django_capture_on_commit_callbacks,
        kind):
    if kind == "regression":
        frame, built, label, favourable = (regression_data(), tree_model("gbr"),
                                           "credit_amount", "")
        checks = ["performance", "bias", "robustness"]
    else:
        frame, built, label, favourable = (multiclass_data(), multiclass_model(),
                                           "amount_band", "high")
        checks = list(engine.PART_1)
    version, dataset = registered(people, kind, built, frame, label, favourable)

    def launch_and_run():
        with django_capture_on_commit_callbacks(execute=True):
            run = evaluation.run_launch(actor=people["dana"], version=version, dataset=dataset,
                                        checks=checks, options={"n_bootstrap": 20})
        assert queued_runs.run() == ["succeeded"], run.refresh_from_db() or run.error
        run.refresh_from_db()
        return run

    whole = launch_and_run()
    chunk_sizes: list[int] = []
    real = chunked.evaluate_chunked
    monkeypatch.setattr(chunked, "evaluate_chunked",
                        lambda **kw: chunk_sizes.append(kw["chunk_rows"]) or real(**kw))
    settings.EVALUATION_CHUNKED_ABOVE_BYTES = dataset.size - 1
    settings.EVALUATION_CHUNK_ROWS = 250
    in_chunks = launch_and_run()
    assert chunk_sizes == [250]
    assert set(in_chunks.results["checks"]) == set(checks)
    for name in checks:  # robustness's score shifts to 1e-6, as above
        numbers_close(whole.results["checks"][name], in_chunks.results["checks"][name], name,
                      tolerance=1e-6 if name == "robustness" else 1e-9)
