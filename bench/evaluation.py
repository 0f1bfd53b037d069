"""Evaluation checks on 1,000,000 rows: Assay's group metrics against fairlearn's MetricFrame.

Run:  .venv/bin/python bench/evaluation.py        (BENCH_ROWS=200000 for a quicker run)

Generates BENCH_ROWS rows (default 1,000,000) x 22 columns: 20 numeric features and 2 sensitive
features (``sex``: female/male; ``age``: continuous, binned as <25 / 25 to <40 / 40 to <60 / ≥60,
1% missing). Trains a GradientBoostingClassifier on a 20,000-row sample, exports it to ONNX with
skl2onnx and scores every row with onnxruntime. Then:

(a) runs Assay's performance, bias and calibration checks exactly as the run engine calls them
    (200 bootstrap replicates) and prints their figures and times;
(b) times the group metrics both ways, on the same rows and the same groups — each of sex, age
    band and their intersection: count, selection rate, TPR, FPR, precision and accuracy per
    group, and the demographic-parity and equalized-odds differences and ratios:
    - Assay: encoding the raw sex and age columns into group codes (``encode_column``,
      ``bin_column``) plus ``bias(..., n_bootstrap=0)``;
    - fairlearn: one ``MetricFrame`` per grouping (the sex labels, the age-band labels and both
      as a DataFrame for the intersection; the band labels are prepared beforehand, untimed),
      plus the frames' ``difference()`` and ``ratio()``;
    checks that every figure agrees within 1e-9, prints both times, and ends with the line
    ``groups_speedup=Y``: fairlearn's time over Assay's (target >= 20).
"""

from __future__ import annotations

import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.metrics import (  # noqa: E402
    BinSpec,
    bias,
    bin_column,
    calibration,
    encode_column,
    performance,
)

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
FEATURES = 20
TRAIN_ROWS = 20_000
THRESHOLD = 0.5
AGE_BINS = BinSpec.of([25, 40, 60])
TOLERANCE = 1e-9


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and the two sensitive columns; the label depends on the features, and
    the features a little on the sensitive columns, so the model has disparities to find."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male"], dtype=object), n)
    age = rng.gamma(6.0, 7.0, n) + 18.0
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    x[:, 0] += np.where(sex == "male", 0.3, 0.0).astype(np.float32)
    x[:, 1] += ((age - 45.0) / 30.0).astype(np.float32)
    logit = (0.9 * x[:, 0] - 0.7 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + 0.4 * np.abs(x[:, 4])
             - 0.3 * x[:, 5] ** 2 + 0.2 * x[:, 6:12].sum(axis=1))
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    age[rng.uniform(size=n) < 0.01] = np.nan
    return x, y, sex, age


def train_and_score(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Train on a sample, export to ONNX, score every row with onnxruntime: P(y = 1)."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier

    started = time.perf_counter()
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    model.fit(x[:TRAIN_ROWS], y[:TRAIN_ROWS])
    onnx_model = to_onnx(model, x[:1], options={id(model): {"zipmap": False}},
                         target_opset={"": 17, "ai.onnx.ml": 3})
    trained = time.perf_counter()
    session = ort.InferenceSession(onnx_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    output = [o.name for o in session.get_outputs()].index("probabilities")
    prob = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), 200_000):
        chunk = session.run(None, {name: x[start:start + 200_000]})[output]
        prob[start:start + len(chunk)] = chunk[:, 1]
    print(f"model: GradientBoostingClassifier(100 trees, depth 3) on {TRAIN_ROWS} rows, "
          f"trained + exported in {trained - started:.1f}s; onnxruntime scored {len(x)} rows "
          f"in {time.perf_counter() - trained:.1f}s")
    return prob


def assay_checks(y: np.ndarray, prob: np.ndarray, sex: np.ndarray, age: np.ndarray) -> None:
    """(a) The three checks as the run engine calls them, with their bootstrap."""
    groups = [encode_column("sex", sex), bin_column("age", age, AGE_BINS)]
    common = {"task": "binary_classification", "y_true": y, "y_prob": prob,
              "positive_class": 1}
    for name, run in (
        ("performance", lambda: performance(threshold=THRESHOLD, **common)),
        ("bias", lambda: bias(threshold=THRESHOLD, groups=groups, **common)),
        ("calibration", lambda: calibration(groups=groups, **common)),
    ):
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
        figures = {k: v for k, v in result.figures().items() if "[" not in k and "_ci_" not in k}
        shown = " ".join(f"{k}={v:.4f}" if v is not None else f"{k}=None"
                         for k, v in figures.items())
        print(f"assay {name:<12} {elapsed:7.2f}s (200 bootstrap replicates)  {shown}")


def assay_groups(y: np.ndarray, prob: np.ndarray, sex: np.ndarray, age: np.ndarray):
    started = time.perf_counter()
    groups = [encode_column("sex", sex), bin_column("age", age, AGE_BINS)]
    result = bias(task="binary_classification", y_true=y, y_prob=prob, groups=groups,
                  positive_class=1, threshold=THRESHOLD, n_bootstrap=0)
    return result, groups, time.perf_counter() - started


def fairlearn_groups(y: np.ndarray, pred: np.ndarray, sensitive: dict[str, object]):
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {"count": count, "selection_rate": selection_rate, "tpr": true_positive_rate,
               "fpr": false_positive_rate, "precision": precision_score,
               "accuracy": accuracy_score}
    started = time.perf_counter()
    frames = {}
    for name, features in sensitive.items():
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=features)
        frames[name] = (frame.by_group, frame.difference(), frame.ratio())
    return frames, time.perf_counter() - started


def compare(result, frames) -> float:
    """The largest difference between Assay's and fairlearn's figures; raises if any group or
    figure is missing on either side."""
    worst = 0.0
    for view in result.groupings:
        by_group, difference, ratio = frames[view.name]
        by_group = by_group[by_group["count"].notna()]  # unobserved intersections
        assert len(by_group) == len(view.groups), view.name
        for group in view.groups:
            key = tuple(group.values.values()) if len(group.values) > 1 else group.label
            expected = by_group.loc[key]
            worst = max(worst, abs(group.count - expected["count"]))
            for name in ("selection_rate", "tpr", "fpr", "precision", "accuracy"):
                worst = max(worst, abs(group.metrics[name].value - expected[name]))
        d = {k: v.value for k, v in view.disparities.items()}
        pairs = [(d["dp_difference"], difference["selection_rate"]),
                 (d["dp_ratio"], ratio["selection_rate"]),
                 (d["eo_difference"], max(difference["tpr"], difference["fpr"])),
                 (d["eo_ratio"], min(ratio["tpr"], ratio["fpr"]))]
        worst = max(worst, *(abs(a - b) for a, b in pairs))
    return worst


def main() -> None:
    print(f"rows={ROWS} columns={FEATURES + 2} (20 features, 2 sensitive)")
    started = time.perf_counter()
    x, y, sex, age = make_data(ROWS)
    print(f"data generated in {time.perf_counter() - started:.1f}s")
    prob = train_and_score(x, y)
    del x

    assay_checks(y, prob, sex, age)

    result, groups, assay_time = assay_groups(y, prob, sex, age)
    eligible = all(not g.small for v in result.groupings for g in v.groups)
    assert eligible, "every group must be large enough that both sides judge the same groups"
    labels = {g.name: np.array(g.labels, dtype=object)[g.codes] for g in groups}
    sensitive = {"sex": pd.Series(labels["sex"], name="sex"),
                 "age": pd.Series(labels["age"], name="age"),
                 "sex&age": pd.DataFrame(labels)}
    pred = (prob >= THRESHOLD).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        frames, fairlearn_time = fairlearn_groups(y, pred, sensitive)
    worst = compare(result, frames)
    groups_count = sum(len(v.groups) for v in result.groupings)
    print(f"group metrics over {groups_count} groups (sex, age band, sex&age):")
    print(f"  assay     encode + bias(n_bootstrap=0)   {assay_time:8.3f}s")
    print(f"  fairlearn MetricFrame x3 + difference/ratio {fairlearn_time:8.3f}s")
    print(f"  largest difference between them: {worst:.2e} (tolerance {TOLERANCE:g})")
    assert worst <= TOLERANCE, f"Assay and fairlearn disagree by {worst}"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak_rss_mb={peak_mb:.0f}")
    print(f"groups_speedup={fairlearn_time / assay_time:.1f}")


if __name__ == "__main__":
    main()
