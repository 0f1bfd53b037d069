"""Chunked evaluation: a run over a data set read a chunk at a time, for a binary or multiclass
classifier or a regressor.

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
mitigation what-if are computed on their seeded samples gathered from the chunks
(evaluation.sampled).

A multiclass model's chunks keep each class's score runs and a k x k confusion tally (and
the second pass each class's ranking histogram); its bias and calibration are judged on the
favourable class as in one pass. A regressor's chunks sum errors and the labels' deviations
from their mean, which the pre-pass computes from the label column (``Plan.label_mean``);
it needs no second pass (evaluation.metrics.chunks, docs/evaluation-metrics.md).
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
    class_ranking_tally,
    merge_runs,
    multiclass_performance,
    multiclass_tallies,
    ranking_tally,
    regression_performance,
    regression_tallies,
    runs_percentile,
)
from evaluation.metrics.groups import Grouping, bin_column, encode_column, intersect
from evaluation.metrics.inputs import (
    BinaryData,
    MulticlassData,
    RegressionData,
    binary_data,
    json_label,
    multiclass_data,
    regression_data,
    regression_labels,
)
from evaluation.metrics.robustness import DataProfile
from evaluation.metrics.robustness import profile as robustness_profile
from evaluation.metrics.scoring import inference_session, onnx_predict
from evaluation.tables import favourable_value

Sums = dict[str, np.ndarray]
_PARTS = ("scores", "positive", "negative", "highs")
BINARY, MULTICLASS, REGRESSION = ("binary_classification", "multiclass_classification",
                                  "regression")


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
    threshold: float | None  # a binary classifier's; None for the others
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
    label_mean: float | None = None  # a regressor's: the mean of all the labels

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
        return self.task != REGRESSION and ("calibration" in self.checks or (
            "performance" in self.checks and self.spec.replicates > 0))

    @property
    def favourable_index(self) -> int:
        """The favourable class's column of the probabilities (0 for a regressor's value)."""
        return self.classes.index(self.positive) if self.task != REGRESSION else 0

    def runs_classes(self) -> list[int]:
        """The classes whose score runs a multiclass chunk keeps: every class for performance
        (one against the rest), the favourable one for calibration's quantile bins."""
        if "performance" in self.checks:
            return list(range(len(self.classes)))
        return [self.favourable_index] if "calibration" in self.checks else []


def _runs_key(plan: Plan, c: int | None = None) -> str:
    """The prefix of a score-runs entry of the sums: a binary classifier's favourable scores,
    or class ``c``'s (the favourable class's when None) of a multiclass model."""
    if plan.task == BINARY:
        return "runs"
    return f"runs{plan.favourable_index if c is None else c}"


def _runs(sums: Sums, prefix: str) -> ScoreRuns:
    return ScoreRuns(*(sums[f"{prefix}.{part}"] for part in _PARTS))


def _put_runs(out: Sums, prefix: str, runs: ScoreRuns) -> None:
    out.update(zip((f"{prefix}.{part}" for part in _PARTS),
                   (runs.scores, runs.positive, runs.negative, runs.highs), strict=True))


def prepare(*, source: BinaryIO, file_format: str, task: str, label_column: str,
            favourable_class: str, threshold: float | None, checks: Sequence[str],
            sensitive_features: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
            chunk_rows: int, model_bytes: bytes | None = None,
            input_specs: Sequence[Mapping[str, Any]] = (),
            reference: pd.DataFrame | None = None,
            monotone: Mapping[str, str] | None = None) -> Plan:
    """Check the run's settings and read the label and sensitive columns once, a chunk at a
    time, for what the chunks must share: a classifier's classes, a regressor's label mean.
    With robustness the pre-pass also profiles the model's inputs (``input_specs``); with
    drift the ``reference`` data set is binned, scored with the model (``model_bytes``) and
    counted (evaluation.chunked_part2)."""
    if task not in (BINARY, MULTICLASS, REGRESSION):
        raise EngineError(f"Unknown model task {task!r}.")
    engine.check_checks(checks, sensitive_features)
    if "calibration" in checks and task == REGRESSION:
        raise EngineError("Calibration needs predicted probabilities; a regression model has "
                          "none. Leave the calibration check out.")
    for check in (c for c in checks if c in part2.CHECKS):
        if task not in part2.MODEL_TASKS[check]:
            raise EngineError(f"The {check} check is computed for "
                              f"{' and '.join(t.replace('_', ' ') for t in part2.MODEL_TASKS[check])}"
                              " models only.")
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
    label_sum = 0.0
    found: dict[str, set[str]] = {c: set() for c in categorical}
    rows = chunks = 0
    favourable: Any = None
    data_profile: DataProfile | None = None
    read = list(dict.fromkeys([label_column, *categorical, *inputs]))
    for frame in iter_chunks(source, file_format, chunk_rows, read):
        if inputs:
            part = robustness_profile(frame, inputs)
            data_profile = part if data_profile is None else data_profile.merge(part)
        if task == REGRESSION:  # the labels' mean, to centre R²'s sums (metrics.chunks)
            label_sum += float(regression_labels(frame[label_column].to_numpy()).sum())
        else:
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
    classes = sorted(labels)
    if task == MULTICLASS and favourable not in classes \
            and {"bias", "calibration"} & set(checks):
        raise EngineError(f"Bias and calibration judge a multiclass model on its favourable "
                          f"class, and {favourable_class!r} is not among the labels "
                          f"({', '.join(repr(json_label(c)) for c in classes[:10])}).")
    negatives = [v for v in labels if v != favourable]
    state: dict[str, Any] = {}
    if any(c in chunked_part2.CHECKS for c in checks):
        predict = None
        if "drift" in checks and model_bytes is not None and task != MULTICLASS:
            # A multiclass model's drift has no prediction part (as in one pass).
            session = inference_session(model_bytes, threads=1)
            specs = [dict(s) for s in input_specs]
            predict = onnx_predict(session, specs, output="variable", column=0) \
                if task == REGRESSION else \
                onnx_predict(session, specs, output="probabilities",
                             column=classes.index(favourable))
        state = chunked_part2.start(
            checks=checks, input_specs=input_specs, profile=data_profile, reference=reference,
            predict=predict, monotone=monotone,
            seed=int({**DEFAULT_OPTIONS, **dict(options)}["seed"]),
            task="regression" if task == REGRESSION else "classification")
    binary = task == BINARY
    return Plan(task=task, label_column=label_column, favourable_class=favourable_class,
                threshold=float(threshold if threshold is not None else 0.5) if binary
                else None,
                checks=tuple(c for c in RUN_CHECKS if c in checks),
                sensitive_features=tuple(dict(f) for f in sensitive_features),
                categories={c: sorted(v) for c, v in found.items()},
                classes=_plain(classes), positive=_plain(favourable),
                negative=_plain(negatives[0]) if negatives and binary else None, rows=rows,
                chunk_rows=chunk_rows, chunks=chunks,
                options={**DEFAULT_OPTIONS, **dict(options)}, part2=state,
                label_mean=label_sum / rows if task == REGRESSION else None)


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
    data: BinaryData | MulticlassData | RegressionData
    if plan.task == BINARY:
        data = binary_data(labels.to_numpy(), scored["y_prob"], positive_class=plan.positive,
                           threshold=plan.threshold)
    elif plan.task == MULTICLASS:
        data = multiclass_data(labels.to_numpy(), scored["y_prob"], classes=plan.classes)
    else:
        data = regression_data(labels.to_numpy(), scored["y_pred"])
    spec, rows = plan.spec, np.arange(first_row, first_row + data.n, dtype=np.uint64)
    if stage == 2:
        if edges is None:
            raise ValueError("The second stage sums into the first stage's bins: pass edges.")
        return _second_stage_sums(plan, data, edges, rows)
    n_bins = int(plan.options["n_bins"])
    out: Sums = {}
    wanted: list[tuple[str, Tally]] = []
    if isinstance(data, BinaryData):
        if "performance" in plan.checks or "calibration" in plan.checks:
            _put_runs(out, "runs", ScoreRuns.of(data.prob, data.y.astype(np.float64)))
        if "performance" in plan.checks:
            wanted.append(("cells", binary_tallies(data)[0]))
    elif isinstance(data, MulticlassData):
        for c in plan.runs_classes():
            _put_runs(out, _runs_key(plan, c),
                      ScoreRuns.of(data.prob[:, c], (data.y == c).astype(np.float64)))
        if "performance" in plan.checks:
            wanted.append(("cells", multiclass_tallies(data)[0]))
    elif "performance" in plan.checks:
        if plan.label_mean is None:
            raise ValueError("A regressor's chunks are summed around the labels' mean: "
                             "prepare the plan first.")
        wanted.append(("cells", regression_tallies(data, plan.label_mean)[0]))
    groupings = _groupings(plan, frame) if plan.sensitive_features else []
    cells = intersect(groupings) if groupings else None
    if "calibration" in plan.checks:
        scores, favoured = _favourable_scores(plan, data)
        u_bins = bin_of(scores, uniform_edges(n_bins))
        wanted.append(("uniform", Tally(u_bins, n_bins,
                                        (scores, favoured, (scores - favoured) ** 2))))
        if cells is not None:
            out["per_cell"] = cell_bin_sums(cells, scores, favoured, u_bins, n_bins)
    sums = tally([t for _, t in wanted], rows=rows, spec=spec)
    out.update({name: s for (name, _), s in zip(wanted, sums, strict=True)})
    if "bias" in plan.checks and cells is not None:
        out["bias"] = bias_tally(data, cells, spec, positive_class=plan.positive,
                                 first_row=first_row).sums
    part2_checks = [c for c in plan.checks if c in chunked_part2.CHECKS]
    if part2_checks:
        specs = [dict(s) for s in input_specs]
        predict: Any = None
        base: np.ndarray | None = None
        targets: np.ndarray | None = None
        if isinstance(data, RegressionData):
            predict = onnx_predict(session, specs, output="variable", column=0)
            base, targets = data.pred, data.y
        elif isinstance(data, BinaryData):
            predict = onnx_predict(session, specs, output="probabilities",
                                   column=plan.favourable_index)
            base, targets = data.prob, data.y.astype(np.int64)
        # A multiclass model has drift only, of its features (no predict, no scores).
        out.update(chunked_part2.chunk_results(
            plan.part2, part2_checks, frame=frame, predict=predict, scores=base,
            labels=targets, threshold=plan.threshold, first_row=first_row))
    return out


def _favourable_scores(plan: Plan, data: BinaryData | MulticlassData | RegressionData,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The favourable class's probability and 1.0 where a row is of that class."""
    if isinstance(data, BinaryData):
        return data.prob, data.y.astype(np.float64)
    if isinstance(data, MulticlassData):
        k = plan.favourable_index
        return data.prob[:, k], (data.y == k).astype(np.float64)
    raise ValueError("A regressor has no class probabilities.")


def _second_stage_sums(plan: Plan, data: BinaryData | MulticlassData | RegressionData,
                       edges: Sums, rows: np.ndarray) -> Sums:
    """A chunk's second-stage sums: the AUC / average-precision histograms (per class for a
    multiclass model) and calibration's quantile bins."""
    wanted: list[tuple[str, Tally]] = []
    if "performance" in plan.checks and plan.spec.replicates > 0:
        if isinstance(data, BinaryData):
            wanted.append(("histogram", ranking_tally(data, edges["auc_lows"])))
        elif isinstance(data, MulticlassData):
            wanted.extend((f"histogram{c}", class_ranking_tally(data, c, edges[f"auc_lows{c}"]))
                          for c in range(len(plan.classes)))
    if "calibration" in plan.checks:
        scores, favoured = _favourable_scores(plan, data)
        wanted.append(("quantile", Tally(bin_of(scores, edges["quantile_edges"]),
                                         int(plan.options["n_bins"]), (scores, favoured))))
    sums = tally([t for _, t in wanted], rows=rows, spec=plan.spec)
    return {name: s for (name, _), s in zip(wanted, sums, strict=True)}


def merge_sums(parts: Sequence[Sums]) -> Sums:
    """The sums of all the parts' rows: score runs merged, everything else added."""
    if not parts:
        return {}
    out: Sums = {}
    prefixes = [k[:-len(".scores")] for k in parts[0]
                if k.startswith("runs") and k.endswith(".scores")]
    for prefix in prefixes:
        _put_runs(out, prefix, merge_runs([_runs(p, prefix) for p in parts]))
    for key in parts[0]:
        if key in chunked_part2.KEYS:
            out[key] = chunked_part2.merge(key, [p[key] for p in parts])
        elif not key.startswith("runs"):
            out[key] = np.sum([p[key] for p in parts], axis=0)
    return out


def second_stage(plan: Plan, first: Sums) -> Sums:
    """The bins the second pass sums into, from the first pass's merged score runs: the
    calibration quantile edges (exactly numpy's percentiles of all the favourable class's
    scores) and the lowest score of each AUC histogram bin (per class for a multiclass
    model)."""
    n_bins = int(plan.options["n_bins"])
    percents = np.linspace(0.0, 1.0, n_bins + 1) * 100
    if plan.task == BINARY:
        runs = _runs(first, "runs")
        return {"quantile_edges": runs_percentile(runs, percents), "auc_lows": auc_bins(runs)}
    out: Sums = {}
    if "calibration" in plan.checks:
        out["quantile_edges"] = runs_percentile(_runs(first, _runs_key(plan)), percents)
    if "performance" in plan.checks and plan.spec.replicates > 0:
        for c in range(len(plan.classes)):
            out[f"auc_lows{c}"] = auc_bins(_runs(first, _runs_key(plan, c)))
    return out


def finish(plan: Plan, first: Sums, second: Sums, edges: Sums | None,
           inputs: Mapping[str, Any] | None = None,
           sampled_results: Mapping[str, Any] | None = None,
           part2_inputs: Mapping[str, Any] | None = None) -> Outcome:
    """The run's results from the merged sums, as the one-pass engine reports them;
    ``sampled_results`` holds the checks computed on samples gathered across the chunks
    (evaluation.sampled)."""
    spec, kind = plan.spec, Task(plan.task)
    groupings = _groupings(plan, pd.DataFrame({f["column"]: pd.Series([], dtype=object)
                                               for f in plan.sensitive_features}))
    results: dict[str, Any] = {}
    outcomes = []
    for name in plan.checks:
        result: Any
        if sampled_results is not None and name in sampled_results:
            result = sampled_results[name]
        elif name == "performance":
            result = _performance(plan, first, second)
        elif name in chunked_part2.CHECKS:
            result = chunked_part2.finish(name, plan.part2, first[name])
        elif name == "bias":
            cells = intersect(groupings)
            result = bias_result(BiasTally(kind, first["bias"], spec,
                                           None if kind is Task.REGRESSION
                                           else json_label(plan.positive), plan.threshold),
                                 groupings, cells, int(plan.options["min_group_size"]))
        else:
            if edges is None:
                raise ValueError("Calibration needs the second stage's quantile edges.")
            result = calibration_result(
                task=kind, positive_class=json_label(plan.positive),
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


def _performance(plan: Plan, first: Sums, second: Sums) -> Any:
    """The performance result of the merged sums, for the plan's kind of model."""
    if plan.task == REGRESSION:
        return regression_performance(sums=first["cells"], spec=plan.spec)
    if plan.task == MULTICLASS:
        k = len(plan.classes)
        histograms = [second[f"histogram{c}"] for c in range(k)] \
            if plan.spec.replicates > 0 else None
        return multiclass_performance(
            runs=[_runs(first, _runs_key(plan, c)) for c in range(k)], cells=first["cells"],
            histograms=histograms, spec=plan.spec,
            classes=[json_label(c) for c in plan.classes])
    return binary_performance(
        runs=_runs(first, "runs"), cells=first["cells"], histogram=second.get("histogram"),
        spec=plan.spec, positive_class=json_label(plan.positive),
        negative_class=None if plan.negative is None else json_label(plan.negative),
        threshold=plan.threshold if plan.threshold is not None else 0.5)


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
