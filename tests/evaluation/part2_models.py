"""Models and data for the part-2 metric tests, built once per process.

The German credit data (``registry/demo``) with scikit-learn pipelines of the demo's shape — one-hot
encoding of the text columns, standard scaling of the numeric ones — ending in a logistic
regression (the demo model itself), a gradient-boosting classifier, a random forest or a
gradient-boosting regressor, each exported with skl2onnx as the one-input-per-raw-column graph
that Assay accepts.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics.scoring import PredictFn, inference_session, onnx_predict
from registry.artifacts import inspect_artifact
from registry.demo import train_german_credit as demo


@dataclass(frozen=True)
class Built:
    pipeline: Any  # the fitted scikit-learn Pipeline
    onnx_bytes: bytes
    specs: list[dict[str, Any]]  # the graph's input schema, as stored for a version

    @property
    def columns(self) -> list[str]:
        return [spec["name"] for spec in self.specs]

    def predict(self) -> PredictFn:
        return onnx_predict(inference_session(self.onnx_bytes), self.specs)


@functools.cache
def german_credit() -> tuple[pd.DataFrame, pd.Series]:
    return demo.load_data()


@functools.cache
def demo_model() -> Built:
    """The demo model: one-hot + scaling + logistic regression, trained as load_demo does."""
    pipeline, X_test, _y, _metrics = demo.train()
    return _built(pipeline, demo.export_onnx(pipeline, X_test))


@functools.cache
def tree_model(kind: str) -> Built:
    """A tree pipeline on all of the German credit data: "gbc", "forest" or "gbr" (regressor of
    the credit amount from the other columns)."""
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
    )

    X, y = german_credit()
    if kind == "gbr":
        X, y = X.drop(columns=["credit_amount"]), X["credit_amount"]
    estimator = {
        "gbc": lambda: GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=0),
        "forest": lambda: RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0),
        "gbr": lambda: GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0),
    }[kind]()
    pipeline = demo.make_pipeline(*demo.feature_columns(X))
    pipeline.steps[-1] = ("classify", estimator)
    pipeline.fit(X, y)
    return _built(pipeline, export(pipeline, X))


def export(pipeline: Any, sample: pd.DataFrame) -> bytes:
    """skl2onnx export with one input per raw column (the demo's export, for any estimator)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    used = {column for _name, step, columns in pipeline.named_steps["prepare"].transformers_
            if step != "drop" for column in columns}
    initial_types = []
    for column in (c for c in sample.columns if c in used):
        if pd.api.types.is_integer_dtype(sample[column]):
            initial_types.append((column, Int64TensorType([None, 1])))
        elif pd.api.types.is_numeric_dtype(sample[column]):
            initial_types.append((column, FloatTensorType([None, 1])))
        else:
            initial_types.append((column, StringTensorType([None, 1])))
    is_classifier = hasattr(pipeline, "predict_proba")
    model = to_onnx(pipeline, initial_types=initial_types,
                    options={"zipmap": False} if is_classifier else None,
                    target_opset=demo.TARGET_OPSET)
    return model.SerializeToString()


def _built(pipeline: Any, onnx_bytes: bytes) -> Built:
    info = inspect_artifact(io.BytesIO(onnx_bytes), max_bytes=len(onnx_bytes))
    return Built(pipeline=pipeline, onnx_bytes=onnx_bytes,
                 specs=[spec.as_dict() for spec in info.inputs])


def transformed(pipeline: Any, frame: pd.DataFrame) -> np.ndarray:
    """The pipeline's own transformed matrix (before its final estimator), as float32."""
    matrix = pipeline[:-1].transform(frame)
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else matrix
    return np.asarray(matrix, dtype=np.float32)


@functools.cache
def multiclass_model() -> Built:
    """The demo pipeline with a multinomial logistic regression of the credit amount's band
    ("low", "mid", "high": its thirds) from the other columns."""
    from sklearn.linear_model import LogisticRegression

    X, _y = german_credit()
    X, y = multiclass_frame(X)
    pipeline = demo.make_pipeline(*demo.feature_columns(X))
    pipeline.steps[-1] = ("classify", LogisticRegression(max_iter=500))
    pipeline.fit(X, y)
    return _built(pipeline, export(pipeline, X))


def multiclass_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """German credit without the credit amount, and the amount's band (the label)."""
    band = pd.qcut(frame.credit_amount, 3, labels=["low", "mid", "high"]).astype(str)
    return frame.drop(columns=["credit_amount"]), band
