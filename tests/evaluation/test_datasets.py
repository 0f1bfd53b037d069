"""Evaluation data sets: the German-credit data is accepted as it is; a file that does not fit the
version is refused with a 4xx naming the column and the problem, and nothing is stored."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from core.errors import PermissionRefused, ValidationFailed
from evaluation import services
from evaluation.models import Dataset
from registry import storage
from tests.evaluation.conftest import GERMAN_CSV, SENSITIVE, upload

GERMAN = pd.read_csv(GERMAN_CSV)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def store(version, actor, data: bytes, name="data.csv", **kw) -> Dataset:
    kw.setdefault("label_column", "good_credit")
    kw.setdefault("sensitive_features", SENSITIVE)
    return services.dataset_upload(actor=actor, model=version.model, file=upload(data, name),
                                   filename=name, **kw)


def test_the_german_credit_data_is_stored_content_addressed_with_its_bins(validating, victor):
    data = GERMAN_CSV.read_bytes()
    dataset = store(validating, victor, data, "german_credit.csv")
    assert dataset.row_count == 1000 and dataset.file_format == "csv"
    assert dataset.sha256 == "efbc26063e340e3b6a5997a81c7aa28f557c3941724ca5ec010ca0a0a5e48537"
    assert storage.exists(dataset.sha256)
    assert dataset.sensitive_features[1] == {"column": "age", "bins": SENSITIVE[1]["bins"]}
    assert "credit_amount" in dataset.column_names


def test_parquet_is_read_like_csv(validating, victor):
    buffer = io.BytesIO()
    GERMAN.to_parquet(buffer, index=False)
    dataset = store(validating, victor, buffer.getvalue(), "german.parquet")
    assert dataset.file_format == "parquet" and dataset.row_count == 1000


def refused(version, actor, data: bytes, **kw) -> ValidationFailed:
    before = set(Dataset.objects.values_list("pk", flat=True))
    with pytest.raises(ValidationFailed) as caught:
        store(version, actor, data, **kw)
    assert set(Dataset.objects.values_list("pk", flat=True)) == before
    return caught.value


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda f: f.drop(columns=["credit_amount"]), "credit_amount", "is missing"),
    (lambda f: f.assign(duration="long"), "duration", "holds text"),
    (lambda f: f.assign(duration=f.duration + 0.5), "duration", "not whole numbers"),
    (lambda f: f.assign(purpose=None), "purpose", "empty in every row"),
    (lambda f: f.assign(good_credit=f.good_credit.where(f.index % 3 != 0, 2)), "label_column",
     "3 distinct"),
    (lambda f: f.assign(good_credit=f.good_credit.map({1: "good", 0: "bad"})), "label_column",
     "favourable class '1' is not among"),
    (lambda f: f.assign(good_credit=None), "label_column", "empty in every row"),
    (lambda f: f.drop(columns=["sex"]), "sensitive_features", "'sex' is not in the file"),
    (lambda f: f.assign(age="old"), "sensitive_features", "binned, so its values must be "),
])
def test_data_that_does_not_fit_is_refused_naming_the_column(validating, victor, change, field,
                                                             words):
    error = refused(validating, victor, csv_bytes(change(GERMAN.copy())))
    assert field in error.fields, error.fields
    assert words in " ".join(error.fields[field]), error.fields


def test_empty_files_and_headers_without_rows_are_refused(validating, victor):
    assert "empty" in refused(validating, victor, b"").message
    assert "no rows" in refused(validating, victor, csv_bytes(GERMAN.head(0))).message
    assert "cannot be read as Parquet" in refused(validating, victor, b"PAR1 not really",
                                                  name="x.parquet").message


def test_a_missing_label_column_is_named(validating, victor):
    error = refused(validating, victor, GERMAN_CSV.read_bytes(), label_column="outcome")
    assert "'outcome' (the label) is missing" in error.message


def test_the_size_cap(validating, victor, settings):
    settings.MAX_DATASET_BYTES = 1000
    assert "ASSAY_MAX_DATASET_MB" in refused(validating, victor, GERMAN_CSV.read_bytes()).message


def test_a_reference_data_set_needs_only_the_inputs(validating, victor):
    reference = store(validating, victor, csv_bytes(GERMAN.drop(columns=["good_credit"])),
                      label_column="", sensitive_features=[], is_reference=True)
    dataset = store(validating, victor, GERMAN_CSV.read_bytes(), reference=reference)
    assert dataset.reference == reference


def test_who_may_upload(validating, people):
    store(validating, people["dana"], GERMAN_CSV.read_bytes())
    for who in ("aude", "frank"):
        with pytest.raises(PermissionRefused):
            store(validating, people[who], GERMAN_CSV.read_bytes())


@pytest.mark.parametrize(("element_type", "values", "fits"), [
    ("float", ["0.5", "1.25"], True), ("double", ["1e3", "2"], True),
    ("int64", ["3", "4"], True), ("int64", ["3.5", "4"], False),
    ("string", ["a", "3"], True), ("float", ["x", "1"], False),
])
def test_string_integer_and_float_inputs_are_fed_from_the_column_of_their_name(
        element_type, values, fits):
    from evaluation.tables import TableProblems, check_table, frame_from_bytes

    frame = frame_from_bytes(("x,y\n" + "\n".join(f"{v},1" for v in values)).encode(), "csv")
    spec = {"name": "x", "element_type": element_type, "shape": [None, 1]}
    if fits:
        check_table(frame, input_specs=[spec], task="regression", label_column="y")
    else:
        with pytest.raises(TableProblems) as caught:
            check_table(frame, input_specs=[spec], task="regression", label_column="y")
        assert list(caught.value.fields) == ["x"]
