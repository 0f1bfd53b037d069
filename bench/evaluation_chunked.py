"""A chunked evaluation run on 10,000,000 rows: its time and peak memory.

Run:  .venv/bin/python bench/evaluation_chunked.py
      (BENCH_ROWS=1000000 for a quicker run; BENCH_CHUNK_ROWS, BENCH_REPLICATES)

Writes BENCH_ROWS rows (default 10,000,000) of bench/evaluation.py's data (20 numeric features,
``sex``, ``age``, the label) to a Parquet file under /tmp, generated and written a chunk at a
time (row groups of 250,000 rows) so the rows are never all in memory; trains a
GradientBoostingClassifier (100 trees, depth 3) on a 20,000-row sample and exports it with one
ONNX input per column, as registered models are. Then runs ``evaluation.chunked.evaluate_chunked``
— performance, bias (sex, age bands) and calibration, BENCH_REPLICATES (default 200) bootstrap
replicates, chunks of BENCH_CHUNK_ROWS (default 250,000) rows, one ONNX Runtime thread — exactly
as a worker does for a large data set, and removes the file.

Prints the run's time, the file's size, and the peak memory: ru_maxrss minus the RSS before the
run (after imports, training and writing the file), against what the rows would take in memory as
a DataFrame. The last line is ``chunked_rows=N chunked_seconds=S chunked_peak_mb=M
frame_mb=F``.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

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
AGE_BINS = BinSpec.of([25, 40, 60])


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def chunk_frame(start: int, n: int) -> pd.DataFrame:
    """Rows [start, start + n) of the data: bench/evaluation.py's generator, seeded per chunk."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_evaluation", ROOT / "bench/evaluation.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x, y, sex, age = bench.make_data(n, seed=start // WRITE_ROWS)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(FEATURES)])
    frame["sex"], frame["age"], frame["default"] = sex, age, y
    return frame


def write_parquet(path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for start in range(0, ROWS, WRITE_ROWS):
        table = pa.Table.from_pandas(chunk_frame(start, min(WRITE_ROWS, ROWS - start)),
                                     preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path.stat().st_size


def train() -> tuple[bytes, list[dict]]:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    sample = chunk_frame(0, TRAIN_ROWS)
    columns = [f"f{i}" for i in range(FEATURES)]
    pipeline = Pipeline([
        ("prepare", ColumnTransformer([("numeric", "passthrough", columns)])),
        ("classify", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0))])
    pipeline.fit(sample[columns], sample["default"])
    model = to_onnx(pipeline, initial_types=[(c, FloatTensorType([None, 1])) for c in columns],
                    options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    data = model.SerializeToString()
    return data, [s.as_dict() for s in inspect_artifact(io.BytesIO(data),
                                                        max_bytes=len(data)).inputs]


def main() -> None:
    model, specs = train()
    frame_bytes = chunk_frame(0, WRITE_ROWS).memory_usage(deep=True).sum() * ROWS / WRITE_ROWS
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="assay-bench-") as folder:
        path = Path(folder) / "rows.parquet"
        started = time.perf_counter()
        size = write_parquet(path)
        print(f"wrote {ROWS} rows to {path} ({size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - started:.1f}s")
        before = rss_mb()
        started = time.perf_counter()
        with open(path, "rb") as data:
            outcome = chunked.evaluate_chunked(
                model_bytes=model, input_specs=specs, task="binary_classification", data=data,
                file_format="parquet", label_column="default", favourable_class="1",
                threshold=0.5, checks=["performance", "bias", "calibration"],
                sensitive_features=[{"column": "sex", "bins": None},
                                    {"column": "age", "bins": AGE_BINS.as_dict()}],
                options={"n_bootstrap": REPLICATES}, inputs={}, chunk_rows=CHUNK_ROWS)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    checks = outcome.results["checks"]
    shown = {"roc_auc": checks["performance"]["figures"]["roc_auc"],
             "roc_auc_ci_low": checks["performance"]["figures"].get("roc_auc_ci_low"),
             "dp_ratio": checks["bias"]["figures"]["dp_ratio"],
             "ece": checks["calibration"]["figures"]["ece"]}
    print(f"chunked run: {outcome.results['rows']} rows, chunks of {CHUNK_ROWS}, {REPLICATES} "
          f"replicates: {seconds:.1f}s; peak memory above the start {peak:.0f} MB against "
          f"{frame_bytes / 2**20:.0f} MB for the rows as a DataFrame; {shown}")
    print(f"chunked_rows={ROWS} chunked_seconds={seconds:.1f} chunked_peak_mb={peak:.0f} "
          f"frame_mb={frame_bytes / 2**20:.0f}")


if __name__ == "__main__":
    main()
