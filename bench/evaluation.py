"""Evaluation checks on 1,000,000 rows: Assay's group metrics against fairlearn's MetricFrame.

Run:  .venv/bin/python bench/evaluation.py        (BENCH_ROWS=200000 for a quicker run)

Generates BENCH_ROWS rows (default 1,000,000) x 22 columns: 20 numeric features and 2 sensitive
features (``sex``: female/male; ``age``: continuous, binned as <25 / 25 to <40 / 40 to <60 / ≥60,
1% missing). Trains a GradientBoostingClassifier on a 20,000-row sample, exports it to ONNX with
skl2onnx and scores every row with onnxruntime. Then:

(a) scores every row with onnxruntime (the single-input export) for the group metrics;
(b) times the group metrics both ways, on the same rows and the same groups — each of sex, age
    band and their intersection: count, selection rate, TPR, FPR, precision and accuracy per
    group, and the demographic-parity and equalized-odds differences and ratios:
    - Assay: encoding the raw sex and age columns into group codes (``encode_column``,
      ``bin_column``) plus ``bias(..., n_bootstrap=0)``;
    - fairlearn: one ``MetricFrame`` per grouping (the sex labels, the age-band labels and both
      as a DataFrame for the intersection; the band labels are prepared beforehand, untimed),
      plus the frames' ``difference()`` and ``ratio()``;
    checks that every figure agrees within 1e-9, prints both times;
(c) the full suite without SHAP, in a child process of its own that loads the rows (as a
    DataFrame: 20 float32 features, sex, age, the label) and the model exported with one ONNX
    input per feature, as registered models are: one run of the engine (``engine.evaluate``),
    as a worker computes it — performance, bias and calibration (200 bootstrap replicates),
    robustness (six perturbations: 3 noise levels, category swap, missing, out of range, on
    the engine's base scores) and drift against the 20,000 training rows (features and
    predictions); the engine's progress reports split its time per check. Its time over
    **the floor**: onnxruntime alone running exactly the suite's inference passes
    (1 base + 3 noise + 1 swap + 1 missing + 1 out-of-range) on the same rows at the same batch
    size (65,536 rows per ``session.run``, one intra-op thread), the feeds built beforehand,
    untimed. **Peak memory**: the child's ru_maxrss minus its RSS after imports and loading
    the frame, divided by the frame's deep size (``memory_usage(deep=True)``). numba is
    imported and its kernels loaded inside the measured run, at their first use, so their
    ~65 MB (a fixed cost: it does not grow with the rows) is counted too; the line also says
    how much of the peak it was;
(d) SHAP for 500 rows (100 background rows) on the exact tree path (``explain`` with the
    graph) and on the permutation explainer (``explain`` without it), timed, and their global
    importances compared on the same output scale (the log-odds, for the gradient-boosting
    model here: the permutation explainer is asked for them with ``permutation_output``).

The last line is ``suite_over_floor=X groups_speedup=Y peak_over_frame=Z shap_speedup=W``
(targets X <= 2, Y >= 20, Z <= 3, W >= 10).
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
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
    encode_column,
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


FEATURE_COLUMNS = [f"f{i}" for i in range(FEATURES)]
SUITE_SENSITIVE = [{"column": "sex", "bins": None}, {"column": "age", "bins": AGE_BINS.as_dict()}]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def per_column_model(frame: pd.DataFrame) -> bytes:
    """The same gradient boosting trained on the first rows, exported with one ONNX input per
    feature column (a registered model's form, which robustness and SHAP read)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    sample = frame.iloc[:TRAIN_ROWS]
    pipeline = Pipeline([
        ("prepare", ColumnTransformer([("numeric", "passthrough", FEATURE_COLUMNS)])),
        ("classify", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0))])
    pipeline.fit(sample[FEATURE_COLUMNS], sample["default"])
    model = to_onnx(pipeline, initial_types=[(c, FloatTensorType([None, 1]))
                                             for c in FEATURE_COLUMNS],
                    options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    return model.SerializeToString()


def specs_of(model: bytes) -> list[dict]:
    from registry.artifacts import inspect_artifact

    return [s.as_dict() for s in inspect_artifact(io.BytesIO(model), max_bytes=len(model)).inputs]


def suite_child(frame_path: str, model_path: str) -> None:
    """(c), in a process of its own so that its peak memory is the suite's: prints one JSON
    line."""
    from evaluation import engine
    from evaluation.metrics.scoring import BATCH_SIZE, feed_with_missing, inference_session

    model = Path(model_path).read_bytes()
    specs = specs_of(model)
    frame = pd.read_parquet(frame_path)
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    before = rss_mb()  # numba's import and kernels load during the run, counted in the peak
    # One run of the engine, as a worker computes it: the rows scored once, that base pass
    # shared by part 1's checks and robustness, then drift against the training rows. The
    # progress reports mark where each check starts.
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    outcome = engine.evaluate(
        task="binary_classification", model_bytes=model, input_specs=specs, frame=frame,
        label_column="default", favourable_class="1", threshold=0.5,
        checks=[*engine.PART_1, "robustness", "drift"], sensitive_features=SUITE_SENSITIVE,
        options={"n_bootstrap": 200}, reference=frame.iloc[:TRAIN_ROWS],
        report=lambda percent, step: marks.append((step, time.perf_counter())))
    ended = time.perf_counter()
    starts = {step.removeprefix("Computing the ").removesuffix(" check"): at
              for step, at in marks}
    times = {"checks": starts["robustness"] - started,
             "robustness": starts["drift"] - starts["robustness"],
             "drift": ended - starts["drift"]}
    perturbations = outcome.results["checks"]["robustness"]["result"]["perturbations"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    # What numba's import and compiled kernels (loaded by the run) hold: a second process
    # loading them alone, its resident memory before and after (not ru_maxrss, which a child
    # inherits from this large process across exec).
    numba_mb = float(subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import bench.evaluation as b; from evaluation.metrics import kernels; "
         "before = b.rss_mb(); kernels.load(); print(b.rss_mb() - before)",
         str(ROOT)], check=True, capture_output=True, text=True).stdout.split()[-1])
    # The floor: the robustness passes' session.run calls alone, on feeds built beforehand.
    session = inference_session(model, threads=1)
    feeds = [feed_with_missing(frame.iloc[s:s + BATCH_SIZE], specs)
             for s in range(0, len(frame), BATCH_SIZE)]
    passes = 1 + len(perturbations)
    started = time.perf_counter()
    for _ in range(passes):
        for feed in feeds:
            session.run(["probabilities"], feed)
    times["floor"] = time.perf_counter() - started
    print(json.dumps({"times": times, "passes": passes, "peak_mb": peak,
                      "frame_mb": float(frame_mb), "numba_mb": numba_mb}))


def shap_times(frame: pd.DataFrame, model: bytes) -> tuple[float, float, float]:
    """(d) SHAP on 500 rows: the tree path's time, the permutation explainer's, and the
    largest difference between their global importances relative to the largest importance —
    on the same scale: the permutation explainer explains the log-odds when the tree path
    explains the trees' margin in log-odds (gradient boosting), else the score."""
    from evaluation.metrics.explain import explain
    from evaluation.metrics.scoring import inference_session, onnx_predict

    specs = specs_of(model)
    rows = frame.iloc[:50_000]
    predict = onnx_predict(inference_session(model, threads=1), specs)
    started = time.perf_counter()
    tree = explain(rows, predict, columns=FEATURE_COLUMNS, onnx_model=model, input_specs=specs,
                   sample_size=500)
    tree_time = time.perf_counter() - started
    assert tree.method != "permutation", tree.fallback_reason
    started = time.perf_counter()
    same_scale = "log_odds" if tree.output_space == "log_odds" else "score"
    permutation = explain(rows, predict, columns=FEATURE_COLUMNS, sample_size=500,
                          permutation_output=same_scale)
    permutation_time = time.perf_counter() - started
    assert permutation.output_space == tree.output_space, (permutation.output_space,
                                                           tree.output_space)
    top = max(tree.importance.values())
    gap = max(abs(tree.importance[c] - permutation.importance[c]) for c in FEATURE_COLUMNS)
    print(f"shap 500 rows: tree path ({tree.method}) {tree_time:.2f}s, permutation explainer "
          f"({permutation.method}) {permutation_time:.2f}s; both in {tree.output_space}, "
          f"importances differ by at most {gap / top:.1%} of the largest")
    return tree_time, permutation_time, gap / top


def main() -> None:
    if os.environ.get("BENCH_MODE") == "suite":
        suite_child(sys.argv[1], sys.argv[2])
        return
    print(f"rows={ROWS} columns={FEATURES + 2} (20 features, 2 sensitive)")
    started = time.perf_counter()
    x, y, sex, age = make_data(ROWS)
    print(f"data generated in {time.perf_counter() - started:.1f}s")
    frame = pd.DataFrame(x, columns=FEATURE_COLUMNS)
    frame["sex"], frame["age"], frame["default"] = sex, age, y
    prob = train_and_score(x, y)
    del x
    model = per_column_model(frame)
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="assay-bench-") as folder:
        frame_path, model_path = Path(folder) / "rows.parquet", Path(folder) / "model.onnx"
        frame.to_parquet(frame_path)
        model_path.write_bytes(model)
        # Our own interpreter on this file and two paths we just made: nothing untrusted.
        child = subprocess.run([sys.executable, __file__, str(frame_path),
                                str(model_path)],
                               env={**os.environ, "BENCH_MODE": "suite"}, check=True,
                               capture_output=True, text=True)
    suite = json.loads(child.stdout.strip().splitlines()[-1])
    times = suite["times"]
    suite_time = times["checks"] + times["robustness"] + times["drift"]
    print(f"suite without SHAP {suite_time:.2f}s: performance + bias + calibration "
          f"{times['checks']:.2f}s (200 replicates, scoring included), robustness "
          f"{times['robustness']:.2f}s, drift {times['drift']:.2f}s")
    print(f"floor: onnxruntime alone, {suite['passes']} passes of {ROWS} rows "
          f"{times['floor']:.2f}s")
    print(f"peak memory {suite['peak_mb']:.0f} MB over the frame's {suite['frame_mb']:.0f} MB "
          f"(numba's import and kernels, loaded during the run, about {suite['numba_mb']:.0f} MB "
          f"of it)")
    tree_time, permutation_time, _ = shap_times(frame, model)
    del frame

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
    print(f"suite_over_floor={suite_time / times['floor']:.2f} "
          f"groups_speedup={fairlearn_time / assay_time:.1f} "
          f"peak_over_frame={suite['peak_mb'] / suite['frame_mb']:.2f} "
          f"shap_speedup={permutation_time / tree_time:.1f}")


if __name__ == "__main__":
    main()
