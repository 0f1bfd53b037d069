"""SHAP explanations: global importance per raw column, overall and per group, and single rows.

:func:`explain` explains a seeded sample of the evaluation rows (500 by default) against a seeded
background sample (100 rows), and any rows asked for one by one. Two paths, recorded in the
result's ``method``:

* ``tree``: when the ONNX graph is a tree ensemble it can read exactly (see
  :mod:`evaluation.metrics.explain_tree`), exact interventional TreeSHAP on the graph's own
  transformed matrix, in the trees' margin (log-odds for gradient boosting), with the one-hot
  columns of each raw column summed back into it.
* ``permutation``: otherwise shap's permutation explainer on the predict callable, model-agnostic,
  in the score's own units (the favourable class's probability, or the regression value), or,
  with ``permutation_output="log_odds"``, in the log-odds ``log(p / (1 - p))`` of the probability
  — the space the tree path explains a gradient-boosting classifier in, so the two paths can be
  compared like with like (tests/evaluation/test_explain.py, bench/evaluation.py). The
  masker needs numbers, so text columns are ordinal-encoded on the way in and decoded inside the
  function the explainer calls. When the tree path was tried and refused, ``fallback_reason``
  says why.

Either way each row's contributions add up to its prediction minus the expected value (exactly for
the tree path; for the permutation explainer, exactly too, because each of its forward and
backward passes telescopes); ``additivity_error`` records the largest gap found. The result's
``output_space`` says which scale the values are in: never compare importances across scales.

Groups: ``groups`` maps each sensitive feature to a group code per row; the importance per group
is computed for every feature (``group_importance[feature][group]``), and the figures carry
``shap_max_group_divergence[feature]`` per feature, as the bias check's figures do.

The sample is drawn by :func:`sample_positions` from the number of rows and the seed alone, so a
data set read in chunks gathers exactly the rows a one-pass run explains (evaluation.sampled);
:func:`explain_sample` explains rows already gathered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics.explain_tree import (
    CONSTANT,
    NotTreeModel,
    find_tree_node,
    margin_space,
    read_trees,
    trace_columns,
    transformed_graph,
)
from evaluation.metrics.results import to_json_safe
from evaluation.metrics.scoring import PredictFn, as_specs, feed_with_missing, inference_session

CHECK = "explainability"
SAMPLE_SIZE = 500
BACKGROUND_SIZE = 100
# The permutation explainer's model evaluations per row (shap's default): with M columns it runs
# max_evals // (2M + 1) forward-and-backward permutations.
MAX_EVALS = 500
# The permutation explainer on the log-odds clips probabilities to [EPS, 1 - EPS] first.
LOGIT_EPS = 1e-12
PERMUTATION_OUTPUTS = ("score", "log_odds")
# The tree path is used only if its margin, through the link, reproduces the model's own scores
# within this (relative to max(1, |score|)): ONNX Runtime sums the leaves in float32, which
# differs from a float64 sum by about 1e-6 for a few hundred trees; a misread tree differs by far
# more on some row.
FIDELITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class LocalExplanation:
    """One row explained: each raw column's contribution, from the base value to the prediction."""

    row: int  # position of the row in the evaluation frame
    values: dict[str, Any]  # the row's raw values
    contributions: dict[str, float]  # per raw column, in the explanation's output space
    base_value: float  # the expected value over the background
    prediction: float  # base_value + sum of contributions (within additivity_error)
    score: float  # the model's score for the row (probability or regression value)


@dataclass(frozen=True)
class Explanation:
    """SHAP importance of each raw column, overall and per group, and local explanations."""

    method: str  # "tree" or "permutation"
    output_space: str  # "log_odds", "probability" or "raw_value"
    columns: tuple[str, ...]
    sample_rows: int
    background_rows: int
    seed: int
    expected_value: float
    importance: dict[str, float]  # mean |SHAP| per raw column over the sample
    # sensitive feature -> group label -> column -> mean |SHAP|
    group_importance: dict[str, dict[str, dict[str, float]]]
    group_rows: dict[str, dict[str, int]]  # sensitive feature -> group label -> sampled rows
    additivity_error: float  # max |sum of contributions + expected value - prediction|
    local: tuple[LocalExplanation, ...] = ()
    sensitive_columns: tuple[str, ...] = ()  # model inputs that are protected attributes
    fallback_reason: str = ""  # why the tree path was not used, when it was tried
    # how the rows were chosen: "seeded" (sample_positions over all rows) and where they were
    # gathered from ("one pass" or "chunks")
    sample: dict[str, Any] | None = None

    def shares(self, importance: dict[str, float] | None = None) -> dict[str, float]:
        """Each column's share of the total mean |SHAP| (empty when the total is 0)."""
        importance = self.importance if importance is None else importance
        total = sum(importance.values())
        return {c: v / total for c, v in importance.items()} if total > 0 else {}

    def figures(self) -> dict[str, float | int | None]:
        """Flat figures for policy thresholds (see docs/evaluation-part2.md)."""
        shares = self.shares()
        per_feature = {feature: self._divergence(shares, groups)
                       for feature, groups in self.group_importance.items()}
        present = [d for d in per_feature.values() if d is not None]
        return {
            "shap_top_feature_share": max(shares.values()) if shares else None,
            "shap_sensitive_feature_share": (
                sum(shares.get(c, 0.0) for c in self.sensitive_columns)
                if self.sensitive_columns and shares else None),
            "shap_max_group_divergence": max(present) if present else None,
            "shap_additivity_error": self.additivity_error,
            "shap_sample_rows": self.sample_rows,
            **{f"shap_max_group_divergence[{feature}]": divergence
               for feature, divergence in per_feature.items()},
        }

    def _divergence(self, shares: dict[str, float],
                    groups: dict[str, dict[str, float]]) -> float | None:
        """The largest total-variation distance between a group's shares and the overall."""
        divergences = [0.5 * sum(abs(g.get(c, 0.0) - s) for c, s in shares.items())
                       for g in map(self.shares, groups.values()) if g]
        return max(divergences) if divergences else None

    def as_dict(self) -> dict[str, Any]:
        return to_json_safe({  # type: ignore[no-any-return]
            "check": CHECK, "method": self.method, "output_space": self.output_space,
            "fallback_reason": self.fallback_reason, "columns": self.columns,
            "sample_rows": self.sample_rows, "background_rows": self.background_rows,
            "seed": self.seed, "expected_value": self.expected_value,
            "importance": self.importance, "shares": self.shares(),
            "group_importance": self.group_importance, "group_rows": self.group_rows,
            "additivity_error": self.additivity_error,
            "sensitive_columns": self.sensitive_columns, "sample": self.sample,
            "local": [vars(row) for row in self.local], "figures": self.figures(),
        })


@dataclass(frozen=True)
class _Shap:
    """SHAP values per raw column for the explained rows, and what they explain."""

    values: np.ndarray  # [rows, columns]
    expected_value: float
    predictions: np.ndarray  # [rows], in output_space
    output_space: str
    method: str


Groups = Mapping[str, tuple[np.ndarray, Sequence[str]]]


def sample_positions(rows: int, size: int, seed: int) -> np.ndarray:
    """The positions (sorted) of the rows a run explains: ``size`` of ``rows`` drawn without
    replacement by ``seed``. A function of the row count and the seed only, so that chunks of a
    data set gather the same rows as one pass over it."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(rows, size), replace=False)).astype(np.int64)


def background_positions(rows: int, size: int, seed: int) -> np.ndarray:
    """The positions of the background rows (of the reference data, or of the evaluation data
    when there is none): ``size`` of ``rows`` drawn by a stream of ``seed`` of their own."""
    return np.sort(np.random.default_rng([seed, 1]).choice(
        rows, size=min(rows, size), replace=False)).astype(np.int64)


def explain(frame: pd.DataFrame, predict: PredictFn, *, columns: Sequence[str],
            onnx_model: bytes | None = None, input_specs: Sequence[Any] = (),
            groups: Groups | None = None, local_rows: Sequence[int] = (),
            background: pd.DataFrame | None = None, sample_size: int = SAMPLE_SIZE,
            background_size: int = BACKGROUND_SIZE, seed: int = 0, favourable_index: int = 1,
            sensitive_columns: Sequence[str] = (), max_evals: int = MAX_EVALS,
            permutation_output: str = "score") -> Explanation:
    """Explain ``predict`` on ``frame``'s raw ``columns`` (the model's inputs).

    ``onnx_model`` and ``input_specs`` (the graph and its input schema) enable the exact tree
    path; without them, or when the graph is not a tree ensemble it can read, the permutation
    explainer runs on ``predict`` (in ``permutation_output``: the score, or its log-odds).
    ``groups`` maps each sensitive feature to ``(codes, labels)``: each row's group as an index
    into ``labels`` (negative: no group). ``local_rows`` are positions in ``frame`` to explain
    one by one. ``background`` defaults to ``frame`` itself. Same inputs and seed, same result.
    """
    columns = tuple(columns)
    _check_inputs(frame, columns, groups or {}, local_rows, sample_size, background_size)
    background = frame if background is None else background
    absent = [c for c in columns if c not in background.columns]
    if absent:
        raise ValueError(f"The background data lacks the column(s) {', '.join(absent)}.")
    sample = sample_positions(len(frame), sample_size, seed)
    sampled = set(sample.tolist())
    extra_rows = np.array([r for r in dict.fromkeys(local_rows) if r not in sampled],
                          dtype=np.int64)
    explained = np.concatenate([sample, extra_rows]).astype(np.int64)
    bg_rows = background_positions(len(background), background_size, seed)
    return explain_sample(
        frame.iloc[explained][list(columns)].reset_index(drop=True), predict, columns=columns,
        sampled=len(sample), positions=explained,
        background=background.iloc[bg_rows][list(columns)].reset_index(drop=True),
        onnx_model=onnx_model, input_specs=input_specs,
        groups={name: (np.asarray(codes)[sample], labels)
                for name, (codes, labels) in (groups or {}).items()},
        local_rows=local_rows, seed=seed, favourable_index=favourable_index,
        sensitive_columns=sensitive_columns, max_evals=max_evals,
        permutation_output=permutation_output,
        sample_note={"drawn": "seeded", "rows": len(frame), "gathered": "one pass"})


def explain_sample(rows_frame: pd.DataFrame, predict: PredictFn, *, columns: Sequence[str],
                   sampled: int, positions: np.ndarray, background: pd.DataFrame,
                   onnx_model: bytes | None = None, input_specs: Sequence[Any] = (),
                   groups: Groups | None = None, local_rows: Sequence[int] = (),
                   seed: int = 0, favourable_index: int = 1,
                   sensitive_columns: Sequence[str] = (), max_evals: int = MAX_EVALS,
                   permutation_output: str = "score",
                   sample_note: Mapping[str, Any] | None = None) -> Explanation:
    """Explain rows already gathered: ``rows_frame`` holds the sample (its first ``sampled``
    rows, whose ``groups`` codes are given) and then any other ``local_rows``; ``positions``
    are their positions in the data set; ``background`` is the background sample itself."""
    columns = tuple(columns)
    if permutation_output not in PERMUTATION_OUTPUTS:
        raise ValueError(f"permutation_output is one of {', '.join(PERMUTATION_OUTPUTS)}, not "
                         f"{permutation_output!r}.")
    scores = np.asarray(predict(rows_frame), dtype=np.float64)

    shap_result: _Shap | None = None
    reason = ""
    if onnx_model is not None:
        try:
            shap_result = _tree_shap(onnx_model, input_specs, columns, rows_frame, background,
                                     scores, favourable_index)
        except NotTreeModel as refused:
            reason = f"Not explained by exact TreeSHAP: {refused}"
    if shap_result is None:
        shap_result = _permutation_shap(predict, columns, rows_frame, background, scores, seed,
                                        max_evals, permutation_output)

    phi = shap_result.values
    additivity = np.abs(phi.sum(axis=1) + shap_result.expected_value - shap_result.predictions)
    in_sample = np.arange(sampled)
    importance = _mean_abs(phi[in_sample], columns)
    group_importance: dict[str, dict[str, dict[str, float]]] = {}
    group_rows: dict[str, dict[str, int]] = {}
    for feature, (codes, labels) in (groups or {}).items():
        codes = np.asarray(codes)
        group_importance[feature], group_rows[feature] = {}, {}
        for code, label in enumerate(labels):
            members = in_sample[codes == code]
            group_rows[feature][label] = len(members)
            if len(members):
                group_importance[feature][label] = _mean_abs(phi[members], columns)
    position = {int(row): i for i, row in enumerate(positions)}
    local = tuple(
        LocalExplanation(
            row=int(row), values=to_json_safe(rows_frame.iloc[position[row]].to_dict()),
            contributions=dict(zip(columns, map(float, phi[position[row]]), strict=True)),
            base_value=shap_result.expected_value,
            prediction=float(shap_result.predictions[position[row]]),
            score=float(scores[position[row]]))
        for row in dict.fromkeys(local_rows))
    return Explanation(
        method=shap_result.method, output_space=shap_result.output_space, columns=columns,
        sample_rows=sampled, background_rows=len(background), seed=seed,
        expected_value=shap_result.expected_value, importance=importance,
        group_importance=group_importance, group_rows=group_rows,
        additivity_error=float(additivity.max()) if len(additivity) else 0.0, local=local,
        sensitive_columns=tuple(c for c in sensitive_columns if c in columns),
        fallback_reason=reason, sample=dict(sample_note) if sample_note else None)


def _check_inputs(frame: pd.DataFrame, columns: tuple[str, ...], groups: Groups,
                  local_rows: Sequence[int], sample_size: int, background_size: int) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(f"The data lacks the model's input column(s) {', '.join(absent)}.")
    if not columns:
        raise ValueError("Name the model's input columns to explain.")
    if len(frame) == 0:
        raise ValueError("There are no rows to explain.")
    if sample_size < 0 or background_size < 1:
        raise ValueError("sample_size must be 0 or more and background_size at least 1.")
    if sample_size == 0 and not local_rows:
        raise ValueError("Nothing to explain: give a sample size above 0 or rows to explain.")
    bad = [r for r in local_rows if not (isinstance(r, int | np.integer) and 0 <= r < len(frame))]
    if bad:
        raise ValueError(f"Rows to explain must be positions from 0 to {len(frame) - 1}; got "
                         f"{', '.join(map(str, bad[:5]))}.")
    for feature, (group_codes, group_labels) in groups.items():
        codes = np.asarray(group_codes)
        if codes.shape != (len(frame),) or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"Group codes of {feature} must be one integer per row.")
        if codes.max(initial=-1) >= len(group_labels):
            raise ValueError(f"A group code of {feature} is {codes.max()}, but only "
                             f"{len(group_labels)} group labels were given.")


def _mean_abs(phi: np.ndarray, columns: tuple[str, ...]) -> dict[str, float]:
    means = np.abs(phi).mean(axis=0) if len(phi) else np.zeros(len(columns))
    return dict(zip(columns, map(float, means), strict=True))


# ---------------------------------------------------------------------------------------------
# The exact path for tree ensembles.

def _tree_shap(onnx_model: bytes, input_specs: Sequence[Any], columns: tuple[str, ...],
               rows: pd.DataFrame, background: pd.DataFrame, scores: np.ndarray,
               favourable_index: int) -> _Shap:
    import onnx
    import shap

    model = onnx.load_from_string(onnx_model)
    node = find_tree_node(model)
    graph_inputs = [value.name for value in model.graph.input]
    if set(graph_inputs) - set(columns):
        raise NotTreeModel(f"the graph's inputs {sorted(set(graph_inputs) - set(columns))} are "
                           f"not among the explained columns.")
    owners = trace_columns(model, node.input[0], graph_inputs)
    specs = as_specs(input_specs)
    if not specs:
        raise NotTreeModel("no input schema was given to feed the graph.")
    sub_graph = transformed_graph(model, node.input[0])
    try:
        session = inference_session(sub_graph)
        (matrix,) = session.run(None, feed_with_missing(rows, specs))
        (bg_matrix,) = session.run(None, feed_with_missing(background, specs))
    except Exception as error:  # ONNX Runtime's errors have no common public base class
        raise NotTreeModel(f"the graph cut at the trees' input does not run: {error}") from error
    if matrix.ndim != 2 or matrix.shape[1] != len(owners):
        raise NotTreeModel(f"the trees' input has shape {matrix.shape}, not the {len(owners)} "
                           f"traced columns.")
    ensemble = read_trees(node, input_dtype=matrix.dtype, favourable_index=favourable_index)
    output_space, link = margin_space(node)
    explainer = shap.TreeExplainer(ensemble, bg_matrix, feature_perturbation="interventional")
    phi = np.asarray(explainer.shap_values(matrix, check_additivity=False), dtype=np.float64)
    margins = np.asarray(explainer.model.predict(matrix), dtype=np.float64).reshape(-1)
    linked = 1.0 / (1.0 + np.exp(-margins)) if link == "logistic" else margins
    gap = np.abs(linked - scores) / np.maximum(1.0, np.abs(scores))
    if not np.all(gap <= FIDELITY_TOLERANCE):
        raise NotTreeModel(f"the trees read from the graph do not reproduce the model's scores "
                           f"(largest difference {float(np.nanmax(gap)):.3g}).")
    position = {name: columns.index(name) for name in graph_inputs}
    by_column = np.zeros((len(rows), len(columns)))
    for transformed, owner in enumerate(owners):
        if owner != CONSTANT:
            by_column[:, position[graph_inputs[owner]]] += phi[:, transformed]
    expected = np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1)
    return _Shap(values=by_column, expected_value=float(expected[0]), predictions=margins,
                 output_space=output_space, method="tree")


# ---------------------------------------------------------------------------------------------
# The model-agnostic path.

def _permutation_shap(predict: PredictFn, columns: tuple[str, ...], rows: pd.DataFrame,
                      background: pd.DataFrame, scores: np.ndarray, seed: int,
                      max_evals: int, output: str = "score") -> _Shap:
    import shap

    codec = _OrdinalCodec(pd.concat([rows, background], ignore_index=True), columns)
    log_odds = output == "log_odds"
    if log_odds and not _looks_like_probability(scores):
        raise ValueError("The log-odds are explained for probabilities; these scores are not "
                         "all between 0 and 1.")

    def predict_encoded(matrix: np.ndarray) -> np.ndarray:
        values = np.asarray(predict(codec.decode(matrix)), dtype=np.float64)
        return _logit(values) if log_odds else values

    masker = shap.maskers.Independent(codec.encode(background), max_samples=len(background))
    # shap seeds numpy's global random state with this (its permutations draw from it).
    explainer = shap.explainers.Permutation(predict_encoded, masker, seed=seed)
    # 2M + 1 evaluations is one permutation; fewer would make shap refuse.
    evals = max(max_evals, 2 * len(columns) + 1)
    result = explainer(codec.encode(rows), max_evals=evals, silent=True)
    base = np.asarray(result.base_values, dtype=np.float64).reshape(-1)
    if log_odds:
        space, predictions = "log_odds", _logit(scores)
    else:
        space = "probability" if _looks_like_probability(scores) else "raw_value"
        predictions = scores
    return _Shap(values=np.asarray(result.values, dtype=np.float64),
                 expected_value=float(base[0]), predictions=predictions, output_space=space,
                 method="permutation")


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


def _looks_like_probability(scores: np.ndarray) -> bool:
    finite = scores[np.isfinite(scores)]
    return bool(len(finite)) and bool(((finite >= 0) & (finite <= 1)).all())


class _OrdinalCodec:
    """Numbers for shap's masker: numeric columns as they are, text columns as category codes."""

    def __init__(self, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.dtypes = {c: frame[c].dtype for c in columns}
        self.categories: dict[str, np.ndarray] = {}
        for c in columns:
            if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
                _codes, uniques = pd.factorize(frame[c], sort=True)
                self.categories[c] = np.asarray(uniques, dtype=object)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        matrix = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            if c in self.categories:
                codes = pd.Categorical(frame[c], categories=self.categories[c]).codes
                matrix[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                matrix[:, j] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        return matrix

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for j, c in enumerate(self.columns):
            values = matrix[:, j]
            if c in self.categories:
                missing = np.isnan(values)
                decoded = self.categories[c].take(np.where(missing, 0, values).astype(np.int64))
                decoded[missing] = None
                data[c] = decoded
            elif pd.api.types.is_integer_dtype(self.dtypes[c]) and not np.isnan(values).any():
                data[c] = values.astype(np.int64)
            else:
                data[c] = values
        return pd.DataFrame(data)
