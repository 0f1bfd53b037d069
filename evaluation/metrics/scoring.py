"""The predict callable the part-2 checks take, made from an ONNX Runtime session.

Robustness and explanations score many variants of the evaluation rows. They take a plain
``PredictFn`` — rows of raw data in, one score per row out (the favourable class's probability
for a binary classifier, the value for a regressor) — so they need no onnxruntime themselves and
can be tested with any function. :func:`onnx_predict` makes one from a session and the version's
input schema; it feeds the graph through :func:`registry.onnx_feed.onnx_feed`, like serving does.

Missing values (the robustness check's "missing" perturbation puts some in) are fed the way the
graph can take them, and refused where it cannot:

* a text input gets the empty string: ONNX string tensors have no null, the empty string is what
  a client leaving the field blank sends, and encoders built with ``handle_unknown="ignore"``
  treat it as an unseen category;
* a float input gets NaN, which the graph handles by its own rules (a tree's missing-value
  branch; a linear model returns NaN);
* an integer input cannot hold a missing value: :class:`registry.onnx_feed.FeedError` names the
  column, exactly as for any other frame that does not fit the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from registry.onnx_feed import FeedError, onnx_feed

if TYPE_CHECKING:
    import onnxruntime

PredictFn = Callable[[pd.DataFrame], np.ndarray]

# Rows per session.run: large enough that pandas' per-call overhead vanishes next to the inference
# itself, small enough that the feed and the graph's intermediate tensors stay a fraction of a
# large frame (on the demo model, a robustness run peaks below 1x the frame's deep size).
BATCH_SIZE = 65536
FLOAT_TYPES = ("float", "double", "float16")


def inference_session(onnx_model: bytes, *, threads: int = 1) -> onnxruntime.InferenceSession:
    """A CPU session over the model's bytes, on ``threads`` intra-op threads and no inter-op pool.

    One thread by default: evaluation workers run several checks side by side on shared cores,
    and ONNX Runtime's default (one thread per core, spinning) would make them fight.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(onnx_model, sess_options=options,
                                        providers=["CPUExecutionProvider"])


def onnx_predict(session: onnxruntime.InferenceSession, input_specs: Iterable[Any], *,
                 output: str | None = None, column: int | None = None,
                 batch_size: int = BATCH_SIZE) -> PredictFn:
    """A ``PredictFn`` scoring frames with the session, ``batch_size`` rows per run.

    ``output`` defaults to ``probabilities`` (a binary classifier; ``column`` defaults to 1, the
    favourable class) or else ``variable`` (a regressor; column 0). The scores come back as
    float64, one per row.
    """
    specs = as_specs(input_specs)
    outputs = [o.name for o in session.get_outputs()]
    if output is None:
        output = next((name for name in ("probabilities", "variable") if name in outputs), None)
        if output is None:
            raise ValueError(f"The model has no 'probabilities' or 'variable' output to score "
                             f"with (its outputs: {', '.join(outputs)}); name the output.")
    elif output not in outputs:
        raise ValueError(f"The model has no output {output!r} (its outputs: "
                         f"{', '.join(outputs)}).")
    if column is None:
        column = 1 if output == "probabilities" else 0
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")

    def predict(frame: pd.DataFrame) -> np.ndarray:
        scores = np.empty(len(frame), dtype=np.float64)
        for start in range(0, len(frame), batch_size):
            rows = frame.iloc[start:start + batch_size]
            (result,) = session.run([output], feed_with_missing(rows, specs))
            values = np.asarray(result)
            scores[start:start + len(rows)] = values[:, column] if values.ndim == 2 \
                else values
        return scores

    return predict


def feed_with_missing(frame: pd.DataFrame, input_specs: Sequence[Mapping[str, Any]]
                      ) -> dict[str, np.ndarray]:
    """:func:`onnx_feed`, with missing text fed as "" and missing floats as NaN (see above)."""
    try:
        # Most frames have no missing value: onnx_feed alone, without a second scan of the
        # text columns for missing values (that scan costs as much as a quarter of a pass).
        return onnx_feed(frame, input_specs)
    except FeedError:
        pass  # missing values, or a real misfit, which onnx_feed reports again below
    missing: dict[str, np.ndarray] = {}
    filled: dict[str, pd.Series] = {}
    for spec in input_specs:
        name, element_type = spec["name"], spec["element_type"]
        if name not in frame.columns:
            continue  # onnx_feed names every absent column at once
        if frame[name].dtype.kind in "iub":
            continue  # a numpy integer or boolean column cannot hold a missing value
        mask = frame[name].isna().to_numpy()
        if not mask.any():
            continue
        if element_type == "string":
            filled[name] = frame[name].where(~mask, "")
        elif element_type in FLOAT_TYPES:
            filled[name] = frame[name].where(~mask, 0.0)
            missing[name] = mask
        # integer inputs: left as they are, so onnx_feed refuses them with its message
    if filled:
        frame = frame.assign(**filled)
    feed = onnx_feed(frame, input_specs)
    for name, mask in missing.items():
        values = feed[name]
        values[mask.reshape(values.shape[0])] = np.nan
    return feed


def inputs_accepting_missing(input_specs: Iterable[Any]) -> tuple[str, ...]:
    """The inputs a missing value can be fed to: text and float inputs (not integers)."""
    return tuple(spec["name"] for spec in map(_as_mapping, input_specs)
                 if spec["element_type"] == "string" or spec["element_type"] in FLOAT_TYPES)


def as_specs(input_specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Input specs as plain dicts, from dicts or ``registry.artifacts.TensorSpec`` objects."""
    return [dict(_as_mapping(spec)) for spec in input_specs]


def _as_mapping(spec: Any) -> Mapping[str, Any]:
    if isinstance(spec, Mapping):
        return spec
    return spec.as_dict()  # type: ignore[no-any-return]  # a registry.artifacts.TensorSpec


__all__ = ["FeedError", "PredictFn", "as_specs", "feed_with_missing", "inference_session",
           "inputs_accepting_missing", "onnx_predict"]
