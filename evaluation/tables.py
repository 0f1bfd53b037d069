"""Reading an evaluation data set (CSV or Parquet) and checking it fits a version before anything
runs: every problem is named with its column, so a 400 says what to fix.

No Django here: plain functions on files and pandas frames. The services turn ``TableProblems``
into a ValidationFailed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from evaluation.metrics import BinSpec, MetricInputError
from registry.onnx_feed import FeedError, onnx_feed

PARQUET_MAGIC = b"PAR1"
BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
# A multiclass label column with more distinct values than this is almost surely not a class.
MAX_CLASSES = 100


@dataclass
class TableProblems(Exception):
    """What is wrong with a data set: ``{field or column: [messages]}`` and a summary."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, where: str, message: str) -> None:
        self.fields.setdefault(where, []).append(message)

    @property
    def message(self) -> str:
        return " ".join(m for ms in self.fields.values() for m in ms)

    def __str__(self) -> str:
        return self.message


def table_format(filename: str, head: bytes) -> str:
    """``parquet`` when the file starts with Parquet's magic bytes (or is named .parquet), else
    ``csv``."""
    if head.startswith(PARQUET_MAGIC) or filename.lower().endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def read_table(source: BinaryIO, file_format: str) -> pd.DataFrame:
    """The file as a frame; a file that cannot be read raises TableProblems saying why."""
    source.seek(0)
    problems = TableProblems()
    try:
        if file_format == "parquet":
            frame = pd.read_parquet(source)
        else:
            frame = pd.read_csv(source, encoding="utf-8", low_memory=False)
    except pd.errors.EmptyDataError:
        problems.add("file", "The file is empty: it has no header row and no data.")
        raise problems from None
    except UnicodeDecodeError:
        problems.add("file", "The CSV file is not UTF-8 text; save it as UTF-8 CSV.")
        raise problems from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        what = "Parquet" if file_format == "parquet" else "CSV"
        problems.add("file", f"The file cannot be read as {what}: {str(exc)[:300]}")
        raise problems from None
    except Exception as exc:  # pyarrow raises its own types for damaged files
        problems.add("file", f"The file cannot be read as {file_format}: {str(exc)[:300]}")
        raise problems from None
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        problems.add("file", "The file has a header but no rows.")
        raise problems
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        problems.add("file", f"Column names must be unique; repeated: {', '.join(duplicated)}.")
        raise problems
    return frame


def describe_columns(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": name, "dtype": str(dtype)} for name, dtype in frame.dtypes.items()]


def favourable_value(labels: pd.Series, favourable: str) -> Any:
    """The favourable class in the label column's own type: ``"1"`` is 1 in a numeric column."""
    if pd.api.types.is_bool_dtype(labels.dtype):
        return favourable.strip().lower() in ("1", "true", "yes")
    if pd.api.types.is_integer_dtype(labels.dtype):
        try:
            return int(favourable)
        except ValueError:
            return favourable
    if pd.api.types.is_float_dtype(labels.dtype):
        try:
            return float(favourable)
        except ValueError:
            return favourable
    return favourable


def check_table(frame: pd.DataFrame, *, input_specs: Iterable[Mapping[str, Any]],
                task: str, label_column: str = "", favourable_class: str = "",
                sensitive_features: Sequence[Mapping[str, Any]] = (),
                needs_labels: bool = True) -> None:
    """Raise TableProblems naming every problem found, per column:

    * a column the model takes as input that is missing, empty in every row, has missing
      values or values of the wrong type (the exact conversion of ``onnx_feed``);
    * the label column missing, empty, with missing labels, or with labels that do not fit the
      task (a binary model needs exactly two classes, one of them the favourable class; a
      regression model needs numbers);
    * a sensitive column that is not there, or binned while not numeric, or with bad bins.
    """
    problems = TableProblems()
    present = set(frame.columns)
    for spec in input_specs:
        name = spec["name"]
        if name not in present:
            problems.add(name, f"Column {name!r} is missing: the model takes it as input "
                               f"({spec['element_type']}).")
            continue
        if frame[name].isna().all():
            problems.add(name, f"Column {name!r} is empty in every row; the model needs its "
                               "values.")
            continue
        try:
            onnx_feed(frame[[name]], [spec])
        except FeedError as exc:
            problems.add(name, str(exc))
    if needs_labels:
        _check_labels(frame, problems, task=task, label_column=label_column,
                      favourable_class=favourable_class)
    elif label_column and label_column not in present:
        problems.add("label_column", f"Column {label_column!r} (the label) is missing.")
    seen: set[str] = set()
    for feature in sensitive_features:
        column = feature.get("column", "")
        if column in seen:
            problems.add("sensitive_features", f"Sensitive column {column!r} is named twice.")
            continue
        seen.add(column)
        if column not in present:
            problems.add("sensitive_features", f"Sensitive column {column!r} is not in the "
                                               f"file. Columns present: "
                                               f"{', '.join(frame.columns[:40])}.")
            continue
        if column == label_column:
            problems.add("sensitive_features", f"Column {column!r} is the label; it cannot "
                                               "also be a sensitive feature.")
            continue
        if any(c in column for c in "&[]"):
            problems.add("sensitive_features", f"Sensitive column {column!r} may not contain "
                                               "&, [ or ]; rename the column.")
            continue
        if feature.get("bins") is not None:
            try:
                BinSpec.from_dict(feature["bins"])
            except MetricInputError as exc:
                problems.add("sensitive_features", f"Bins of {column!r}: {exc}")
                continue
            values = frame[column]
            numeric = pd.to_numeric(values, errors="coerce")
            bad = numeric.isna() & values.notna()
            if bad.any():
                examples = ", ".join(repr(v) for v in pd.unique(values[bad])[:3])
                problems.add("sensitive_features", f"Column {column!r} is binned, so its values "
                                                   f"must be numbers; {int(bad.sum())} rows are "
                                                   f"not (e.g. {examples}).")
        if frame[column].isna().all():
            problems.add("sensitive_features", f"Sensitive column {column!r} is empty in every "
                                               "row.")
    if problems.fields:
        raise problems


def _check_labels(frame: pd.DataFrame, problems: TableProblems, *, task: str,
                  label_column: str, favourable_class: str) -> None:
    if not label_column:
        problems.add("label_column", "Name the column that holds the true outcome (the label).")
        return
    if label_column not in frame.columns:
        problems.add("label_column", f"Column {label_column!r} (the label) is missing. Columns "
                                     f"present: {', '.join(frame.columns[:40])}.")
        return
    labels = frame[label_column]
    missing = int(labels.isna().sum())
    if missing == len(labels):
        problems.add("label_column", f"Column {label_column!r} (the label) is empty in every "
                                     "row.")
        return
    if missing:
        problems.add("label_column", f"Column {label_column!r} (the label) is missing in "
                                     f"{missing} row(s); every evaluated row needs its label.")
        return
    if task == REGRESSION:
        if pd.api.types.is_bool_dtype(labels.dtype) or not pd.api.types.is_numeric_dtype(
                labels.dtype):
            problems.add("label_column", f"Column {label_column!r} holds text, but a "
                                         "regression model's labels are numbers.")
        elif not np.isfinite(labels.to_numpy(dtype=np.float64)).all():
            problems.add("label_column", f"Column {label_column!r} holds infinite values.")
        return
    classes = pd.unique(labels)
    favourable = favourable_value(labels, favourable_class)
    shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes[:5])
    if task == BINARY and len(classes) != 2:
        problems.add("label_column", f"Column {label_column!r} holds {len(classes)} distinct "
                                     f"label(s) ({shown}{', ...' if len(classes) > 5 else ''}); "
                                     "a binary classifier is evaluated on exactly two.")
        return
    if task == MULTICLASS and not 2 <= len(classes) <= MAX_CLASSES:
        problems.add("label_column", f"Column {label_column!r} holds {len(classes)} distinct "
                                     f"labels; a multiclass model is evaluated on 2 to "
                                     f"{MAX_CLASSES} classes.")
        return
    if favourable not in set(classes.tolist()):
        problems.add("label_column", f"The model's favourable class {favourable_class!r} is "
                                     f"not among the labels of column {label_column!r} "
                                     f"({shown}); correct the model's favourable class or the "
                                     "label column.")


def frame_from_bytes(data: bytes, file_format: str) -> pd.DataFrame:
    """``read_table`` on bytes in memory (tests and the engine's stored files)."""
    return read_table(io.BytesIO(data), file_format)


def check_predictions(frame: pd.DataFrame, *, task: str, label_column: str,
                      predictions_column: str, favourable_class: str = "",
                      sensitive_features: Sequence[Mapping[str, Any]] = ()) -> None:
    """A predictions file of a model with no ONNX form: the labels and sensitive columns as for
    any evaluation data, and a predictions column with a value in every row."""
    problems = TableProblems()
    try:
        check_table(frame, input_specs=(), task=task, label_column=label_column,
                    favourable_class=favourable_class, sensitive_features=sensitive_features)
    except TableProblems as found:
        problems = found
    if not predictions_column:
        problems.add("predictions_column", "Name the column holding the model's prediction for "
                                           "each row (a score or the predicted label).")
    elif predictions_column not in frame.columns:
        problems.add("predictions_column", f"Column {predictions_column!r} (the predictions) is "
                                           "missing.")
    elif predictions_column == label_column:
        problems.add("predictions_column", "The predictions and the labels must be different "
                                           "columns.")
    elif frame[predictions_column].isna().any():
        empty = int(frame[predictions_column].isna().sum())
        problems.add("predictions_column", f"Column {predictions_column!r} has {empty} empty "
                                           "row(s); every row needs the model's prediction.")
    if problems.fields:
        raise problems
