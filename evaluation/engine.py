"""The run engine: score a data set with a version's ONNX model once and compute the checks.

``evaluate`` is a plain function of its inputs (no database): the artifact's bytes, the rows, the
model's favourable class and threshold, the checks and their options. It scores the rows once on
one ONNX Runtime intra-op thread, calls the pure metric functions (evaluation.metrics), reports
its progress through ``report(percent, step)``, and returns the results with their digests.

Reproducible: the only randomness is the bootstrap's, seeded by ``options["seed"]``; every float
is rounded to 10 significant digits before the digest (evaluation.metrics.results), so the same
inputs give the same digest (tests/evaluation/test_engine.py). ``load_and_evaluate`` reads a
run's stored artifact and data sets and calls ``evaluate``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation import part2
from evaluation.metrics import CHECKS, BinSpec, canonical_json, digest, encode_columns
from evaluation.metrics.results import canonical
from evaluation.metrics.scoring import inference_session, onnx_predict
from evaluation.tables import favourable_value, read_table
from registry.onnx_feed import onnx_feed

# The checks a run can compute, in the order they run: part 1's on the scores, then part 2's
# (evaluation.part2), which score the model again or compare with the reference data.
PART_1 = ("performance", "bias", "calibration")
RUN_CHECKS = PART_1 + part2.CHECKS
# What a launch runs when it names no checks: part 1's, which every evaluation data set allows.
DEFAULT_CHECKS = PART_1
DEFAULT_OPTIONS: dict[str, Any] = {"seed": 0, "n_bootstrap": 200, "min_group_size": 30,
                                   "confidence": 0.95, "n_bins": 10,
                                   "shap_rows": part2.explain_metrics.SAMPLE_SIZE}
# Rows per session.run: a bounded feed whatever the size of the data set.
BATCH_ROWS = 65_536
# The libraries whose versions can change a figure; recorded with every run.
LIBRARIES = ("numpy", "pandas", "scipy", "onnxruntime", "onnx", "pyarrow")
RESULTS_SCHEMA = 1

Report = Callable[[int, str], None]


class EngineError(ValueError):
    """The run cannot be computed; the message says why (the run fails with it)."""


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result: the flat figures a policy reads and the digest of the full result."""

    name: str
    figures: dict[str, float | None]
    digest: str


@dataclass(frozen=True)
class Outcome:
    """Everything a run computed: ``results`` (JSON) and its ``digest``, and per check."""

    results: dict[str, Any]
    digest: str
    checks: tuple[CheckOutcome, ...]


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _no_report(percent: int, step: str) -> None:
    return None


def check_checks(checks: Sequence[str], sensitive_features: Sequence[Mapping[str, Any]]) -> None:
    """EngineError unless ``checks`` are known checks, with sensitive features for bias and the
    mitigation what-if."""
    unknown = [c for c in checks if c not in RUN_CHECKS]
    if unknown or not checks:
        raise EngineError(f"Choose checks among {', '.join(RUN_CHECKS)}; got "
                          f"{', '.join(unknown) or 'none'}.")
    if ("bias" in checks or "mitigation" in checks) and not sensitive_features:
        raise EngineError("The bias check and the mitigation what-if need sensitive features: "
                          "name them with the data set.")



def _part1_check(name: str, common: dict[str, Any], groups: Any, opts: Mapping[str, Any]) -> Any:
    """Compute one part-1 check (performance, bias, calibration) with the arguments it takes:
    the scores and labels of ``common``, the groups and group-size floor for bias and
    calibration, the bin count for calibration."""
    kwargs = dict(common)
    if name in ("bias", "calibration"):
        kwargs["groups"] = groups
        kwargs["min_group_size"] = int(opts["min_group_size"])
    if name == "calibration":
        kwargs["n_bins"] = int(opts["n_bins"])
    return CHECKS[name](**{k: v for k, v in kwargs.items() if k in _PARAMETERS[name]})

def evaluate(*, task: str, model_bytes: bytes, input_specs: Sequence[Mapping[str, Any]],
             frame: pd.DataFrame, label_column: str, favourable_class: str,
             threshold: float | None, checks: Sequence[str],
             sensitive_features: Sequence[Mapping[str, Any]] = (),
             options: Mapping[str, Any] | None = None, inputs: Mapping[str, Any] | None = None,
             reference: pd.DataFrame | None = None, monotone: Mapping[str, str] | None = None,
             mitigation: Mapping[str, Any] | None = None,
             report: Report = _no_report) -> Outcome:
    """Score ``frame`` once and compute ``checks`` on it. ``inputs`` (digests, names) is copied
    into the results so that the digest covers what the figures were computed on.

    Part 2: ``reference`` is the reference (training) data drift compares with (and the SHAP
    background); ``monotone`` maps features to "increasing" / "decreasing" for robustness;
    ``mitigation`` is ``{"constraint", "disparity_limit"}`` for the what-if."""
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    check_checks(checks, sensitive_features)
    if "calibration" in checks and task == "regression":
        raise EngineError("Calibration needs predicted probabilities; a regression model has "
                          "none. Leave the calibration check out.")
    if "drift" in checks and reference is None:
        raise EngineError("The drift check needs the reference (training) data set.")
    report(10, "Scoring the rows with the model")
    labels = frame[label_column]
    session = inference_session(model_bytes, threads=1)
    common: dict[str, Any] = {"task": task, "y_true": labels.to_numpy(),
                              "n_bootstrap": int(opts["n_bootstrap"]), "seed": int(opts["seed"]),
                              "confidence": float(opts["confidence"])}
    common.update(_scored(task, session, input_specs, frame, labels, favourable_class,
                          threshold))
    groups = _groups(frame, sensitive_features) if sensitive_features else []
    mitigation = dict(mitigation or {})
    settings = part2.Settings(
        seed=int(opts["seed"]), shap_rows=int(opts["shap_rows"]), monotone=dict(monotone or {}),
        mitigation_constraint=mitigation.get("constraint", "demographic_parity"),
        disparity_limit=mitigation.get("disparity_limit"))
    scoring = None
    if any(c in part2.CHECKS for c in checks):
        scoring = _part2_scoring(task, session, model_bytes, input_specs, labels,
                                 favourable_class, common)
    outcomes: list[CheckOutcome] = []
    results: dict[str, Any] = {}
    ordered = [c for c in RUN_CHECKS if c in checks]
    for i, name in enumerate(ordered):
        report(20 + 70 * i // len(ordered), f"Computing the {name} check")
        if scoring is not None and name in part2.CHECKS:
            result = part2.compute(name, scoring=scoring, frame=frame, settings=settings,
                                   groupings=groups, reference=reference,
                                   sensitive_columns=[f["column"] for f in sensitive_features])
        else:
            result = _part1_check(name, common, groups, opts)
        results[name], outcome = check_outcome(name, result)
        outcomes.append(outcome)
    report(92, "Computing the digest")
    part2_inputs = None
    if scoring is not None:  # what part 2 was computed with (part 1's results stay as they were)
        part2_inputs = {"monotone": dict(settings.monotone or {}),
                        "mitigation": {"constraint": settings.mitigation_constraint,
                                       "disparity_limit": settings.disparity_limit},
                        "reference_rows": None if reference is None else len(reference)}
    return assemble(task=task, rows=len(frame), label_column=label_column,
                    favourable_class=favourable_class, threshold=common.get("threshold"),
                    sensitive_features=sensitive_features, options=opts, inputs=inputs,
                    results=results, outcomes=outcomes, part2_inputs=part2_inputs)


def check_outcome(name: str, result: Any) -> tuple[dict[str, Any], CheckOutcome]:
    """A check's entry in the results (its full result, figures and digest) and its outcome."""
    as_dict = canonical(result.as_dict())
    figures = canonical(result.figures())
    entry = {"result": as_dict, "figures": figures, "digest": digest(as_dict)}
    return entry, CheckOutcome(name, figures, entry["digest"])


def assemble(*, task: str, rows: int, label_column: str, favourable_class: str,
             threshold: float | None, sensitive_features: Sequence[Mapping[str, Any]],
             options: Mapping[str, Any], inputs: Mapping[str, Any] | None,
             results: dict[str, Any], outcomes: Sequence[CheckOutcome],
             part2_inputs: Mapping[str, Any] | None = None) -> Outcome:
    """The run's results and their digest, whichever way (one pass, chunks) they were
    computed; ``part2_inputs`` records what part 2's checks were computed with."""
    full: dict[str, Any] = {
        "schema": RESULTS_SCHEMA, "task": task, "rows": rows,
        "label_column": label_column, "favourable_class": favourable_class,
        "threshold": threshold, "sensitive_features": [dict(f) for f in sensitive_features],
        "options": dict(options), "inputs": dict(inputs or {}), "checks": results}
    if part2_inputs is not None:
        full["part2"] = dict(part2_inputs)
    full = canonical(full)
    return Outcome(results=full, digest=digest(full), checks=tuple(outcomes))


def _part2_scoring(task: str, session: Any, model_bytes: bytes,
                   input_specs: Sequence[Mapping[str, Any]], labels: pd.Series,
                   favourable_class: str, common: Mapping[str, Any]) -> part2.Scoring:
    """The predict callable and the labels as part 2's checks take them: the favourable class's
    probability and 1 = favourable for a binary classifier; the value and the target for a
    regressor. The base scores are those the engine already computed."""
    specs = [dict(s) for s in input_specs]
    columns = tuple(s["name"] for s in specs)
    if task == "regression":
        return part2.Scoring(
            task=task, columns=columns, input_specs=tuple(specs), model_bytes=model_bytes,
            predict=onnx_predict(session, specs, output="variable", column=0),
            scores=np.asarray(common["y_pred"], dtype=np.float64),
            labels=labels.to_numpy(dtype=np.float64), threshold=None, favourable_index=0)
    classes = sorted(pd.unique(labels).tolist())
    favourable = common["positive_class"]
    index = classes.index(favourable)
    y_prob = np.asarray(common["y_prob"], dtype=np.float64)
    return part2.Scoring(
        task=task, columns=columns, input_specs=tuple(specs), model_bytes=model_bytes,
        predict=onnx_predict(session, specs, output="probabilities", column=index),
        scores=y_prob if y_prob.ndim == 1 else y_prob[:, index],
        labels=(labels == favourable).to_numpy().astype(np.int64),
        threshold=common.get("threshold"), favourable_index=index)


# Which shared keyword arguments each check takes (they take different subsets).
_PARAMETERS = {
    "performance": {"task", "y_true", "y_prob", "y_pred", "positive_class", "threshold",
                    "classes", "n_bootstrap", "seed", "confidence"},
    "bias": {"task", "y_true", "groups", "y_prob", "y_pred", "positive_class", "threshold",
             "classes", "min_group_size", "n_bootstrap", "seed", "confidence"},
    "calibration": {"task", "y_true", "y_prob", "positive_class", "classes", "groups", "n_bins",
                    "min_group_size", "n_bootstrap", "seed", "confidence"},
}


def _groups(frame: pd.DataFrame, sensitive_features: Sequence[Mapping[str, Any]]) -> list[Any]:
    columns = {f["column"]: frame[f["column"]] for f in sensitive_features}
    bins = {f["column"]: BinSpec.from_dict(f["bins"]) for f in sensitive_features
            if f.get("bins") is not None}
    return encode_columns(columns, bins)


def _scored(task: str, session: Any, input_specs: Sequence[Mapping[str, Any]],
            frame: pd.DataFrame, labels: pd.Series, favourable_class: str,
            threshold: float | None) -> dict[str, Any]:
    """The scores (``_score``) with the favourable class (``positive_class``) and, for a binary
    classifier, the decision threshold, as the checks take them."""
    scored = _score(task, session, input_specs, frame, labels, favourable_class)
    if task != "regression":
        scored["positive_class"] = favourable_value(labels, favourable_class)
    if task == "binary_classification":
        scored["threshold"] = float(threshold if threshold is not None else 0.5)
    return scored


def _score(task: str, model_bytes: bytes | Any, input_specs: Sequence[Mapping[str, Any]],
           frame: pd.DataFrame, labels: pd.Series, favourable_class: str,
           classes: list[Any] | None = None) -> dict[str, Any]:
    """The model's scores, as the checks take them: ``y_prob`` (and ``classes``) for a
    classifier, ``y_pred`` for a regressor. Probability columns follow the sorted class labels,
    scikit-learn's ``classes_`` order (what skl2onnx exports): those of ``labels`` unless
    ``classes`` names them (a chunk of rows may lack a class). ``model_bytes`` may also be an
    inference session already made (chunks share one)."""
    session = inference_session(model_bytes, threads=1) if isinstance(model_bytes, bytes) \
        else model_bytes
    outputs = [o.name for o in session.get_outputs()]
    wanted = "variable" if task == "regression" else "probabilities"
    if wanted not in outputs:
        raise EngineError(f"The model has no {wanted!r} output (its outputs: "
                          f"{', '.join(outputs)}); export it with skl2onnx and zipmap=False.")
    parts = []
    specs = [dict(s) for s in input_specs]
    for start in range(0, len(frame), BATCH_ROWS):
        rows = frame.iloc[start:start + BATCH_ROWS]
        (values,) = session.run([wanted], onnx_feed(rows, specs))
        parts.append(np.asarray(values, dtype=np.float64))
    scores = np.concatenate(parts) if parts else np.empty((0,))
    if task == "regression":
        return {"y_pred": scores.reshape(len(frame), -1)[:, 0]}
    if classes is None:
        classes = sorted(pd.unique(labels).tolist())
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise EngineError(f"The model's probabilities have {scores.shape[-1]} column(s) but the "
                          f"labels hold {len(classes)} classes ({classes[:10]}); evaluate on "
                          "data that holds every class the model predicts.")
    if task == "binary_classification":
        favourable = favourable_value(labels, favourable_class)
        return {"y_prob": scores[:, classes.index(favourable)]}
    return {"y_prob": scores, "classes": classes}


def load_and_evaluate(*, model_bytes: bytes, input_specs: Sequence[Mapping[str, Any]],
                      task: str, data: Any, file_format: str, label_column: str,
                      favourable_class: str, threshold: float | None, checks: Sequence[str],
                      sensitive_features: Sequence[Mapping[str, Any]],
                      options: Mapping[str, Any], inputs: Mapping[str, Any],
                      reference: tuple[Any, str] | None = None,
                      monotone: Mapping[str, str] | None = None,
                      mitigation: Mapping[str, Any] | None = None,
                      report: Report = _no_report) -> Outcome:
    """Read the stored data set (an open binary file) and, when given as ``(file, format)``,
    the reference data set, and evaluate."""
    report(3, "Reading the data set")
    frame = read_table(data, file_format)
    reference_frame = read_table(*reference) if reference is not None else None
    return evaluate(task=task, model_bytes=model_bytes, input_specs=input_specs, frame=frame,
                    label_column=label_column, favourable_class=favourable_class,
                    threshold=threshold, checks=checks, sensitive_features=sensitive_features,
                    options=options, inputs=inputs, reference=reference_frame,
                    monotone=monotone, mitigation=mitigation, report=report)


def explain_row(*, task: str, model_bytes: bytes, input_specs: Sequence[Mapping[str, Any]],
                frame: pd.DataFrame, label_column: str, favourable_class: str,
                threshold: float | None, row: int, seed: int,
                reference: pd.DataFrame | None = None) -> dict[str, Any]:
    """One row of ``frame`` (0-based) explained on its own, as the run's explainability check
    explains (same seed and background): the explanation as JSON, its ``local[0]`` the row."""
    labels = frame[label_column]
    session = inference_session(model_bytes, threads=1)
    common = _scored(task, session, input_specs, frame, labels, favourable_class, threshold)
    scoring = _part2_scoring(task, session, model_bytes, input_specs, labels, favourable_class,
                             common)
    explanation = part2.explain_row(row, scoring=scoring, frame=frame,
                                    settings=part2.Settings(seed=seed), reference=reference)
    return canonical(explanation.as_dict())  # type: ignore[no-any-return]


def results_json(results: Mapping[str, Any]) -> str:
    """The canonical JSON text of a run's results (what the digest covers)."""
    return canonical_json(results)


# --- outcomes analysis: a model with no ONNX form, judged on its own predictions -----------------

# What a predictions file can be evaluated for: part 1's checks; part 2's run the model's graph.
PREDICTION_CHECKS = PART_1


def predictions_as_scores(task: str, predictions: pd.Series, labels: pd.Series,
                          favourable_class: str, threshold: float | None) -> dict[str, Any]:
    """A predictions column as the checks take the scores an ONNX graph would give: a binary
    classifier's favourable-class probability (a score from 0 to 1, or a predicted label, which
    is the probability 1 or 0), a multiclass classifier's predicted label (one-hot over the
    classes), a regressor's predicted value."""
    if predictions.isna().any():
        raise EngineError(f"The predictions column {predictions.name!r} has "
                          f"{int(predictions.isna().sum())} empty row(s); every row needs its "
                          "prediction.")
    if task == "regression":
        try:
            return {"y_pred": predictions.to_numpy(dtype=np.float64)}
        except (TypeError, ValueError):
            raise EngineError(f"The predictions column {predictions.name!r} of a regression "
                              "model must hold numbers.") from None
    classes = sorted(pd.unique(labels).tolist())
    if task == "binary_classification":
        favourable = favourable_value(labels, favourable_class)
        out: dict[str, Any] = {"positive_class": favourable,
                               "threshold": float(threshold if threshold is not None else 0.5)}
        if pd.api.types.is_numeric_dtype(predictions.dtype) \
                and not pd.api.types.is_bool_dtype(predictions.dtype) \
                and not set(pd.unique(predictions)) <= set(classes):
            scores = predictions.to_numpy(dtype=np.float64)
            if scores.min() < 0 or scores.max() > 1:
                raise EngineError(f"The predictions column {predictions.name!r} holds scores "
                                  f"outside 0 to 1 ({scores.min():g} to {scores.max():g}); give "
                                  "the favourable class's probability, or the predicted label.")
            out["y_prob"] = scores
        else:
            unknown = sorted(map(str, set(pd.unique(predictions)) - set(classes)))
            if unknown:
                raise EngineError(f"The predictions column {predictions.name!r} holds labels "
                                  f"the label column does not ({', '.join(unknown[:5])}); give "
                                  "the predicted label as the label column spells it, or a score "
                                  "from 0 to 1.")
            out["y_prob"] = (predictions == favourable).to_numpy(dtype=np.float64)
        return out
    unknown = sorted(map(str, set(pd.unique(predictions)) - set(classes)))
    if unknown:
        raise EngineError(f"The predictions column {predictions.name!r} holds classes the label "
                          f"column does not ({', '.join(unknown[:5])}); evaluate on data that "
                          "holds every class the model predicts.")
    one_hot = (predictions.to_numpy()[:, None] == np.asarray(classes, dtype=object)[None, :])
    return {"y_prob": one_hot.astype(np.float64), "classes": classes,
            "positive_class": favourable_value(labels, favourable_class)}


def evaluate_predictions(*, task: str, frame: pd.DataFrame, label_column: str,
                         predictions_column: str, favourable_class: str,
                         threshold: float | None, checks: Sequence[str],
                         sensitive_features: Sequence[Mapping[str, Any]] = (),
                         options: Mapping[str, Any] | None = None,
                         inputs: Mapping[str, Any] | None = None,
                         report: Report = _no_report) -> Outcome:
    """The outcomes analysis of a model with no ONNX form: part 1's checks (the same metric
    functions, figures and names as a run on a graph) computed on the predictions the model
    made, from the predictions file's own columns instead of scoring rows."""
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    not_here = [c for c in checks if c not in PREDICTION_CHECKS]
    if not_here:
        raise EngineError(f"{', '.join(not_here)} run the model's graph, which a model with no "
                          "ONNX form does not have: not applicable without an artifact. Choose "
                          f"among {', '.join(PREDICTION_CHECKS)}.")
    check_checks(checks, sensitive_features)
    if "calibration" in checks and task == "regression":
        raise EngineError("Calibration needs predicted probabilities; a regression model has "
                          "none. Leave the calibration check out.")
    report(10, "Reading the predictions")
    labels = frame[label_column]
    common: dict[str, Any] = {"task": task, "y_true": labels.to_numpy(),
                              "n_bootstrap": int(opts["n_bootstrap"]), "seed": int(opts["seed"]),
                              "confidence": float(opts["confidence"])}
    common.update(predictions_as_scores(task, frame[predictions_column], labels,
                                        favourable_class, threshold))
    if task != "binary_classification":
        common.pop("threshold", None)
    groups = _groups(frame, sensitive_features) if sensitive_features else []
    outcomes: list[CheckOutcome] = []
    results: dict[str, Any] = {}
    ordered = [c for c in PREDICTION_CHECKS if c in checks]
    for i, name in enumerate(ordered):
        report(20 + 70 * i // len(ordered), f"Computing the {name} check")
        result = _part1_check(name, common, groups, opts)
        results[name], outcome = check_outcome(name, result)
        outcomes.append(outcome)
    report(92, "Computing the digest")
    return assemble(task=task, rows=len(frame), label_column=label_column,
                    favourable_class=favourable_class, threshold=common.get("threshold"),
                    sensitive_features=sensitive_features, options=opts,
                    inputs={**(inputs or {}), "predictions_column": predictions_column},
                    results=results, outcomes=outcomes)


def load_and_evaluate_predictions(*, data: Any, file_format: str, **kwargs: Any) -> Outcome:
    """Read the stored predictions file (an open binary file) and evaluate it."""
    report: Report = kwargs.get("report", _no_report)
    report(3, "Reading the predictions file")
    return evaluate_predictions(frame=read_table(data, file_format), **kwargs)
