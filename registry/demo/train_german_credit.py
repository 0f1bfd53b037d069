"""Trains the demo credit model on the German credit data and exports it as one ONNX graph.

Run ``python -m registry.demo.train_german_credit --out german_credit.onnx`` to rebuild the demo
artifact; ``load_demo`` calls :func:`build_demo_artifact` to do the same. The split and the model
are fixed by ``RANDOM_STATE``, so the same data and library versions give a byte-identical file.

The model: a scikit-learn Pipeline — one-hot encoding of the categorical columns
(``handle_unknown="ignore"``) and standard scaling of the numeric ones, then a logistic
regression — over the raw columns, target ``good_credit``. It is exported with skl2onnx as a
single graph taking one input per raw column, so the ONNX model scores the CSV's rows as they are:

* categorical columns are ``string`` tensors of shape [N, 1];
* numeric columns are ``int64`` tensors of shape [N, 1]: every numeric value in the CSV is a
  whole number, pandas reads them as int64, and the graph casts them to float itself. A
  fractional or missing value is refused by :func:`registry.onnx_feed.onnx_feed` instead of
  being silently truncated.

Outputs: ``label`` (int64, 1 = good credit) and ``probabilities`` (float [N, 2], column 1 is
P(good)); ``zipmap=False`` keeps the probabilities a plain tensor.

Sensitive attributes: ``sex`` and ``foreign_worker`` are not features. Sex is a prohibited
basis for credit decisions (the US Equal Credit Opportunity Act; in the EU, the equal-treatment
directive 2004/113/EC covers financial services), and ``foreign_worker`` is a proxy for national
origin, also a protected ground. ``age`` is a feature, as in many scorecards where the law allows
it (ECOA permits age in empirically derived scoring systems as long as older applicants are not
scored down), which makes age bands a real fairness question for this model. All three columns
stay in the data, and in ``X_test``, so that evaluation can measure fairness across them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from registry.onnx_feed import onnx_feed

DATA_PATH = Path(__file__).with_name("german_credit.csv")
TARGET = "good_credit"
NOT_FEATURES = ("sex", "foreign_worker")  # kept in the data for fairness evaluation only
RANDOM_STATE = 20240611
TEST_SIZE = 0.25
# Pinned so that the file does not change with the installed onnx version, and so that older
# onnxruntime releases (1.20+) load it.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
TOLERANCE = 1e-5  # largest allowed |P_onnx - P_sklearn|


class ExportMismatch(RuntimeError):
    """The ONNX graph does not reproduce the scikit-learn pipeline's probabilities."""


@dataclass(frozen=True)
class DemoArtifact:
    """The written ONNX file and what is known about it."""

    path: Path
    sha256: str
    size: int
    metrics: dict[str, float]  # test split: roc_auc, accuracy, brier, log_loss, n_train, n_test
    training_data_sha256: str  # of the CSV file; the split is fixed by RANDOM_STATE
    columns: tuple[str, ...]  # the graph's inputs: raw feature columns, in CSV order
    max_abs_diff: float  # largest |P_onnx - P_sklearn| on the test split


def load_data(csv_path: Path = DATA_PATH) -> tuple[pd.DataFrame, pd.Series]:
    """The raw columns (all of them, sensitive ones included) and the target."""
    frame = pd.read_csv(csv_path)
    return frame.drop(columns=[TARGET]), frame[TARGET]


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Categorical (text) and numeric feature columns, in the frame's order."""
    features = [c for c in frame.columns if c not in NOT_FEATURES and c != TARGET]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    return categorical, numeric


def make_pipeline(categorical: list[str], numeric: list[str]) -> Pipeline:
    prepare = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
         ("numeric", StandardScaler(), numeric)],
        remainder="drop",  # sex and foreign_worker never reach the model
    )
    classifier = LogisticRegression(max_iter=2000, random_state=RANDOM_STATE)
    return Pipeline([("prepare", prepare), ("classify", classifier)])


def train(csv_path: Path = DATA_PATH) -> tuple[Pipeline, pd.DataFrame, pd.Series, dict[str, float]]:
    """Fit the pipeline on a stratified 75% split; return it, the 25% test split and its metrics.

    ``X_test`` holds every raw column (sensitive attributes too) for later evaluation.
    """
    X, y = load_data(csv_path)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=RANDOM_STATE)
    pipeline = make_pipeline(*feature_columns(X_train))
    pipeline.fit(X_train, y_train)
    p_good = pipeline.predict_proba(X_test)[:, 1]
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, p_good)),
        "accuracy": float(accuracy_score(y_test, (p_good >= 0.5).astype(int))),
        "brier": float(brier_score_loss(y_test, p_good)),
        "log_loss": float(log_loss(y_test, p_good)),
        "n_train": len(X_train),
        "n_test": len(X_test),
    }
    return pipeline, X_test, y_test, metrics


def export_onnx(pipeline: Pipeline, sample: pd.DataFrame) -> bytes:
    """Export the fitted pipeline as one ONNX graph with one input per raw feature column.

    ``sample`` supplies the column order and types (text -> string, integers -> int64, other
    numbers -> float); columns the pipeline does not use get no input.
    """
    from onnx import helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    used = {column for _name, step, columns in pipeline.named_steps["prepare"].transformers_
            if step != "drop" for column in columns}
    initial_types: list[tuple[str, Any]] = []
    for column in (c for c in sample.columns if c in used):
        dtype = sample[column].dtype
        if pd.api.types.is_integer_dtype(dtype):
            tensor_type = Int64TensorType([None, 1])
        elif pd.api.types.is_numeric_dtype(dtype):
            tensor_type = FloatTensorType([None, 1])
        else:
            tensor_type = StringTensorType([None, 1])
        initial_types.append((column, tensor_type))
    model = to_onnx(pipeline, initial_types=initial_types, options={"zipmap": False},
                    target_opset=TARGET_OPSET)
    # skl2onnx collects the opset imports in a set, whose order changes with Python's string
    # hashing from one process to the next; sorted, the file is byte-identical across runs.
    imports = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in imports)
    return model.SerializeToString()


def onnx_outputs(onnx_bytes: bytes, frame: pd.DataFrame,
                 input_specs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Run the ONNX graph on the frame's raw rows; return (label, probabilities)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"],
                                       onnx_feed(frame, input_specs))
    return label, probabilities


def check_agreement(pipeline: Pipeline, onnx_bytes: bytes, frame: pd.DataFrame,
                    input_specs: Sequence[Any]) -> float:
    """Largest |P_onnx - P_sklearn| over the frame; raise ExportMismatch above TOLERANCE.

    Labels must agree too, except where P is within TOLERANCE of the 0.5 threshold.
    """
    label, probabilities = onnx_outputs(onnx_bytes, frame, input_specs)
    expected = pipeline.predict_proba(frame)
    diff = float(np.max(np.abs(probabilities.astype(np.float64) - expected)))
    if diff > TOLERANCE:
        raise ExportMismatch(f"ONNX and scikit-learn probabilities differ by up to {diff:.3g} "
                             f"(allowed {TOLERANCE:g}); the export is not faithful.")
    decided = np.abs(expected[:, 1] - 0.5) > TOLERANCE
    disagree = int(np.sum(label[decided] != pipeline.predict(frame)[decided]))
    if disagree:
        raise ExportMismatch(f"ONNX and scikit-learn labels differ on {disagree} rows.")
    return diff


def build_demo_artifact(out_path: Path, csv_path: Path = DATA_PATH) -> DemoArtifact:
    """Train, export, pass Assay's artifact checks and the agreement check, write the file."""
    from registry.artifacts import inspect_artifact

    pipeline, X_test, _y_test, metrics = train(csv_path)
    onnx_bytes = export_onnx(pipeline, X_test)
    info = inspect_artifact(io.BytesIO(onnx_bytes), max_bytes=len(onnx_bytes))
    max_abs_diff = check_agreement(pipeline, onnx_bytes, X_test, info.inputs)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(onnx_bytes)
    return DemoArtifact(
        path=out_path, sha256=info.sha256, size=info.size, metrics=metrics,
        training_data_sha256=hashlib.sha256(Path(csv_path).read_bytes()).hexdigest(),
        columns=tuple(spec.name for spec in info.inputs), max_abs_diff=max_abs_diff,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the .onnx file")
    parser.add_argument("--data", type=Path, default=DATA_PATH, help="the German credit CSV")
    args = parser.parse_args(argv)
    demo = build_demo_artifact(args.out, args.data)
    print(f"wrote {demo.path} ({demo.size} bytes)")
    print(f"sha256={demo.sha256}")
    print(f"training_data_sha256={demo.training_data_sha256}")
    print(f"inputs={','.join(demo.columns)}")
    print("metrics=" + " ".join(f"{k}={v:.4g}" for k, v in demo.metrics.items()))
    print(f"max_abs_diff={demo.max_abs_diff:.3g} (tolerance {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
