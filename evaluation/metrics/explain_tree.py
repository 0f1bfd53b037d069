"""Exact TreeSHAP for ONNX tree ensembles: the trees, the matrix they read, and its raw columns.

:func:`evaluation.metrics.explain.explain` uses this path when the model's graph ends in one
``ai.onnx.ml`` ``TreeEnsembleClassifier`` or ``TreeEnsembleRegressor`` (what skl2onnx emits for
scikit-learn's gradient boosting, random forests and decision trees). Three steps, each of which
refuses with :class:`NotTreeModel` — and so sends the explanation to the model-agnostic path with
the reason recorded — when the graph is not one it can read exactly:

1. :func:`trace_columns` derives, from the graph itself, which raw input feeds each column of the
   matrix the trees read: it walks back from the tree node's input through the encoders and the
   ``Concat`` that assemble it, carrying for every tensor an array of "owners" (the index of the
   raw input each element comes from) shaped like one row of that tensor.
2. :func:`transformed_matrix` runs the graph only up to that tensor (``onnx.utils.Extractor``),
   so SHAP is fed the graph's own encoded and scaled features, not a re-implementation of them.
3. :func:`read_trees` converts the tree node into shap's custom-tree dictionary for
   ``shap.TreeExplainer`` in interventional mode. ONNX stores no node covers (the number of
   training rows through each node), so the path-dependent mode would be silently wrong; the
   node sample weights are set to zero, which makes shap refuse that mode outright.

The explanation is in the trees' raw margin — the sum of the leaf values and the base value, before
the post transform: the log-odds for ``LOGISTIC`` (gradient boosting), the probability itself for
``NONE`` (random forests average class frequencies), the value for a regressor. TreeSHAP is exact
in that space: each row's contributions plus the expected value add up to its margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
ML_DOMAIN = "ai.onnx.ml"
CONSTANT = -1  # owner of an element that depends on no raw input
MIXED = -2  # owner of an element computed from several raw inputs: cannot be attributed

# Operators that work element by element: each output element has its input element's owner.
ELEMENTWISE = {"Identity", "Cast", "Scaler", "Imputer", "LabelEncoder", "Binarizer", "Abs",
               "Neg", "Relu", "Sigmoid", "Clip", "Floor", "Ceil", "Round", "Sqrt", "Exp", "Log"}
# Elementwise with a second operand: a constant keeps the owners; two data operands must agree.
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"}


class NotTreeModel(Exception):
    """The graph is not a tree ensemble this module can explain exactly; the message says why."""


@dataclass(frozen=True)
class TreeModel:
    """The tree node read into shap's format, and how its input columns map to raw inputs."""

    ensemble: dict[str, Any]  # shap's custom-tree dictionary (see read_trees)
    tree_input: str  # the graph tensor the trees read
    column_owners: tuple[int, ...]  # raw input index per column of that tensor, or CONSTANT
    output_space: str  # "log_odds", "probability" or "raw_value": what the margin is
    link: str  # "logistic" or "identity": from the margin to the model's score


def find_tree_node(model: Any) -> Any:
    """The graph's single tree-ensemble node; NotTreeModel if there is none or several."""
    nodes = [n for n in model.graph.node if n.domain == ML_DOMAIN and n.op_type in TREE_OPS]
    if not nodes:
        others = [n.op_type for n in model.graph.node if n.op_type.startswith("TreeEnsemble")]
        if others:
            raise NotTreeModel(f"the graph's tree operator {others[0]} is not read by the exact "
                               f"path (only TreeEnsembleClassifier and TreeEnsembleRegressor).")
        raise NotTreeModel("the graph has no TreeEnsembleClassifier or TreeEnsembleRegressor.")
    if len(nodes) > 1:
        raise NotTreeModel(f"the graph has {len(nodes)} tree-ensemble operators; the exact path "
                           f"reads a graph with one.")
    return nodes[0]


# ---------------------------------------------------------------------------------------------
# 1. Which raw input feeds each column of the trees' input.

def trace_columns(model: Any, tensor: str, raw_inputs: Sequence[str]) -> tuple[int, ...]:
    """The raw input index (in ``raw_inputs``) of each column of ``tensor``, a [N, F] matrix.

    Owners are computed backwards from ``tensor`` with memoisation, each tensor's owners being an
    integer array shaped like one row of it: a graph input of shape [N, 1] is ``[i]``; a
    ``OneHotEncoder`` turns ``[i]`` into ``[[i] * C]`` for its C categories; ``Concat``,
    ``Reshape``, ``Flatten``, ``Squeeze``/``Unsqueeze`` and ``Gather`` with constant indices
    move owners exactly as they move values; elementwise operators keep them. Any other
    operator on the way, or a column mixing two raw inputs, raises NotTreeModel: attributing
    such a column to one raw input would be a guess.
    """
    from onnx import numpy_helper

    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output if out}
    constants: dict[str, np.ndarray] = {
        init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            constants[node.output[0]] = numpy_helper.to_array(_attributes(node)["value"])
    input_index = {name: i for i, name in enumerate(raw_inputs)}
    input_shapes = {value.name: value.type.tensor_type.shape for value in graph.input}
    memo: dict[str, np.ndarray] = {}

    def owners(name: str) -> np.ndarray:
        if name in memo:
            return memo[name]
        if name in input_index:
            dims = input_shapes[name].dim
            result = np.full((1,) if len(dims) == 2 else (), input_index[name], dtype=np.int64)
            if len(dims) not in (1, 2) or (len(dims) == 2 and dims[1].dim_value not in (0, 1)):
                raise NotTreeModel(f"graph input {name!r} is not one raw column.")
        elif name in constants:
            raise NotTreeModel(f"constant tensor {name!r} reaches the trees as data.")
        elif name in producers:
            result = _node_owners(producers[name], name, owners, constants)
        else:
            raise NotTreeModel(f"tensor {name!r} comes from no input or node of the graph.")
        memo[name] = result
        return result

    columns = owners(tensor)
    if columns.ndim != 1:
        raise NotTreeModel(f"the trees' input has per-row shape {columns.shape}, not a row of "
                           f"columns.")
    if (columns == MIXED).any():
        raise NotTreeModel("some columns the trees read mix several raw inputs (e.g. a "
                           "projection); they cannot be attributed to one raw column.")
    return tuple(int(owner) for owner in columns)


def _node_owners(node: Any, output: str, owners: Callable[[str], np.ndarray],
                 constants: dict[str, np.ndarray]) -> np.ndarray:
    op = node.op_type
    attrs = _attributes(node)
    if list(node.output).index(output) != 0:
        raise NotTreeModel(f"output {output!r} of {op} is not its main output.")
    data = [name for name in node.input if name and name not in constants]
    where = f"{op} node {node.name or output!r}"
    if op == "OneHotEncoder":
        source = owners(node.input[0])
        categories = len(attrs.get("cats_strings") or attrs.get("cats_int64s") or [])
        return np.repeat(source[..., np.newaxis], categories, axis=-1)
    if op in ELEMENTWISE or (op in BINARY and len(data) == 1):
        if len(data) != 1:
            raise NotTreeModel(f"{where} has {len(data)} data inputs.")
        return owners(data[0])
    if op in BINARY:
        first, second = (owners(name) for name in data)
        if first.shape != second.shape:
            raise NotTreeModel(f"{where} broadcasts two data tensors.")
        return np.where(first == second, first, MIXED)
    if op == "Concat":
        parts = [owners(name) for name in node.input if name]
        axis = _row_axis(int(attrs["axis"]), parts[0].ndim + 1, where)
        return np.concatenate(parts, axis=axis)
    if op == "Reshape":
        source = owners(node.input[0])
        shape = [int(d) for d in constants.get(node.input[1], np.array([]))]
        if node.input[1] not in constants or len(shape) < 1 or shape[0] not in (-1, 0):
            raise NotTreeModel(f"{where} does not keep the rows (shape {shape}).")
        row_shape = [source.shape[i - 1] if d == 0 and i > 0 else d
                     for i, d in enumerate(shape)][1:]
        if shape[0] == -1 and -1 in row_shape:
            raise NotTreeModel(f"{where} leaves two dimensions open.")
        return source.reshape(row_shape)
    if op == "Flatten":
        source = owners(node.input[0])
        if int(attrs.get("axis", 1)) != 1:
            raise NotTreeModel(f"{where} flattens across rows.")
        return source.reshape(-1)
    if op in ("Squeeze", "Unsqueeze"):
        source = owners(node.input[0])
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1:
            axes = constants.get(node.input[1])
        if axes is None:
            raise NotTreeModel(f"{where} has no constant axes.")
        rank = source.ndim + 1 + (len(axes) if op == "Unsqueeze" else 0)
        row_axes = tuple(_row_axis(int(a), rank, where) for a in axes)
        if op == "Squeeze":
            return source.squeeze(axis=row_axes)
        return np.expand_dims(source, axis=row_axes)
    if op in ("Gather", "ArrayFeatureExtractor"):
        source = owners(node.input[0])
        if len(node.input) < 2 or node.input[1] not in constants:
            raise NotTreeModel(f"{where} selects columns by data, not by constant indices.")
        indices = constants[node.input[1]].astype(np.int64)
        axis = -1 if op == "ArrayFeatureExtractor" else _row_axis(
            int(attrs.get("axis", 0)), source.ndim + 1, where)
        return np.take(source, indices, axis=axis)
    raise NotTreeModel(f"{where} lies between the inputs and the trees, and its columns cannot "
                       f"be traced to raw inputs.")


def _row_axis(axis: int, rank: int, where: str) -> int:
    """An axis of the full tensor (rank ``rank``) as an axis of one row; the row axis refused."""
    axis = axis + rank if axis < 0 else axis
    if axis == 0:
        raise NotTreeModel(f"{where} works across rows.")
    return axis - 1


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


# ---------------------------------------------------------------------------------------------
# 2. The matrix the trees read, computed by the graph itself.

def transformed_graph(model: Any, tensor: str) -> bytes:
    """The sub-graph from the model's inputs to ``tensor``, serialised for a session."""
    import onnx
    from onnx.utils import Extractor

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as error:
        raise NotTreeModel(f"the graph's shapes cannot be inferred: {error}") from error
    known = {v.name for v in (*inferred.graph.value_info, *inferred.graph.input,
                              *inferred.graph.output)}
    if tensor not in known:
        raise NotTreeModel(f"shape inference gives no type for the trees' input {tensor!r}.")
    sub = Extractor(inferred).extract_model([v.name for v in model.graph.input], [tensor])
    return sub.SerializeToString()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# 3. The trees, in shap's custom-tree format.

def read_trees(node: Any, *, input_dtype: Any, favourable_index: int = 1) -> dict[str, Any]:
    """The tree node as shap's dictionary ``{"trees": [...], "base_offset", "input_dtype", ...}``.

    Each tree is ``{"children_left", "children_right", "children_default", "features",
    "thresholds", "values", "node_sample_weight"}`` over its nodes; shap sends a row left when
    ``x <= threshold`` and to ``children_default`` when x is missing. ONNX's node modes become
    that test exactly, in the trees' input precision (``input_dtype``, float32 for skl2onnx):

    * ``BRANCH_LEQ``: left = true branch, threshold t;
    * ``BRANCH_LT``: ``x < t`` is ``x <= t'`` with t' the next representable value below t
      (``np.nextafter(t, -inf)`` in the input's precision), left = true branch;
    * ``BRANCH_GTE``: ``x >= t`` is "not ``x <= t'``", so left = false branch, threshold t';
    * ``BRANCH_GT``: "not ``x <= t``", left = false branch, threshold t;
    * ``BRANCH_EQ``/``BRANCH_NEQ``/``BRANCH_MEMBER``: not read (NotTreeModel).

    A missing value goes where ONNX Runtime sends it: to the true branch where
    ``nodes_missing_value_tracks_true`` is set, otherwise where a failed comparison goes (the
    false branch). The leaf values are the margin of the favourable class (``favourable_index``
    of the ``probabilities`` output) or the regression target; see :func:`margin_space`.
    """
    attrs = _attributes(node)
    post = _text(attrs.get("post_transform", b"NONE"))
    if node.op_type == "TreeEnsembleClassifier":
        leaf_key, weights_key = "class", "class_weights"
        ids = list(attrs.get("class_ids", []))
        labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings") or []
        if len(labels) != 2:
            raise NotTreeModel(f"the classifier has {len(labels)} classes; the exact path reads "
                               f"binary classifiers.")
        coefficients = _classifier_coefficients(set(ids), post, favourable_index)
        aggregate = "SUM"
    else:
        leaf_key, weights_key = "target", "target_weights"
        ids = list(attrs.get("target_ids", []))
        if int(attrs.get("n_targets", 1)) != 1:
            raise NotTreeModel("the regressor has several targets.")
        if post != "NONE":
            raise NotTreeModel(f"the regressor's post transform {post} is not read.")
        coefficients = {0: 1.0}
        aggregate = _text(attrs.get("aggregate_function", b"SUM"))
        if aggregate not in ("SUM", "AVERAGE"):
            raise NotTreeModel(f"the regressor's aggregate function {aggregate} is not additive.")
    weights = _floats(attrs, weights_key)
    base_values = _floats(attrs, "base_values")
    base = sum(c * (base_values[k] if k < len(base_values) else 0.0)
               for k, c in coefficients.items())
    if node.op_type == "TreeEnsembleClassifier" and len(set(ids)) == 1 and post == "NONE" \
            and favourable_index == 0:
        base += 1.0  # binary case: P(class 0) = 1 - s

    tree_ids = list(attrs["nodes_treeids"])
    node_ids = list(attrs["nodes_nodeids"])
    leaf_value: dict[tuple[int, int], float] = {}
    for tree, nid, cls, weight in zip(attrs[f"{leaf_key}_treeids"], attrs[f"{leaf_key}_nodeids"],
                                      ids, weights, strict=True):
        key = (int(tree), int(nid))
        leaf_value[key] = leaf_value.get(key, 0.0) + coefficients.get(int(cls), 0.0) * weight
    n_trees = len(set(tree_ids))
    scale = 1.0 / n_trees if aggregate == "AVERAGE" else 1.0

    by_tree: dict[int, list[int]] = {}
    for position, tree in enumerate(tree_ids):
        by_tree.setdefault(int(tree), []).append(position)
    modes = [_text(m) for m in attrs["nodes_modes"]]
    features = list(attrs["nodes_featureids"])
    thresholds = _floats(attrs, "nodes_values")
    true_ids = list(attrs["nodes_truenodeids"])
    false_ids = list(attrs["nodes_falsenodeids"])
    tracks_true = list(attrs.get("nodes_missing_value_tracks_true") or [0] * len(tree_ids))
    dtype = np.dtype(input_dtype)
    trees = []
    for tree in sorted(by_tree):
        positions = sorted(by_tree[tree], key=lambda p: node_ids[p])
        index = {int(node_ids[p]): i for i, p in enumerate(positions)}
        size = len(positions)
        left = np.full(size, -1, dtype=np.int32)
        right = np.full(size, -1, dtype=np.int32)
        default = np.full(size, -1, dtype=np.int32)
        feature = np.full(size, -2, dtype=np.int32)
        threshold = np.zeros(size, dtype=np.float64)
        values = np.zeros((size, 1), dtype=np.float64)
        for i, p in enumerate(positions):
            mode = modes[p]
            if mode == "LEAF":
                values[i, 0] = leaf_value.get((tree, int(node_ids[p])), 0.0) * scale
                continue
            if mode not in ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"):
                raise NotTreeModel(f"tree {tree} has a {mode} node; the exact path reads "
                                   f"threshold comparisons only.")
            yes, no = index[int(true_ids[p])], index[int(false_ids[p])]
            t = dtype.type(thresholds[p])
            if mode in ("BRANCH_LT", "BRANCH_GTE"):
                t = np.nextafter(t, dtype.type(-np.inf))
            left[i], right[i] = (yes, no) if mode in ("BRANCH_LEQ", "BRANCH_LT") else (no, yes)
            default[i] = yes if tracks_true[p] else no
            feature[i] = int(features[p])
            threshold[i] = float(t)
        trees.append({"children_left": left, "children_right": right,
                      "children_default": default, "features": feature,
                      "thresholds": threshold, "values": values,
                      # ONNX stores no covers: zero weights make shap refuse path-dependent mode.
                      "node_sample_weight": np.zeros(size, dtype=np.float64)})
    return {"trees": trees, "base_offset": float(base), "input_dtype": dtype.type,
            "internal_dtype": np.float64, "tree_output": "raw_value"}


def margin_space(node: Any) -> tuple[str, str]:
    """(what the margin is, the link from margin to score) for the tree node."""
    post = _text(_attributes(node).get("post_transform", b"NONE"))
    if node.op_type == "TreeEnsembleRegressor":
        return "raw_value", "identity"
    if post in ("LOGISTIC", "SOFTMAX"):
        return "log_odds", "logistic"
    return "probability", "identity"


def _classifier_coefficients(class_ids: set[int], post: str, favourable: int
                             ) -> dict[int, float]:
    """How each class's summed weight enters the favourable class's margin.

    ONNX Runtime's binary case — two labels, weights for one class only (skl2onnx's gradient
    boosting) — reads that single score s as the second class's: P = [T(-s), T(s)] under
    ``LOGISTIC`` and [1 - s, s] under ``NONE``. With weights for both classes, each class has
    its own score: ``LOGISTIC`` and ``NONE`` transform them separately, and ``SOFTMAX`` of two
    scores is the logistic of their difference.
    """
    if favourable not in (0, 1):
        raise NotTreeModel(f"favourable class index {favourable} is not 0 or 1.")
    if post not in ("NONE", "LOGISTIC", "SOFTMAX"):
        raise NotTreeModel(f"the classifier's post transform {post} is not read.")
    if len(class_ids) == 1:
        if post == "SOFTMAX":
            raise NotTreeModel("a single-score classifier with SOFTMAX is not read.")
        (only,) = class_ids
        return {only: 1.0 if favourable == 1 else -1.0}
    if class_ids != {0, 1}:
        raise NotTreeModel(f"the classifier's class ids {sorted(class_ids)} are not 0 and 1.")
    if post == "SOFTMAX":
        return {favourable: 1.0, 1 - favourable: -1.0}
    return {favourable: 1.0}


def _floats(attrs: dict[str, Any], name: str) -> list[float]:
    """A float list attribute, or its double-precision ``*_as_tensor`` form (ai.onnx.ml 3)."""
    from onnx import numpy_helper

    tensor = attrs.get(f"{name}_as_tensor")
    if tensor is not None:
        return [float(v) for v in numpy_helper.to_array(tensor).ravel()]
    return [float(v) for v in attrs.get(name, [])]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
