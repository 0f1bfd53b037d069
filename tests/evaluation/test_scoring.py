"""The predict callable from an ONNX Runtime session: scores, batches, outputs, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.metrics.scoring import (
    FeedError,
    feed_with_missing,
    inference_session,
    inputs_accepting_missing,
    onnx_predict,
)
from tests.evaluation.part2_models import demo_model, german_credit, tree_model


def test_scores_are_the_favourable_class_probability_in_any_batch_size():
    built = demo_model()
    X, _y = german_credit()
    expected = built.pipeline.predict_proba(X)[:, 1]
    session = inference_session(built.onnx_bytes)
    for batch_size in (1, 7, 1000, 5000):
        scores = onnx_predict(session, built.specs, batch_size=batch_size)(X.iloc[:100])
        assert scores.dtype == np.float64 and scores.shape == (100,)
        assert np.abs(scores - expected[:100]).max() < 1e-5
    first = onnx_predict(session, built.specs, column=0)(X.iloc[:10])
    assert np.allclose(first, 1 - expected[:10], atol=1e-5)


def test_a_regressor_is_scored_from_its_variable_output():
    built = tree_model("gbr")
    X, _y = german_credit()
    scores = built.predict()(X.iloc[:50])
    assert np.abs(scores - built.pipeline.predict(X.iloc[:50])).max() < 1e-2  # float32 ~3000


def test_an_output_that_does_not_exist_is_refused():
    built = demo_model()
    session = inference_session(built.onnx_bytes)
    with pytest.raises(ValueError, match="no output 'score'"):
        onnx_predict(session, built.specs, output="score")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        onnx_predict(session, built.specs, batch_size=0)


def test_missing_text_is_fed_as_empty_and_missing_floats_as_nan():
    specs = [{"name": "purpose", "element_type": "string", "shape": [None, 1]},
             {"name": "amount", "element_type": "float", "shape": [None, 1]},
             {"name": "age", "element_type": "int64", "shape": [None, 1]}]
    frame = pd.DataFrame({"purpose": ["car", None, "tv"], "amount": [1.5, 2.5, np.nan],
                          "age": [30, 40, 50]})
    feed = feed_with_missing(frame, specs)
    assert feed["purpose"][:, 0].tolist() == ["car", "", "tv"]
    assert feed["amount"][:2, 0].tolist() == [1.5, 2.5] and np.isnan(feed["amount"][2, 0])
    assert feed["age"].dtype == np.int64
    with pytest.raises(FeedError, match="'age' has 1 missing value"):
        feed_with_missing(frame.assign(age=[30, None, 50]), specs)
    with pytest.raises(FeedError, match="no column named 'age'"):
        feed_with_missing(frame.drop(columns=["age"]), specs)
    assert inputs_accepting_missing(specs) == ("purpose", "amount")
