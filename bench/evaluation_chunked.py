"""Chunked evaluation runs on 10,000,000 rows, one per task: time, peak memory and rows/s.

Run:  .venv/bin/python bench/evaluation_chunked.py                 (10,000,000 rows a task)
      .venv/bin/python bench/evaluation_chunked.py --rows 1000000 --tasks binary,regression
      (BENCH_ROWS sets the default of --rows; BENCH_CHUNK_ROWS, BENCH_REPLICATES)

Each task runs in a child process of its own, so that its peak memory is its own (ru_maxrss is a
process's high-water mark). The child writes ``--rows`` rows to a Parquet file under /tmp, a
chunk at a time (row groups of 250,000 rows) so the rows are never all in memory, then runs
``evaluation.chunked.evaluate_chunked`` exactly as a worker does for a large data set — chunks
of BENCH_CHUNK_ROWS (default 250,000) rows, BENCH_REPLICATES (default 200) bootstrap replicates,
one ONNX Runtime thread — and removes the file:

- **binary**: bench/evaluation.py's data (20 numeric features, ``sex``, ``age``, the label),
  generated per chunk; a GradientBoostingClassifier (100 trees, depth 3) trained on a
  20,000-row sample and exported with one ONNX input per column, as registered models are.
  Performance, bias (sex, age bands <25 / 25 to <40 / 40 to <60 / ≥60) and calibration.
- **multiclass**: the tests' multiclass model (tests/evaluation/part2_models.py: the demo
  pipeline, one-hot + scaling, with a multinomial logistic regression of the credit amount's
  band, low / mid / high) on the German credit rows drawn with replacement (seeded per chunk).
  Performance, bias and calibration on the favourable class "high"; sex and age bands as the
  tests' (<25 / 25 to <60 / ≥60).
- **regression**: the tests' gradient-boosting regressor of the credit amount (40 trees, depth
  3, ``tree_model("gbr")``) on the German credit rows drawn the same way. Performance and bias
  (a regressor has no calibration).

Per task it prints the run's time, rows per second, and the peak memory: the child's ru_maxrss
minus its RSS just before the run (after imports, training and writing the file), against what
the rows would take in memory as a DataFrame. The last line is ``chunked_rows=N`` followed by
``<task>_seconds``, ``<task>_peak_mb``, ``<task>_rows_per_s`` and ``<task>_frame_mb`` per task.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation import chunked  # noqa: E402
from evaluation.metrics import BinSpec  # noqa: E402
from registry.artifacts import inspect_artifact  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
CHUNK_ROWS = int(os.environ.get("BENCH_CHUNK_ROWS", "250000"))
REPLICATES = int(os.environ.get("BENCH_REPLICATES", "200"))
WRITE_ROWS = 250_000
FEATURES = 20
TRAIN_ROWS = 20_000
TASKS = ("binary", "multiclass", "regression")
BENCH_SENSITIVE = [{"column": "sex", "bins": None},
                   {"column": "age", "bins": BinSpec.of([25, 40, 60]).as_dict()}]
# The tests' sensitive features for the German credit data (tests/evaluation/conftest.py).
GERMAN_SENSITIVE = [{"column": "sex", "bins": None},
                    {"column": "age", "bins": {"edges": [25, 60],
                                               "labels": ["<25", "25 to <60", "≥60"]}}]


@dataclass(frozen=True)
class Workload:
    """One task's chunked run: the model, how to make rows [start, start + n), what to run."""

    task: str
    model: bytes
    specs: list[dict[str, Any]]
    rows: Callable[[int, int], pd.DataFrame]
    label: str
    favourable: str
    threshold: float | None
    checks: list[str]
    sensitive: list[dict[str, Any]]
    shown: Callable[[dict[str, Any]], dict[str, Any]]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def specs_of(model: bytes) -> list[dict[str, Any]]:
    return [s.as_dict() for s in inspect_artifact(io.BytesIO(model), max_bytes=len(model)).inputs]


def bench_rows(start: int, n: int) -> pd.DataFrame:
    """Rows [start, start + n) of bench/evaluation.py's data, seeded per write chunk."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_evaluation", ROOT / "bench/evaluation.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x, y, sex, age = bench.make_data(n, seed=start // WRITE_ROWS)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)])
    frame["sex"], frame["age"], frame["default"] = sex, age, y
    return frame


def binary() -> Workload:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    sample = bench_rows(0, TRAIN_ROWS)
    columns = [f"f{i}" for i in range(FEATURES)]
    pipeline = Pipeline([
        ("prepare", ColumnTransformer([("numeric", "passthrough", columns)])),
        ("classify", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0))])
    pipeline.fit(sample[columns], sample["default"])
    model = to_onnx(pipeline, initial_types=[(c, FloatTensorType([None, 1])) for c in columns],
                    options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    data = model.SerializeToString()
    return Workload(
        task="binary_classification", model=data, specs=specs_of(data), rows=bench_rows,
        label="default", favourable="1", threshold=0.5,
        checks=["performance", "bias", "calibration"], sensitive=BENCH_SENSITIVE,
        shown=lambda c: {"roc_auc": c["performance"]["figures"]["roc_auc"],
                         "roc_auc_ci_low": c["performance"]["figures"].get("roc_auc_ci_low"),
                         "roc_auc_max_error": c["performance"]["figures"].get(
                             "roc_auc_max_error", 0.0),
                         "dp_ratio": c["bias"]["figures"]["dp_ratio"],
                         "ece": c["calibration"]["figures"]["ece"]})


def drawn(base: pd.DataFrame) -> Callable[[int, int], pd.DataFrame]:
    """Rows [start, start + n) drawn with replacement from ``base``, seeded per write chunk."""
    def rows(start: int, n: int) -> pd.DataFrame:
        rng = np.random.default_rng(start // WRITE_ROWS)
        return base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    return rows


def multiclass() -> Workload:
    from registry.demo.train_german_credit import DATA_PATH
    from tests.evaluation.part2_models import multiclass_frame, multiclass_model

    features, band = multiclass_frame(pd.read_csv(DATA_PATH).drop(columns=["good_credit"]))
    built = multiclass_model()
    return Workload(
        task="multiclass_classification", model=built.onnx_bytes, specs=built.specs,
        rows=drawn(features.assign(amount_band=band)), label="amount_band", favourable="high",
        threshold=None, checks=["performance", "bias", "calibration"],
        sensitive=GERMAN_SENSITIVE,
        shown=lambda c: {"accuracy": c["performance"]["figures"]["accuracy"],
                         "roc_auc": c["performance"]["figures"]["roc_auc"],
                         "dp_ratio": c["bias"]["figures"].get("dp_ratio"),
                         "ece": c["calibration"]["figures"]["ece"]})


def regression() -> Workload:
    from registry.demo.train_german_credit import DATA_PATH
    from tests.evaluation.part2_models import tree_model

    built = tree_model("gbr")
    return Workload(
        task="regression", model=built.onnx_bytes, specs=built.specs,
        rows=drawn(pd.read_csv(DATA_PATH).drop(columns=["good_credit"])),
        label="credit_amount", favourable="", threshold=None, checks=["performance", "bias"],
        sensitive=GERMAN_SENSITIVE,
        shown=lambda c: {"rmse": c["performance"]["figures"]["rmse"],
                         "r2": c["performance"]["figures"]["r2"],
                         "r2_ci_low": c["performance"]["figures"].get("r2_ci_low"),
                         "mae_difference": c["bias"]["figures"].get("mae_difference")})


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "binary": binary, "multiclass": multiclass, "regression": regression}


def write_parquet(path: Path, rows: Callable[[int, int], pd.DataFrame], total: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for start in range(0, total, WRITE_ROWS):
        table = pa.Table.from_pandas(rows(start, min(WRITE_ROWS, total - start)),
                                     preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path.stat().st_size


def run_task(name: str, total: int) -> dict[str, Any]:
    """One task's chunked run, in this (child) process: its figures as a dict."""
    work = WORKLOADS[name]()
    sample = work.rows(0, min(WRITE_ROWS, total))
    frame_mb = float(sample.memory_usage(deep=True).sum()) * total / len(sample) / 2**20
    del sample
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="assay-bench-") as folder:
        path = Path(folder) / "rows.parquet"
        started = time.perf_counter()
        size = write_parquet(path, work.rows, total)
        written = time.perf_counter() - started
        before = rss_mb()
        started = time.perf_counter()
        with open(path, "rb") as data:
            outcome = chunked.evaluate_chunked(
                model_bytes=work.model, input_specs=work.specs, task=work.task, data=data,
                file_format="parquet", label_column=work.label,
                favourable_class=work.favourable, threshold=work.threshold, checks=work.checks,
                sensitive_features=work.sensitive, options={"n_bootstrap": REPLICATES},
                inputs={}, chunk_rows=CHUNK_ROWS)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert outcome.results["rows"] == total, (outcome.results["rows"], total)
    return {"task": name, "rows": total, "seconds": seconds, "peak_mb": peak,
            "frame_mb": frame_mb, "file_mb": size / 2**20, "write_seconds": written,
            "checks": work.checks, "shown": work.shown(outcome.results["checks"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="rows per task (10,000,000)")
    parser.add_argument("--tasks", default=",".join(TASKS),
                        help=f"comma-separated, among {', '.join(TASKS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_task(args.child, args.rows)))
        return
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks or args.rows < 1:
        parser.error(f"choose --tasks among {', '.join(TASKS)} and --rows >= 1")
    results = []
    for name in tasks:
        # Our own interpreter on this file: nothing untrusted.
        child = subprocess.run([sys.executable, __file__, "--child", name, "--rows",
                                str(args.rows)], check=True, capture_output=True, text=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{name}: {r['rows']} rows ({r['file_mb']:.0f} MB Parquet, written in "
              f"{r['write_seconds']:.0f}s), chunks of {CHUNK_ROWS}, {REPLICATES} replicates, "
              f"{' + '.join(r['checks'])}: {r['seconds']:.1f}s, "
              f"{r['rows'] / r['seconds']:,.0f} rows/s; peak memory above the start "
              f"{r['peak_mb']:.0f} MB against {r['frame_mb']:.0f} MB for the rows as a "
              f"DataFrame; {r['shown']}", flush=True)
    print(f"chunked_rows={args.rows} " + " ".join(
        f"{r['task']}_seconds={r['seconds']:.1f} {r['task']}_peak_mb={r['peak_mb']:.0f} "
        f"{r['task']}_rows_per_s={r['rows'] / r['seconds']:.0f} "
        f"{r['task']}_frame_mb={r['frame_mb']:.0f}" for r in results))


if __name__ == "__main__":
    main()
