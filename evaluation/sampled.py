"""SHAP explanations and the mitigation what-if of a data set read in chunks, on seeded samples.

Both checks work on a sample of the rows, not on sums: the explanation on ``shap_rows`` rows
(``explain.sample_positions``), the what-if on all rows up to ``mitigation.SAMPLE_ROWS`` and a
seeded sample above (``mitigation.sample_positions``). Either sample is a function of the data
set's row count and the run's seed only, so one pass over the chunks (``gather_rows``) collects
exactly the rows a one-pass run chooses, and the results are the same
(tests/evaluation/test_sampled.py). Memory is bounded by the chunk plus the samples. The
results say so: ``sample["gathered"] == "chunks"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluation import engine, part2
from evaluation.metrics import explain as explain_metrics
from evaluation.metrics import mitigation as mitigation_metrics
from evaluation.metrics.groups import BinSpec, Grouping, bin_column, encode_column
from evaluation.metrics.scoring import inference_session, onnx_predict

CHECKS = ("explainability", "mitigation")


def gather_rows(chunks: Iterable[pd.DataFrame], positions: np.ndarray,
                columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows at ``positions`` (0-based, sorted, unique) of the data set the ``chunks`` make
    up, in that order, with a fresh index; only ``columns`` if given."""
    positions = np.asarray(positions, dtype=np.int64)
    parts, first = [], 0
    for chunk in chunks:
        low, high = np.searchsorted(positions, [first, first + len(chunk)])
        if high > low:
            part = chunk.iloc[positions[low:high] - first]
            parts.append(part[list(columns)] if columns is not None else part)
        first += len(chunk)
    if positions.size and (not parts or positions[-1] >= first):
        raise ValueError(f"Row {int(positions[-1])} is beyond the data set's {first} rows.")
    if not parts:
        return pd.DataFrame(columns=list(columns or []))
    return pd.concat(parts, ignore_index=True)


def groupings(frame: pd.DataFrame, sensitive_features: Sequence[Mapping[str, Any]],
              categories: Mapping[str, Sequence[str]]) -> list[Grouping]:
    """The sensitive features of some rows grouped as all the rows are: categorical ones by
    the categories found in the whole data set (``chunked.prepare``), binned ones by their
    bins."""
    return [bin_column(f["column"], frame[f["column"]], BinSpec.from_dict(f["bins"]))
            if f.get("bins") is not None
            else encode_column(f["column"], frame[f["column"]],
                               categories=categories[f["column"]])
            for f in sensitive_features]


def compute(*, checks: Sequence[str], chunks: Any, rows: int, model_bytes: bytes,
            input_specs: Sequence[Mapping[str, Any]], label_column: str,
            favourable_class: str, classes: list[Any], positive: Any,
            threshold: float | None,
            sensitive_features: Sequence[Mapping[str, Any]],
            categories: Mapping[str, Sequence[str]], options: Mapping[str, Any],
            reference: pd.DataFrame | None = None,
            mitigation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The results of ``checks`` (among explainability and mitigation) of a binary classifier
    (or explainability of a regressor: ``classes`` empty) on a data set of ``rows`` rows read
    by ``chunks()`` (a callable returning a fresh iterator of its chunks), one pass over them.
    ``classes`` and ``positive`` are the label classes and the favourable one
    (``chunked.Plan``); the rest as ``engine.evaluate`` takes them."""
    wanted = [c for c in CHECKS if c in checks]
    seed = int(options["seed"])
    settings = part2.Settings(
        seed=seed, shap_rows=int(options["shap_rows"]),
        mitigation_constraint=(mitigation or {}).get("constraint", "demographic_parity"),
        disparity_limit=(mitigation or {}).get("disparity_limit"))
    columns = [str(s["name"]) for s in input_specs]
    shap_rows = explain_metrics.sample_positions(rows, settings.shap_rows, seed) \
        if "explainability" in wanted else np.empty(0, dtype=np.int64)
    background_rows = explain_metrics.background_positions(
        rows, explain_metrics.BACKGROUND_SIZE, seed) \
        if "explainability" in wanted and reference is None else np.empty(0, dtype=np.int64)
    what_if_rows = mitigation_metrics.sample_positions(rows, seed) \
        if "mitigation" in wanted else np.empty(0, dtype=np.int64)
    every = np.union1d(np.union1d(shap_rows, background_rows), what_if_rows)
    needed = list(dict.fromkeys([*columns, label_column,
                                 *(f["column"] for f in sensitive_features)]))
    gathered = gather_rows(chunks(), every, needed)

    def rows_at(positions: np.ndarray) -> pd.DataFrame:
        return gathered.iloc[np.searchsorted(every, positions)].reset_index(drop=True)

    session = inference_session(model_bytes, threads=1)
    if classes:
        index = classes.index(positive)
        predict = onnx_predict(session, [dict(s) for s in input_specs], output="probabilities",
                               column=index)
    else:  # a regressor: its value, as the one-pass run explains it
        index = 0
        predict = onnx_predict(session, [dict(s) for s in input_specs], output="variable",
                               column=0)
    results: dict[str, Any] = {}
    if "explainability" in wanted:
        sample = rows_at(shap_rows)
        if reference is not None:
            background = reference.iloc[explain_metrics.background_positions(
                len(reference), explain_metrics.BACKGROUND_SIZE, seed)]
        else:
            background = rows_at(background_rows)
        results["explainability"] = explain_metrics.explain_sample(
            sample[columns], predict, columns=columns, sampled=len(sample),
            positions=shap_rows, background=background[columns].reset_index(drop=True),
            onnx_model=model_bytes, input_specs=list(input_specs),
            groups=part2.shap_groups(groupings(sample, sensitive_features, categories)),
            seed=seed, favourable_index=index,
            sensitive_columns=[f["column"] for f in sensitive_features],
            sample_note={"drawn": "seeded", "rows": rows, "gathered": "chunks"})
    if "mitigation" in wanted:
        analysed = rows_at(what_if_rows)
        # Scored as the engine scores all rows in one pass (the same feed and output column).
        scored = engine._score("binary_classification", session, input_specs, analysed,
                               analysed[label_column], favourable_class, classes=classes)
        results["mitigation"] = part2.mitigation(
            scores=np.asarray(scored["y_prob"], dtype=np.float64),
            labels=(analysed[label_column] == positive).to_numpy().astype(np.int64),
            groupings=groupings(analysed, sensitive_features, categories), settings=settings,
            threshold=threshold, total=rows, gathered="chunks")
    return results
