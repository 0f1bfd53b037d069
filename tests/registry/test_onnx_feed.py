"""onnx_feed: raw table rows into an ONNX input feed, refusing conversions that change values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from registry.artifacts import TensorSpec
from registry.onnx_feed import FeedError, columns_feed, onnx_feed

SPECS = [TensorSpec("purpose", "string", (None, 1)), TensorSpec("age", "int64", (None, 1)),
         TensorSpec("amount", "float", ("N",))]


def frame(**overrides) -> pd.DataFrame:
    data = {"purpose": ["car (new)", "education"], "age": [22, 67], "amount": [1169, 5951],
            "sex": ["male", "female"], **overrides}
    return pd.DataFrame(data)


def test_each_input_gets_its_column_in_the_declared_type_and_shape():
    feed = onnx_feed(frame(), SPECS)
    assert list(feed) == ["purpose", "age", "amount"]  # sex is not an input: ignored
    assert feed["purpose"].dtype == object and feed["purpose"].shape == (2, 1)
    assert feed["purpose"][1, 0] == "education"
    assert feed["age"].dtype == np.int64 and feed["age"].shape == (2, 1)
    assert feed["amount"].dtype == np.float32 and feed["amount"].shape == (2,)
    assert feed["amount"].tolist() == [1169.0, 5951.0]


def test_stored_schema_dicts_work_like_tensor_specs():
    as_dicts = onnx_feed(frame(), [spec.as_dict() for spec in SPECS])
    as_specs = onnx_feed(frame(), SPECS)
    for name in as_specs:
        np.testing.assert_array_equal(as_dicts[name], as_specs[name])


def test_numbers_read_as_text_are_converted():
    feed = onnx_feed(frame(age=["22", "67"]), SPECS)
    assert feed["age"].tolist() == [[22], [67]]


@pytest.mark.parametrize("overrides, message", [
    ({"age": [22.5, 67.0]}, "not whole numbers"),
    ({"age": [22, None]}, "1 missing value"),
    ({"purpose": ["car", None]}, "1 missing value"),
    ({"age": ["young", "old"]}, "holds text"),
])
def test_values_that_would_change_are_refused_by_column(overrides, message):
    with pytest.raises(FeedError, match=message) as caught:
        onnx_feed(frame(**overrides), SPECS)
    assert repr(next(iter(overrides))) in str(caught.value)


def test_a_missing_column_is_named_with_the_columns_present():
    with pytest.raises(FeedError, match="no column named 'age'") as caught:
        onnx_feed(frame().drop(columns=["age"]), SPECS)
    assert "purpose, amount, sex" in str(caught.value)


def test_a_multi_column_input_cannot_be_fed_from_one_column():
    with pytest.raises(FeedError, match=r"shape \[None, 3\]"):
        onnx_feed(frame(), [TensorSpec("age", "float", (None, 3))])


def columns(**overrides) -> dict[str, list]:
    return {name: list(values) for name, values in frame(**overrides).to_dict("list").items()}


@pytest.mark.parametrize("overrides", [
    {}, {"age": ["22", "67"]}, {"amount": [1169.5, True]}, {"purpose": [1, 2.5]},
    {"age": [22.0, 67.0]},
])
def test_columns_feed_converts_json_columns_exactly_as_onnx_feed_converts_a_frame(overrides):
    from_frame = onnx_feed(frame(**overrides), SPECS)
    from_columns = columns_feed(columns(**overrides), SPECS)
    assert list(from_columns) == list(from_frame)
    for name, values in from_frame.items():
        assert from_columns[name].dtype == values.dtype and from_columns[name].shape == values.shape
        np.testing.assert_array_equal(from_columns[name], values)


@pytest.mark.parametrize("overrides, message", [
    ({"age": [22.5, 67.0]}, "not whole numbers"),
    ({"age": [22, None]}, "1 missing value"),
    ({"purpose": ["car", None]}, "1 missing value"),
    ({"age": ["young", "old"]}, "holds text"),
])
def test_columns_feed_refuses_what_onnx_feed_refuses_with_the_same_message(overrides, message):
    with pytest.raises(FeedError, match=message) as from_frame:
        onnx_feed(frame(**overrides), SPECS)
    with pytest.raises(FeedError, match=message) as from_columns:
        columns_feed(columns(**overrides), SPECS)
    assert str(from_columns.value) == str(from_frame.value)
