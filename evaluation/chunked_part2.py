"""Part 2's robustness and drift checks in a chunked run (evaluation.chunked).

Both results are counts, sums and maxima that merge (docs/evaluation-part2.md, "Chunks"):

* **robustness**: each chunk is perturbed and scored on its own, with the random numbers of its
  rows' positions in the whole data set (``row_offset``) and the noise scales, ranges and seen
  categories of a :class:`~evaluation.metrics.robustness.DataProfile` of the whole data set,
  which the pre-pass builds by merging the chunks' profiles; ``RobustnessResult.merge`` adds
  the chunks' flip counts, errors and shift sums and takes the largest shift.
* **drift**: the bins come from the reference data set (read whole, as the one-pass run reads
  it, and scored for the prediction drift), the reference is counted once, and each chunk of
  the evaluation data is counted into the same bins; ``Counts.merge`` adds them and the
  statistics are computed once from the merged counts.

The state a chunk needs (the profile, the bins, the reference's counts) travels in the plan as
JSON, and a chunk's result as JSON bytes among its sums, so the fan-out's workers (which never
read the reference) take part unchanged. No Django here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from evaluation import part2
from evaluation.metrics import drift as drift_metrics
from evaluation.metrics import robustness as robustness_metrics
from evaluation.metrics.scoring import PredictFn, inputs_accepting_missing

# The part-2 checks a chunked run computes; the others (explanations, the mitigation what-if)
# need all the rows at once and take one pass.
CHECKS = ("robustness", "drift")
KEYS = CHECKS  # a chunk's part-2 results among its sums, as JSON bytes


def chunkable(checks: Sequence[str]) -> bool:
    """Whether a run's part-2 checks (if any) can all be computed in chunks."""
    return all(c in CHECKS for c in checks if c in part2.CHECKS)


def start(*, checks: Sequence[str], input_specs: Sequence[Mapping[str, Any]],
          profile: robustness_metrics.DataProfile | None, reference: pd.DataFrame | None,
          predict: PredictFn | None, monotone: Mapping[str, str] | None,
          seed: int, task: str = "classification") -> dict[str, Any]:
    """The plan's part-2 state (JSON-safe): what every chunk must share. ``task`` is
    robustness's: "classification" (the favourable class's probability) or "regression";
    ``predict`` scores the reference for the prediction drift (None: a multiclass model, whose
    drift has no prediction part, as in one pass)."""
    columns = [s["name"] for s in input_specs]
    state: dict[str, Any] = {"columns": columns, "seed": seed, "task": task,
                             "monotone": dict(monotone or {}),
                             "reference_rows": None if reference is None else len(reference)}
    if "robustness" in checks:
        if profile is None:
            raise ValueError("Robustness in chunks needs the profile of the whole data set.")
        state["profile"] = [asdict(c) for c in profile.columns]
        state["missing_columns"] = list(inputs_accepting_missing(input_specs))
    if "drift" in checks:
        if reference is None:
            raise ValueError("The drift check needs the reference (training) data set.")
        reference_scores = predict(reference[columns]) if predict is not None else None
        bins = drift_metrics.binning(reference, columns, reference_scores=reference_scores)
        state["bins"] = _bins_state(bins)
        state["reference_counts"] = _counts_state(
            drift_metrics.count(reference, bins, scores=reference_scores))
    return state


def chunk_results(state: Mapping[str, Any], checks: Sequence[str], *, frame: pd.DataFrame,
                  predict: PredictFn | None, scores: np.ndarray | None,
                  labels: np.ndarray | None, threshold: float | None,
                  first_row: int) -> dict[str, np.ndarray]:
    """One chunk's robustness result and drift counts, as JSON bytes (uint8 arrays); ``scores``
    are the chunk's base scores (None for a multiclass model, which has only drift)."""
    out: dict[str, np.ndarray] = {}
    if "robustness" in checks:
        if predict is None or labels is None:
            raise ValueError("Robustness in chunks scores the perturbed rows: pass predict "
                             "and the labels.")
        profile = robustness_metrics.DataProfile(tuple(
            robustness_metrics.ColumnProfile(**{**c, "categories": tuple(c["categories"])})
            for c in state["profile"]))
        result = robustness_metrics.robustness(
            frame, predict, data_profile=profile, labels=labels,
            task=state.get("task", "classification"),
            threshold=threshold, missing_columns=state["missing_columns"],
            monotone={c: part2.DIRECTIONS[d] for c, d in state["monotone"].items()},
            settings=robustness_metrics.Settings(seed=int(state["seed"])),
            row_offset=first_row, base_scores=scores)
        out["robustness"] = _to_bytes(asdict(result))
    if "drift" in checks:
        counts = drift_metrics.count(frame, _bins(state["bins"]), scores=scores)
        out["drift"] = _to_bytes(_counts_state(counts))
    return out


def merge(key: str, parts: Sequence[np.ndarray]) -> np.ndarray:
    """The merged result of the chunks' ``key`` (robustness or drift) results."""
    if key == "robustness":
        merged = robustness_metrics.merge([_robustness(_from_bytes(p)) for p in parts])
        return _to_bytes(asdict(merged))
    counts = _counts(_from_bytes(parts[0]))
    for part in parts[1:]:
        counts = counts.merge(_counts(_from_bytes(part)))
    return _to_bytes(_counts_state(counts))


def finish(check: str, state: Mapping[str, Any], merged: np.ndarray) -> Any:
    """The check's result from the merged chunks, as the one-pass run gives it."""
    if check == "robustness":
        return _robustness(_from_bytes(merged))
    return drift_metrics.drift(_bins(state["bins"]), _counts(state["reference_counts"]),
                               _counts(_from_bytes(merged)))


def inputs(state: Mapping[str, Any]) -> dict[str, Any]:
    """What part 2 was computed with, as the one-pass engine records it (engine.assemble)."""
    return {"monotone": dict(state["monotone"]),
            "mitigation": {"constraint": part2.Settings().mitigation_constraint,
                           "disparity_limit": None},
            "reference_rows": state["reference_rows"]}


# ---------------------------------------------------------------------------------------------
# JSON forms. Python's json writes floats as their shortest repr and reads them back exactly
# (NaN and infinities included), so a result survives the trip bit for bit.

def _to_bytes(data: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(data).encode(), dtype=np.uint8).copy()


def _from_bytes(data: np.ndarray) -> Any:
    return json.loads(np.asarray(data, dtype=np.uint8).tobytes().decode())


def _robustness(data: Mapping[str, Any]) -> robustness_metrics.RobustnessResult:
    settings = data["settings"]
    return robustness_metrics.RobustnessResult(**{
        **data,
        "settings": robustness_metrics.Settings(**{
            **settings, "noise_levels": tuple(tuple(level)
                                              for level in settings["noise_levels"])}),
        "perturbations": tuple(robustness_metrics.PerturbationStats(
            **{**p, "columns": tuple(p["columns"])}) for p in data["perturbations"]),
        "monotonicity": tuple(robustness_metrics.MonotonicityStats(**m)
                              for m in data["monotonicity"])})


def _bins_state(bins: drift_metrics.Binning) -> dict[str, Any]:
    return {"numeric": {k: asdict(v) for k, v in bins.numeric.items()},
            "categorical": {k: list(v) for k, v in bins.categorical.items()},
            "prediction": None if bins.prediction is None else asdict(bins.prediction)}


def _numeric_bins(data: Mapping[str, Any]) -> drift_metrics.NumericBins:
    return drift_metrics.NumericBins(psi_edges=tuple(data["psi_edges"]),
                                     ks_edges=tuple(data["ks_edges"]))


def _bins(data: Mapping[str, Any]) -> drift_metrics.Binning:
    return drift_metrics.Binning(
        numeric={k: _numeric_bins(v) for k, v in data["numeric"].items()},
        categorical={k: tuple(v) for k, v in data["categorical"].items()},
        prediction=None if data["prediction"] is None else _numeric_bins(data["prediction"]))


def _counts_state(counts: drift_metrics.Counts) -> dict[str, Any]:
    return {"rows": counts.rows,
            "columns": {k: {"kind": type(v).__name__, **asdict(v)}
                        for k, v in counts.columns.items()},
            "prediction": None if counts.prediction is None else asdict(counts.prediction)}


def _numeric_counts(data: Mapping[str, Any]) -> drift_metrics.NumericCounts:
    return drift_metrics.NumericCounts(psi=tuple(data["psi"]), ks=tuple(data["ks"]),
                                       ks_at_edge=tuple(data["ks_at_edge"]),
                                       missing=data["missing"])


def _column_counts(data: Mapping[str, Any]
                   ) -> drift_metrics.NumericCounts | drift_metrics.CategoricalCounts:
    if data["kind"] == "NumericCounts":
        return _numeric_counts(data)
    return drift_metrics.CategoricalCounts(categories=tuple(data["categories"]),
                                           unseen=data["unseen"], missing=data["missing"])


def _counts(data: Mapping[str, Any]) -> drift_metrics.Counts:
    return drift_metrics.Counts(
        rows=data["rows"], columns={k: _column_counts(v) for k, v in data["columns"].items()},
        prediction=None if data["prediction"] is None else _numeric_counts(data["prediction"]))
