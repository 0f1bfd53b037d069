"""Explanations and the mitigation what-if of a data set read in chunks: the seeded samples are
drawn from the row count and the seed alone, gathered across the chunks, and give the one-pass
results — the run's results then differ only in saying where the rows were gathered."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from evaluation import chunked, engine, sampled
from evaluation.metrics import mitigation as mitigation_metrics
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE
from tests.evaluation.part2_models import tree_model
from tests.evaluation.test_chunked import assert_same, parquet_bytes

CHECKS = ["performance", "explainability", "mitigation"]
ARGS = {"task": "binary_classification", "label_column": "good_credit",
        "favourable_class": "1", "threshold": 0.5, "checks": CHECKS,
        "sensitive_features": SENSITIVE,
        "options": {"n_bootstrap": 0, "seed": 5, "shap_rows": 60},
        "inputs": {"artifact_digest": "a" * 64},
        "mitigation": {"constraint": "demographic_parity", "disparity_limit": 0.1}}


def without_gathered(results: dict) -> dict:
    """The results with the one note that differs: where the sampled rows were gathered."""
    checks = results["checks"]
    for name in ("explainability", "mitigation"):
        result = checks[name]["result"]
        assert result["sample"]["gathered"] in ("one pass", "chunks")
        result["sample"].pop("gathered")
        checks[name].pop("digest")
    return results


def test_gathering_across_chunks_returns_the_rows_of_one_pass():
    frame = pd.read_csv(GERMAN_CSV)
    positions = np.array([0, 136, 137, 500, 998, 999])
    chunks = [frame.iloc[i:i + 137] for i in range(0, len(frame), 137)]
    gathered = sampled.gather_rows(iter(chunks), positions, ["age", "sex"])
    pd.testing.assert_frame_equal(gathered, frame.iloc[positions][["age", "sex"]]
                                  .reset_index(drop=True))
    with pytest.raises(ValueError, match="Row 1000 is beyond the data set's 1000 rows"):
        sampled.gather_rows(iter(chunks), np.array([3, 1000]))


@pytest.mark.parametrize(("file_format", "chunk_rows"), [("csv", 137), ("parquet", 64)])
def test_chunked_explanations_and_what_if_equal_one_pass(monkeypatch, file_format, chunk_rows):
    """Above its sample size (lowered to 400 rows here) the what-if analyses a seeded sample
    on both paths; the explanation explains the same 60 seeded rows against the same
    background. Every figure and importance is the one-pass one."""
    monkeypatch.setattr(mitigation_metrics, "SAMPLE_ROWS", 400)
    built = tree_model("gbc")
    frame = pd.read_csv(GERMAN_CSV)
    expected = engine.evaluate(model_bytes=built.onnx_bytes, input_specs=built.specs,
                               frame=frame, **ARGS)
    data = parquet_bytes() if file_format == "parquet" else GERMAN_CSV.read_bytes()
    steps: list = []
    actual = chunked.evaluate_chunked(
        model_bytes=built.onnx_bytes, input_specs=built.specs, data=io.BytesIO(data),
        file_format=file_format, chunk_rows=chunk_rows,
        report=lambda p, s: steps.append(s), **ARGS)

    explanation = actual.results["checks"]["explainability"]["result"]
    what_if = actual.results["checks"]["mitigation"]["result"]
    assert explanation["sample"] == {"drawn": "seeded", "rows": 1000, "gathered": "chunks"}
    assert what_if["sample"] == {"rows": 1000, "analysed": 400, "drawn": "seeded", "seed": 5,
                                 "gathered": "chunks"}
    assert explanation["method"] == "tree" and explanation["sample_rows"] == 60
    assert [f["feature"] for f in what_if["features"]] == ["sex", "age"]
    assert "Explaining and analysing the seeded samples" in steps
    assert expected.results["checks"]["mitigation"]["result"]["sample"]["gathered"] \
        == "one pass"
    assert_same(without_gathered(expected.results), without_gathered(actual.results))
