"""A prediction request's body, checked against the version's ONNX input schema.

Two shapes, both batches::

    {"records": [{"age": 31, "income": 2400.0}, ...], "routing_key": "customer-17"}
    {"columns": {"age": [31, 45], "income": [2400.0, 3100.0]}}

Missing, extra or mistyped fields are a ``PayloadError`` naming them (400); the conversion to the
model's element types is ``registry.onnx_feed``'s (``columns_feed``: its rules without pandas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from registry.onnx_feed import FeedError, columns_feed

SHAPES = ("records", "columns")
OPTIONAL = ("routing_key",)
SCALARS = (int, float, str, bool)


class PayloadError(ValueError):
    """The body cannot be fed to the model; ``fields`` maps each bad field to what is wrong."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Parsed:
    feed: dict[str, np.ndarray]
    columns: dict[str, list[Any]]
    rows: int
    routing_key: str | None

    def records(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        return [dict(zip(names, values, strict=True))
                for values in zip(*self.columns.values(), strict=True)]


def _names(specs: tuple[dict[str, Any], ...]) -> list[str]:
    return [spec["name"] for spec in specs]


def _check_fields(present: set[str], expected: list[str], where: str) -> None:
    missing = [name for name in expected if name not in present]
    extra = sorted(present.difference(expected))
    if not missing and not extra:
        return
    fields = {name: [f"Missing{where}; the model takes it as input."] for name in missing}
    fields.update({name: [f"Not an input of the model{where}."] for name in extra})
    parts = []
    if missing:
        parts.append(f"missing {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unknown {', '.join(map(repr, extra))}")
    raise PayloadError(f"The input fields do not match the model's: {'; '.join(parts)}. "
                       f"The model takes: {', '.join(expected)}.", fields)


def parse(body: bytes, specs: tuple[dict[str, Any], ...], *, max_rows: int) -> Parsed:
    """Parse and check a request body; build the model's input feed from it."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("The body is not JSON. Send {\"records\": [{...}]} or "
                           "{\"columns\": {...}}.") from None
    if not isinstance(document, dict):
        raise PayloadError("The body must be a JSON object with \"records\" or \"columns\".")
    shapes = [s for s in SHAPES if s in document]
    unknown = sorted(set(document).difference(SHAPES, OPTIONAL))
    if unknown or len(shapes) != 1:
        raise PayloadError("Send exactly one of \"records\" (a list of objects) or \"columns\" "
                           "(an object of lists), and optionally \"routing_key\""
                           + (f"; not {', '.join(map(repr, unknown))}." if unknown else "."),
                           {name: ["Not a field of a prediction request."] for name in unknown})
    routing_key = document.get("routing_key")
    if routing_key is not None and not isinstance(routing_key, str | int):
        raise PayloadError("routing_key must be a string.", {"routing_key": ["Must be a string."]})
    expected = _names(specs)
    if shapes[0] == "records":
        records = document["records"]
        if not isinstance(records, list) or not records:
            raise PayloadError("\"records\" must be a non-empty list of objects.")
        if len(records) > max_rows:
            raise PayloadError(f"{len(records)} records is more than the {max_rows} a request "
                               "may carry; split the batch.")
        for number, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise PayloadError(f"Record {number} is not an object.")
            if len(record) != len(expected) or not all(name in record for name in expected):
                _check_fields(set(record), expected, f" (record {number})")
        columns = {name: [record[name] for record in records] for name in expected}
    else:
        given = document["columns"]
        if not isinstance(given, dict):
            raise PayloadError("\"columns\" must be an object of lists.")
        _check_fields(set(given), expected, "")
        lengths = {len(v) if isinstance(v, list) else -1 for v in given.values()}
        if -1 in lengths or len(lengths) != 1 or 0 in lengths:
            raise PayloadError("Every column must be a non-empty list, all of the same length.")
        if next(iter(lengths)) > max_rows:
            raise PayloadError(f"{next(iter(lengths))} rows is more than the {max_rows} a "
                               "request may carry; split the batch.")
        columns = {name: given[name] for name in expected}
    for name, values in columns.items():
        for value in values:
            if not isinstance(value, SCALARS):
                raise PayloadError(f"Field {name!r} holds {type(value).__name__} values; each "
                                   "must be a number or a string.",
                                   {name: ["Must be a number or a string."]})
    try:
        feed = columns_feed(columns, specs)
    except FeedError as exc:
        raise PayloadError(str(exc), _fields_named(str(exc), expected)) from None
    rows = len(next(iter(columns.values())))
    return Parsed(feed=feed, columns=columns, rows=rows,
                  routing_key=None if routing_key is None else str(routing_key))


def _fields_named(message: str, names: list[str]) -> dict[str, list[str]]:
    return {name: [message] for name in names if repr(name) in message}
