"""Chunked evaluation: a binary classifier's run over a data set read a chunk at a time.

Memory is bounded by the chunk (``chunk_rows`` rows: Parquet read in record batches, CSV in
chunks), not by the file. The steps, each a plain function so that a worker can do one chunk:

1. ``prepare`` reads only the label and sensitive columns, chunk by chunk, to fix what every chunk
   must agree on: the label classes (and which is favourable), the categories of each categorical
   sensitive feature (so group codes agree), the number of rows and chunks.
2. ``chunk_sums(plan, session, frame, first_row, stage=1)`` scores a chunk and returns its sums
   (evaluation.metrics.chunks): score runs, confusion cells with log losses, the bias tally, the
   uniform calibration bins, all per Poisson replicate with weights keyed by the row's index in
   the data set. ``merge_sums`` adds chunks' sums.
3. When calibration or performance intervals are asked for, ``second_stage`` takes the merged
   score runs to the calibration quantile edges and the AUC histogram bins, and a second pass
   over the chunks (``stage=2``, scoring again: nothing of a chunk is kept between passes) sums
   the rows into them.
4. ``finish`` turns the merged sums into the same results the one-pass engine gives
   (tests/evaluation/test_chunked.py compares them).

Part 2's robustness and drift checks are computed in the same first pass
(evaluation.chunked_part2): the pre-pass also profiles the model's input columns for robustness,
and ``prepare`` bins and counts the reference data set for drift. Explanations and the
mitigation what-if, and multiclass and regression runs, are evaluated in one pass
(docs/evaluation-metrics.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from evaluation import chunked_part2, engine, part2, sampled
from evaluation.engine import DEFAULT_OPTIONS, RUN_CHECKS, EngineError, Outcome, Report
from evaluation.metrics import BiasTally, BinSpec, BootstrapSpec, Task, bias_result, bias_tally
from evaluation.metrics.bootstrap import Tally, tally
from evaluation.metrics.calibration import (
    bin_of,
    calibration_result,
    cell_bin_sums,
    uniform_edges,
)
from evaluation.metrics.chunks import (
    ScoreRuns,
    auc_bins,
    binary_performance,
    binary_tallies,
    merge_runs,
    ranking_tally,
    runs_percentile,
)
from evaluation.metrics.groups import Grouping, bin_column, encode_column, intersect
from evaluation.metrics.inputs import binary_data, json_label
from evaluation.metrics.robustness import DataProfile
from evaluation.metrics.robustness import profile as robustness_profile
from evaluation.metrics.scoring import inference_session, onnx_predict
from evaluation.tables import favourable_value

Sums = dict[str, np.ndarray]
_RUNS = ("runs.scores", "runs.positive", "runs.negative")


def iter_chunks(source: BinaryIO, file_format: str, chunk_rows: int,
                columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """The file's rows, ``chunk_rows`` at a time (only ``columns`` if given)."""
    source.seek(0)
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(source)
            for batch in parquet.iter_batches(batch_size=chunk_rows,
                                              columns=list(columns) if columns else None):
                frame = batch.to_pandas()
                frame.columns = [str(c) for c in frame.columns]
                yield frame
        else:
            reader = pd.read_csv(source, encoding="utf-8", low_memory=False,
                                 chunksize=chunk_rows, usecols=list(columns) if columns else None)
            with reader:
                yield from reader
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"The data set cannot be read in chunks: {str(exc)[:300]}") from None


def read_chunk(source: BinaryIO, file_format: str, chunk_rows: int, index: int) -> pd.DataFrame:
    """Rows [index x chunk_rows, (index + 1) x chunk_rows) of the file alone, for a worker that
    evaluates one chunk: Parquet reads only the row groups that hold them; CSV parses the lines
    before them without keeping them."""
    source.seek(0)
    start = index * chunk_rows
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(source)
            sizes = [parquet.metadata.row_group(g).num_rows
                     for g in range(parquet.metadata.num_row_groups)]
            ends = np.cumsum(sizes)
            first = int(np.searchsorted(ends, start, side="right"))
            last = int(np.searchsorted(ends, start + chunk_rows - 1, side="right"))
            groups = list(range(first, min(last, len(sizes) - 1) + 1))
            offset = start - (int(ends[first - 1]) if first else 0)
            frame = parquet.read_row_groups(groups).slice(offset, chunk_rows).to_pandas()
            frame.columns = [str(c) for c in frame.columns]
            return frame
        frame = pd.read_csv(source, encoding="utf-8", low_memory=False, nrows=chunk_rows,
                            skiprows=lambda line: 0 < line <= start)
        return frame
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise EngineError(f"Chunk {index + 1} of the data set cannot be read: "
                          f"{str(exc)[:300]}") from None


@dataclass(frozen=True)
class Plan:
    """What every chunk of a run must agree on; JSON-safe (``as_dict``), for workers."""

    task: str
    label_column: str
    favourable_class: str
    threshold: float
    checks: tuple[str, ...]
    sensitive_features: tuple[dict[str, Any], ...]
    categories: dict[str, list[str]]
    classes: list[Any]
    positive: Any
    negative: Any
    rows: int
    chunk_rows: int
    chunks: int
    options: dict[str, Any]
    part2: dict[str, Any] = field(default_factory=dict)  # chunked_part2.start's state

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(**{**data, "checks": tuple(data["checks"]),
                      "sensitive_features": tuple(data["sensitive_features"])})

    @property
    def spec(self) -> BootstrapSpec:
        return BootstrapSpec(int(self.options["n_bootstrap"]), int(self.options["seed"]),
                             float(self.options["confidence"]))

    @property
    def needs_second_stage(self) -> bool:
        return "calibration" in self.checks or (
            "performance" in self.checks and self.spec.replicates > 0)


def prepare(*, source: BinaryIO, file_format: str, task: str, label_column: str,
            favourable_class: str, threshold: float | None, checks: Sequence[str],
            sensitive_features: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
            chunk_rows: int, model_bytes: bytes | None = None,
            input_specs: Sequence[Mapping[str, Any]] = (),
            reference: pd.DataFrame | None = None,
            monotone: Mapping[str, str] | None = None) -> Plan:
    """Check the run's settings and read the label and sensitive columns once, a chunk at a
    time, for what the chunks must share. With robustness the pre-pass also profiles the
    model's inputs (``input_specs``); with drift the ``reference`` data set is binned, scored
    with the model (``model_bytes``) and counted (evaluation.chunked_part2)."""
    if task != "binary_classification":
        raise EngineError("Chunked evaluation is for binary classifiers; evaluate this model "
                          "in one pass.")
    engine.check_checks(checks, sensitive_features)
    if not all(c in (*chunked_part2.CHECKS, *sampled.CHECKS) for c in checks
               if c in part2.CHECKS):
        raise EngineError("This part-2 check needs all the rows at once; evaluate it in one "
                          "pass.")
    if "drift" in checks and reference is None:
        raise EngineError("The drift check needs the reference (training) data set.")
    if chunk_rows < 1:
        raise EngineError("The chunk size must be at least one row.")
    categorical = [f["column"] for f in sensitive_features if f.get("bins") is None]
    inputs = [s["name"] for s in input_specs] if "robustness" in checks else []
    labels: list[Any] = []
    found: dict[str, set[str]] = {c: set() for c in categorical}
    rows = chunks = 0
    favourable: Any = None
    data_profile: DataProfile | None = None
    read = list(dict.fromkeys([label_column, *categorical, *inputs]))
    for frame in iter_chunks(source, file_format, chunk_rows, read):
        if inputs:
            part = robustness_profile(frame, inputs)
            data_profile = part if data_profile is None else data_profile.merge(part)
        if favourable is None:
            favourable = favourable_value(frame[label_column], favourable_class)
        labels.extend(v for v in pd.unique(frame[label_column]) if v not in labels)
        for column in categorical:
            found[column].update(t for t in (str(json_label(u)).strip()
                                             for u in pd.unique(frame[column].dropna())) if t)
        rows += len(frame)
        chunks += 1
    if rows == 0:
        raise EngineError("The data set has no rows.")
    negatives = [v for v in labels if v != favourable]
    state: dict[str, Any] = {}
    if any(c in chunked_part2.CHECKS for c in checks):
        predict = None
        if "drift" in checks and model_bytes is not None:
            predict = onnx_predict(inference_session(model_bytes, threads=1),
                                   [dict(s) for s in input_specs], output="probabilities",
                                   column=sorted(labels).index(favourable))
        state = chunked_part2.start(
            checks=checks, input_specs=input_specs, profile=data_profile, reference=reference,
            predict=predict, monotone=monotone,
            seed=int({**DEFAULT_OPTIONS, **dict(options)}["seed"]))
    return Plan(task=task, label_column=label_column, favourable_class=favourable_class,
                threshold=float(threshold if threshold is not None else 0.5),
                checks=tuple(c for c in RUN_CHECKS if c in checks),
                sensitive_features=tuple(dict(f) for f in sensitive_features),
                categories={c: sorted(v) for c, v in found.items()},
                classes=_plain(sorted(labels)), positive=_plain(favourable),
                negative=_plain(negatives[0]) if negatives else None, rows=rows,
                chunk_rows=chunk_rows, chunks=chunks,
                options={**DEFAULT_OPTIONS, **dict(options)}, part2=state)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (the plan travels as JSON)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _groupings(plan: Plan, frame: pd.DataFrame) -> list[Grouping]:
    return [bin_column(f["column"], frame[f["column"]], BinSpec.from_dict(f["bins"]))
            if f.get("bins") is not None
            else encode_column(f["column"], frame[f["column"]],
                               categories=plan.categories[f["column"]])
            for f in plan.sensitive_features]


def chunk_sums(plan: Plan, session: Any, input_specs: Sequence[Mapping[str, Any]],
               frame: pd.DataFrame, first_row: int, stage: int = 1,
               edges: Sums | None = None) -> Sums:
    """Score one chunk (whose first row is row ``first_row`` of the data set) and sum it: the
    first stage's sums, or with ``stage=2`` and ``edges`` (``second_stage``) the second's."""
    labels = frame[plan.label_column]
    scored = engine._score(plan.task, session, input_specs, frame, labels,
                           plan.favourable_class, classes=plan.classes)
    data = binary_data(labels.to_numpy(), scored["y_prob"], positive_class=plan.positive,
                       threshold=plan.threshold)
    spec, rows = plan.spec, np.arange(first_row, first_row + data.n, dtype=np.uint64)
    n_bins = int(plan.options["n_bins"])
    out: Sums = {}
    if stage == 2:
        if edges is None:
            raise ValueError("The second stage sums into the first stage's bins: pass edges.")
        wanted: list[tuple[str, Tally]] = []
        if "performance" in plan.checks and spec.replicates > 0:
            wanted.append(("histogram", ranking_tally(data, edges["auc_lows"])))
        if "calibration" in plan.checks:
            scores, favoured = data.prob, data.y.astype(np.float64)
            wanted.append(("quantile", Tally(bin_of(scores, edges["quantile_edges"]), n_bins,
                                             (scores, favoured))))
        sums = tally([t for _, t in wanted], rows=rows, spec=spec)
        return {name: s for (name, _), s in zip(wanted, sums, strict=True)}
    wanted = []
    if "performance" in plan.checks or "calibration" in plan.checks:
        runs = ScoreRuns.of(data.prob, data.y.astype(np.float64))
        out.update(zip(_RUNS, (runs.scores, runs.positive, runs.negative), strict=True))
    if "performance" in plan.checks:
        wanted.append(("cells", binary_tallies(data)[0]))
    groupings = _groupings(plan, frame) if plan.sensitive_features else []
    cells = intersect(groupings) if groupings else None
    if "calibration" in plan.checks:
        scores, favoured = data.prob, data.y.astype(np.float64)
        u_bins = bin_of(scores, uniform_edges(n_bins))
        wanted.append(("uniform", Tally(u_bins, n_bins,
                                        (scores, favoured, (scores - favoured) ** 2))))
        if cells is not None:
            out["per_cell"] = cell_bin_sums(cells, scores, favoured, u_bins, n_bins)
    sums = tally([t for _, t in wanted], rows=rows, spec=spec)
    out.update({name: s for (name, _), s in zip(wanted, sums, strict=True)})
    if "bias" in plan.checks and cells is not None:
        out["bias"] = bias_tally(data, cells, spec, first_row=first_row).sums
    part2_checks = [c for c in plan.checks if c in chunked_part2.CHECKS]
    if part2_checks:
        predict = onnx_predict(session, [dict(s) for s in input_specs], output="probabilities",
                               column=plan.classes.index(plan.positive))
        out.update(chunked_part2.chunk_results(
            plan.part2, part2_checks, frame=frame, predict=predict, scores=data.prob,
            labels=data.y.astype(np.int64), threshold=plan.threshold, first_row=first_row))
    return out


def merge_sums(parts: Sequence[Sums]) -> Sums:
    """The sums of all the parts' rows: score runs merged, everything else added."""
    if not parts:
        return {}
    out: Sums = {}
    if _RUNS[0] in parts[0]:
        runs = merge_runs([ScoreRuns(*(p[k] for k in _RUNS)) for p in parts])
        out.update(zip(_RUNS, (runs.scores, runs.positive, runs.negative), strict=True))
    for key in parts[0]:
        if key in chunked_part2.KEYS:
            out[key] = chunked_part2.merge(key, [p[key] for p in parts])
        elif key not in _RUNS:
            out[key] = np.sum([p[key] for p in parts], axis=0)
    return out


def second_stage(plan: Plan, first: Sums) -> Sums:
    """The bins the second pass sums into, from the first pass's merged score runs: the
    calibration quantile edges (exactly numpy's percentiles of all scores) and the lowest score
    of each AUC histogram bin."""
    runs = ScoreRuns(*(first[k] for k in _RUNS))
    n_bins = int(plan.options["n_bins"])
    return {"quantile_edges": runs_percentile(runs, np.linspace(0.0, 1.0, n_bins + 1) * 100),
            "auc_lows": auc_bins(runs)}


def finish(plan: Plan, first: Sums, second: Sums, edges: Sums | None,
           inputs: Mapping[str, Any] | None = None,
           sampled_results: Mapping[str, Any] | None = None,
           part2_inputs: Mapping[str, Any] | None = None) -> Outcome:
    """The run's results from the merged sums, as the one-pass engine reports them;
    ``sampled_results`` holds the checks computed on samples gathered across the chunks
    (evaluation.sampled)."""
    spec = plan.spec
    groupings = _groupings(plan, pd.DataFrame({f["column"]: pd.Series([], dtype=object)
                                               for f in plan.sensitive_features}))
    results: dict[str, Any] = {}
    outcomes = []
    for name in plan.checks:
        result: Any
        if sampled_results is not None and name in sampled_results:
            result = sampled_results[name]
        elif name == "performance":
            result = binary_performance(
                runs=ScoreRuns(*(first[k] for k in _RUNS)), cells=first["cells"],
                histogram=second.get("histogram"), spec=spec,
                positive_class=json_label(plan.positive),
                negative_class=None if plan.negative is None else json_label(plan.negative),
                threshold=plan.threshold)
        elif name in chunked_part2.CHECKS:
            result = chunked_part2.finish(name, plan.part2, first[name])
        elif name == "bias":
            cells = intersect(groupings)
            result = bias_result(BiasTally(Task.BINARY, first["bias"], spec,
                                           json_label(plan.positive), plan.threshold),
                                 groupings, cells, int(plan.options["min_group_size"]))
        else:
            if edges is None:
                raise ValueError("Calibration needs the second stage's quantile edges.")
            result = calibration_result(
                task=Task.BINARY, positive_class=json_label(plan.positive),
                n_bins=int(plan.options["n_bins"]), q_edges=edges["quantile_edges"],
                uniform_sums=first["uniform"], quantile_sums=second["quantile"],
                groupings=groupings, per_cell=first.get("per_cell"),
                min_group_size=int(plan.options["min_group_size"]), spec=spec)
        results[name], outcome = engine.check_outcome(name, result)
        outcomes.append(outcome)
    return engine.assemble(task=plan.task, rows=plan.rows, label_column=plan.label_column,
                           favourable_class=plan.favourable_class, threshold=plan.threshold,
                           sensitive_features=plan.sensitive_features, options=plan.options,
                           inputs=inputs, results=results, outcomes=outcomes,
                           part2_inputs=_part2_inputs(plan, part2_inputs))


def _part2_inputs(plan: Plan, sampled_inputs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What part 2 was computed with, as the one-pass engine records it: robustness's and
    drift's from the plan, the what-if's from the sampled checks."""
    if not plan.part2:
        return dict(sampled_inputs) if sampled_inputs is not None else None
    recorded = chunked_part2.inputs(plan.part2)
    if sampled_inputs is not None:
        recorded["mitigation"] = dict(sampled_inputs["mitigation"])
    return recorded


def evaluate_chunked(*, model_bytes: bytes, input_specs: Sequence[Mapping[str, Any]],
                     task: str, data: BinaryIO, file_format: str, label_column: str,
                     favourable_class: str, threshold: float | None, checks: Sequence[str],
                     sensitive_features: Sequence[Mapping[str, Any]],
                     options: Mapping[str, Any], inputs: Mapping[str, Any], chunk_rows: int,
                     reference: pd.DataFrame | None = None,
                     monotone: Mapping[str, str] | None = None,
                     mitigation: Mapping[str, Any] | None = None,
                     report: Report = engine._no_report) -> Outcome:
    """``engine.load_and_evaluate`` in chunks of ``chunk_rows`` rows, in this process; the
    progress counts finished chunks. ``reference`` (drift, and the explanations' background)
    and ``monotone`` (robustness) as ``engine.evaluate`` takes them. Robustness and drift merge
    across chunks (evaluation.chunked_part2); explanations and the mitigation what-if are
    computed on their seeded samples, gathered in one more pass (evaluation.sampled)."""
    report(2, "Reading the labels and sensitive features")
    plan = prepare(source=data, file_format=file_format, task=task, label_column=label_column,
                   favourable_class=favourable_class, threshold=threshold, checks=checks,
                   sensitive_features=sensitive_features, options=options,
                   chunk_rows=chunk_rows, model_bytes=model_bytes, input_specs=input_specs,
                   reference=reference, monotone=monotone)
    session = inference_session(model_bytes, threads=1)
    passes = 2 if plan.needs_second_stage else 1
    done = 0

    def one_pass(stage: int, edges: Sums | None) -> Sums:
        nonlocal done
        merged: Sums = {}
        first_row = 0
        for frame in iter_chunks(data, file_format, chunk_rows):
            sums = chunk_sums(plan, session, input_specs, frame, first_row, stage, edges)
            merged = merge_sums([merged, sums]) if merged else sums
            first_row += len(frame)
            done += 1
            report(5 + 85 * done // (plan.chunks * passes),
                   f"Chunk {done} of {plan.chunks * passes} evaluated")
        return merged

    first = one_pass(1, None)
    edges = second_stage(plan, first) if plan.needs_second_stage else None
    second = one_pass(2, edges) if edges is not None else {}
    sampled_results = part2_inputs = None
    if set(sampled.CHECKS) & set(plan.checks):
        # What part 2 was computed with, as the one-pass engine records it.
        part2_inputs = {"monotone": dict(monotone or {}),
                        "mitigation": {"constraint": (mitigation or {}).get(
                                           "constraint", "demographic_parity"),
                                       "disparity_limit": (mitigation or {}).get(
                                           "disparity_limit")},
                        "reference_rows": None if reference is None else len(reference)}
        report(90, "Explaining and analysing the seeded samples")
        sampled_results = sampled.compute(
            checks=plan.checks, chunks=lambda: iter_chunks(data, file_format, chunk_rows),
            rows=plan.rows, model_bytes=model_bytes, input_specs=input_specs,
            label_column=plan.label_column, favourable_class=plan.favourable_class,
            classes=plan.classes, positive=plan.positive, threshold=plan.threshold,
            sensitive_features=plan.sensitive_features, categories=plan.categories,
            options=plan.options, reference=reference, mitigation=mitigation)
    report(92, "Computing the digest")
    return finish(plan, first, second, edges, inputs, sampled_results, part2_inputs)


def sums_to_bytes(sums: Sums) -> bytes:
    """A chunk's sums as bytes (numpy's .npz), to store or send."""
    buffer = io.BytesIO()
    np.savez(buffer, **sums)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return buffer.getvalue()


def sums_from_bytes(data: bytes) -> Sums:
    with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
        return {key: loaded[key] for key in loaded.files}
