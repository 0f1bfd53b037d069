"""Turns rows of raw data (a pandas DataFrame) into the input feed of an ONNX model.

A registered model's inputs are its raw columns, one graph input per column, as recorded in the
version's input schema (``TensorSpec`` or its ``as_dict()`` form). Evaluation, serving and the demo
training script all feed models through :func:`onnx_feed`, so a column is converted the same way
everywhere, and a frame that does not fit the schema fails with a message naming the column.

No Django here: plain functions on pandas and numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# ONNX element type names (lower case, as in TensorSpec.element_type) -> numpy dtypes.
NUMPY_TYPES: dict[str, Any] = {
    "float": np.float32, "double": np.float64, "float16": np.float16,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "bool": np.bool_, "string": np.object_,
}


class FeedError(ValueError):
    """The frame cannot feed the model; the message names the column and what is wrong."""


def onnx_feed(frame: pd.DataFrame, input_specs: Iterable[Any]) -> dict[str, np.ndarray]:
    """Build ``{input name: array}`` for ``session.run`` from the frame's columns of those names.

    Each input must be a column vector (shape ``[N, 1]`` or ``[N]``, N symbolic or unknown): one
    raw column per input. Columns the model does not take are ignored, so a frame can carry
    labels and sensitive attributes for evaluation. Values are converted to the input's element
    type; a conversion that would change a value (missing values, 2.5 into an integer input)
    raises FeedError instead of guessing.
    """
    feed: dict[str, np.ndarray] = {}
    specs = [_as_mapping(spec) for spec in input_specs]
    missing = [spec["name"] for spec in specs if spec["name"] not in frame.columns]
    if missing:
        raise FeedError(f"The data has no column named {', '.join(map(repr, missing))}, which "
                        f"the model takes as input{'s' if len(missing) > 1 else ''}. Columns "
                        f"present: {', '.join(map(str, frame.columns))}.")
    for spec in specs:
        feed[spec["name"]] = _shaped(_convert(frame[spec["name"]], spec["name"],
                                              spec["element_type"]), spec)
    return feed


def columns_feed(columns: Mapping[str, Sequence[Any]], input_specs: Iterable[Any]
                 ) -> dict[str, np.ndarray]:
    """:func:`onnx_feed`'s rules on plain columns of JSON values (numbers, strings, booleans),
    without building a DataFrame: the serving gateway's hot path, where pandas would cost more
    than the model. The same conversions and the same messages; a test pins the two together.
    """
    specs = [_as_mapping(spec) for spec in input_specs]
    missing = [spec["name"] for spec in specs if spec["name"] not in columns]
    if missing:
        raise FeedError(f"The data has no column named {', '.join(map(repr, missing))}, which "
                        f"the model takes as input{'s' if len(missing) > 1 else ''}. Columns "
                        f"present: {', '.join(map(str, columns))}.")
    return {spec["name"]: _shaped(_convert_values(columns[spec["name"]], spec["name"],
                                                  spec["element_type"]), spec)
            for spec in specs}


def _shaped(values: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    name, shape = spec["name"], list(spec["shape"])
    if len(shape) == 2 and shape[1] in (1, None):
        return values.reshape(-1, 1)
    if len(shape) != 1:
        raise FeedError(f"The model's input {name!r} has shape {shape}; only inputs of one "
                        f"raw column each (shape [N, 1] or [N]) can be fed from a table.")
    return values


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        return float(value)


def _as_mapping(spec: Any) -> Mapping[str, Any]:
    if isinstance(spec, Mapping):
        return spec
    return spec.as_dict()  # a registry.artifacts.TensorSpec


def _check_type(name: str, element_type: str) -> None:
    if element_type not in NUMPY_TYPES:
        raise FeedError(f"The model's input {name!r} has element type {element_type!r}, which "
                        f"cannot be fed from a table column.")


def _check_missing(name: str, missing: int) -> None:
    if missing:
        raise FeedError(f"Column {name!r} has {missing} missing value(s); the model has no rule "
                        f"for them. Fill or drop those rows first.")


def _checked_cast(values: np.ndarray, name: str, element_type: str) -> np.ndarray:
    target = np.dtype(NUMPY_TYPES[element_type])
    converted = values.astype(target)
    if target.kind in "iub" and not np.array_equal(converted, values):
        raise FeedError(f"Column {name!r} holds values that are not whole numbers (or do not "
                        f"fit {element_type}), but the model takes it as {element_type}.")
    return converted


def _text_error(name: str, element_type: str) -> FeedError:
    return FeedError(f"Column {name!r} holds text, but the model takes it as "
                     f"{element_type} numbers.")


def _convert_values(values: Sequence[Any], name: str, element_type: str) -> np.ndarray:
    _check_type(name, element_type)
    _check_missing(name, sum(1 for v in values if v is None or v != v))  # v != v: NaN
    if element_type == "string":
        return np.array([str(v) for v in values], dtype=object)
    try:
        numbers = np.asarray([_number(v) for v in values])
    except ValueError:
        raise _text_error(name, element_type) from None
    return _checked_cast(numbers, name, element_type)


def _convert(column: pd.Series, name: str, element_type: str) -> np.ndarray:
    _check_type(name, element_type)
    _check_missing(name, int(column.isna().sum()))
    if element_type == "string":
        return column.astype(str).to_numpy(dtype=object)
    if column.dtype == object or pd.api.types.is_string_dtype(column):
        try:
            column = pd.to_numeric(column)
        except (ValueError, TypeError):
            raise _text_error(name, element_type) from None
    return _checked_cast(column.to_numpy(), name, element_type)
