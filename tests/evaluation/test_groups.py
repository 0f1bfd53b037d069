"""Sensitive features as group codes (evaluation.metrics.groups): continuous columns binned by
validated edges, categorical columns encoded, missing values in their own group, and
intersections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.metrics import (
    MISSING,
    BinSpec,
    MetricInputError,
    bin_column,
    encode_column,
    encode_columns,
    intersect,
)
from evaluation.metrics.groups import MAX_CELLS


def _labels(grouping):
    return [grouping.labels[c] for c in grouping.codes]


def test_bins_are_closed_on_the_left_with_readable_default_labels():
    bins = BinSpec.of([25, 60])
    assert bins.labels == ("<25", "25 to <60", "≥60")
    ages = [18, 24.99, 25, 59.9, 60, 99, None, np.nan]
    grouping = bin_column("age", ages, bins)
    assert _labels(grouping) == ["<25", "<25", "25 to <60", "25 to <60", "≥60", "≥60",
                                 MISSING, MISSING]
    assert grouping.labels[-1] == MISSING and grouping.features == ("age",)


def test_bins_round_trip_through_the_stored_form():
    bins = BinSpec.of([25, 60], ["young", "middle", "older"])
    assert BinSpec.from_dict(bins.as_dict()) == bins
    assert BinSpec.from_dict({"edges": [0.5]}).labels == ("<0.5", "≥0.5")
    assert bin_column("x", pd.Series(["30", "70"]), bins).codes.tolist() == [1, 2]


@pytest.mark.parametrize("spec, message", [
    ({"edges": []}, "at least one edge"),
    ({"edges": [60, 25]}, "strictly increasing"),
    ({"edges": [25, 25]}, "strictly increasing"),
    ({"edges": [25, "x"]}, "finite numbers"),
    ({"edges": [25, float("inf")]}, "finite numbers"),
    ({"edges": [25, 60], "labels": ["a", "b"]}, "give 3 labels; got 2"),
    ({"edges": [25], "labels": ["a", "a"]}, "differ"),
    ({"edges": [25], "labels": ["a", ""]}, "non-empty"),
    ({"edges": [25], "labels": ["a", MISSING]}, "missing values"),
    ({"edges": [25], "size": 3}, "Unknown keys"),
    ({"labels": ["a"]}, "edges"),
    ([25, 60], "edges"),
])
def test_bad_bins_are_clear_errors(spec, message):
    with pytest.raises(MetricInputError, match=message):
        BinSpec.from_dict(spec)


def test_a_binned_column_must_hold_numbers():
    with pytest.raises(MetricInputError, match=r"'age' is binned.*2 rows are not"):
        bin_column("age", ["30", "old", "young", None], BinSpec.of([25]))


def test_categories_are_sorted_text_with_missing_last():
    grouping = encode_column("sex", ["m", "f", None, "", " f ", np.nan, "x"])
    assert grouping.labels == ("f", "m", "x", MISSING)
    assert _labels(grouping) == ["m", "f", MISSING, MISSING, "f", MISSING, "x"]
    numbers = encode_column("code", np.array([2, 1, 2, 10]))
    assert numbers.labels == ("1", "10", "2", MISSING)  # compared as text


def test_given_categories_fix_the_codes_and_refuse_others():
    grouping = encode_column("sex", ["m", "m"], categories=["f", "m"])
    assert grouping.labels == ("f", "m", MISSING) and grouping.codes.tolist() == [1, 1]
    with pytest.raises(MetricInputError, match="not among its categories: 'x'"):
        encode_column("sex", ["m", "x"], categories=["f", "m"])
    with pytest.raises(MetricInputError, match="distinct"):
        encode_column("sex", ["m"], categories=["m", "m"])


def test_a_value_spelled_like_the_missing_group_is_refused():
    with pytest.raises(MetricInputError, match="names missing values"):
        encode_column("sex", ["f", MISSING])


@pytest.mark.parametrize("name", ["", "a&b", "x[1]", None])
def test_feature_names_are_checked(name):
    with pytest.raises(MetricInputError, match="name"):
        encode_column(name, ["a"])


def test_intersection_codes_every_combination_in_row_major_order():
    sex = encode_column("sex", ["f", "m", "m", None])
    age = bin_column("age", [20, 30, 70, 30], BinSpec.of([25, 60]))
    both = intersect([sex, age])
    assert both.name == "sex&age" and both.features == ("sex", "age")
    assert both.size == 3 * 4
    assert both.labels[:4] == ("f & <25", "f & 25 to <60", "f & ≥60", f"f & {MISSING}")
    assert _labels(both) == ["f & <25", "m & 25 to <60", "m & ≥60", f"{MISSING} & 25 to <60"]
    assert both.parts[both.codes[3]] == (MISSING, "25 to <60")


def test_too_many_intersection_groups_is_a_clear_error():
    values = [str(i) for i in range(70)]
    a, b = encode_column("a", values), encode_column("b", values)
    with pytest.raises(MetricInputError, match=f"more than {MAX_CELLS}"):
        intersect([a, b])


def test_encode_columns_bins_the_columns_it_has_bins_for():
    groupings = encode_columns({"sex": ["f", "m"], "age": [30, 70]},
                               {"age": BinSpec.of([60])})
    assert [g.labels for g in groupings] == [("f", "m", MISSING), ("<60", "≥60", MISSING)]
    with pytest.raises(MetricInputError, match="not sensitive features: income"):
        encode_columns({"sex": ["f"]}, {"income": BinSpec.of([1])})
