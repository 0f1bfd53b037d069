"""The artifact checks: each bad file is refused with a message naming the problem and the fix.

Pure functions over bytes: no database. The files come from ``artifact_builders``.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from core.errors import ValidationFailed
from registry.artifacts import (
    CHUNK_BYTES,
    SNIFF_BYTES,
    ArtifactInfo,
    ArtifactRejected,
    TensorSpec,
    inspect_artifact,
)
from tests.registry import artifact_builders as build

CAP = 50 * 2**20
HOW_TO_EXPORT = ("skl2onnx", "zipmap", "torch.onnx.export", "tf2onnx")


def inspect(data: bytes, *, max_bytes: int = CAP) -> ArtifactInfo:
    return inspect_artifact(io.BytesIO(data), max_bytes=max_bytes)


def refusal(data: bytes, *, max_bytes: int = CAP) -> ArtifactRejected:
    with pytest.raises(ArtifactRejected) as caught:
        inspect(data, max_bytes=max_bytes)
    return caught.value


class CountingReader(io.BytesIO):
    """A file object that remembers how many bytes were read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class TestAcceptedModels:
    def test_a_sklearn_model_is_described_by_digest_size_and_schema(self):
        data = build.valid_onnx_bytes()
        info = inspect(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert info.size == len(data)
        assert info.inputs == (TensorSpec("X", "float", (None, 3)),)
        assert info.outputs == (TensorSpec("label", "int64", (None,)),
                                TensorSpec("probabilities", "float", (None, 2)))
        assert info.opsets == {"ai.onnx": build.OPSET, "ai.onnx.ml": 1}
        assert info.ir_version >= 8
        assert info.producer.startswith("skl2onnx ")

    def test_as_dict_is_plain_json(self):
        info = inspect(build.valid_onnx_bytes())
        as_json = json.loads(json.dumps(info.as_dict()))
        assert as_json["sha256"] == info.sha256
        assert as_json["inputs"] == [{"name": "X", "element_type": "float", "shape": [None, 3]}]
        assert as_json["outputs"][1] == {"name": "probabilities", "element_type": "float",
                                         "shape": [None, 2]}

    def test_symbolic_dimensions_are_names_and_initializers_are_not_inputs(self):
        info = inspect(build.add_onnx_bytes())  # y = x + w, with w an initializer
        assert info.inputs == (TensorSpec("x", "float", ("N", 3)),)
        assert info.outputs == (TensorSpec("y", "float", ("N", 3)),)

    def test_standard_ops_inside_subgraphs_are_accepted(self):
        from onnx import helper

        info = inspect(build.nested_onnx_bytes(helper.make_node("Relu", ["x"], ["t"])))
        assert [spec.name for spec in info.inputs] == ["c", "x"]
        assert info.inputs[0] == TensorSpec("c", "bool", ())

    def test_reads_open_files_and_django_uploads(self, tmp_path):
        data = build.valid_onnx_bytes()
        digest = hashlib.sha256(data).hexdigest()
        path = build.write(tmp_path, "model.onnx", data)
        with open(path, "rb") as f:
            assert inspect_artifact(f, max_bytes=CAP).sha256 == digest
        upload = SimpleUploadedFile("model.onnx", data)
        assert inspect_artifact(upload, max_bytes=CAP).sha256 == digest
        spooled = TemporaryUploadedFile("model.onnx", "application/octet-stream", len(data), None)
        spooled.write(data)
        spooled.seek(0)
        with spooled:
            assert inspect_artifact(spooled, max_bytes=CAP).size == len(data)

    def test_a_file_exactly_at_the_cap_is_accepted(self):
        data = build.valid_onnx_bytes()
        assert inspect(data, max_bytes=len(data)).size == len(data)


class TestSizeAndEmptiness:
    def test_a_file_over_the_cap_is_refused_with_the_cap_and_the_setting(self):
        data = build.valid_onnx_bytes()
        error = refusal(data, max_bytes=len(data) - 1)
        assert error.reason == "too_large"
        assert "MB limit" in error.message
        assert "ASSAY_MAX_ARTIFACT_MB" in error.message

    def test_the_cap_is_given_in_megabytes(self):
        error = refusal(build.oversized_onnx_bytes(3 * 2**20), max_bytes=2 * 2**20)
        assert "the 2 MB limit" in error.message

    def test_reading_stops_soon_after_the_cap(self):
        reader = CountingReader(build.oversized_onnx_bytes(8 * 2**20))
        with pytest.raises(ArtifactRejected, match="limit"):
            inspect_artifact(reader, max_bytes=2**20)
        assert reader.bytes_read <= 2**20 + CHUNK_BYTES

    def test_size_is_checked_before_content(self):
        assert refusal(build.pickle_bytes(), max_bytes=16).reason == "too_large"

    def test_an_empty_file_is_refused(self):
        error = refusal(build.empty_bytes())
        assert error.reason == "empty"
        assert "empty" in error.message

    def test_a_refusal_is_a_validation_error_on_the_artifact_field(self):
        error = refusal(build.empty_bytes())
        assert isinstance(error, ValidationFailed)
        assert error.status == 400
        assert error.fields == {"artifact": [error.message]}


def _says_why_and_how(message: str) -> None:
    assert "arbitrary code" in message
    assert any(tool in message for tool in HOW_TO_EXPORT), message


class TestPickleBasedFormats:
    @pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
    def test_pickles_of_every_protocol_are_refused(self, protocol):
        error = refusal(build.pickle_bytes(protocol))
        assert error.reason == "pickle"
        assert "pickle" in error.message
        _says_why_and_how(error.message)
        assert "options={'zipmap': False}" in error.message

    def test_a_protocol_0_pickle_longer_than_the_sniffed_prefix_is_refused(self):
        data = pickle.dumps([float(i) for i in range(200_000)], protocol=0)
        assert len(data) > SNIFF_BYTES
        assert refusal(data).reason == "pickle"

    def test_a_pickle_renamed_to_onnx_is_refused_by_its_content(self, tmp_path):
        path = build.write(tmp_path, "model.onnx", build.pickle_bytes())
        with open(path, "rb") as f, pytest.raises(ArtifactRejected) as caught:
            inspect_artifact(f, max_bytes=CAP)
        assert caught.value.reason == "pickle"

    def test_a_joblib_dump_is_refused_as_joblib(self):
        error = refusal(build.joblib_bytes())
        assert error.reason == "joblib"
        assert "joblib dump" in error.message
        _says_why_and_how(error.message)

    @pytest.mark.parametrize("compress", ["zlib", "gzip", "bz2", "lzma", "xz"])
    def test_compressed_joblib_dumps_are_refused_as_joblib(self, compress):
        error = refusal(build.joblib_bytes(compress))
        assert error.reason == "joblib"
        assert f"compressed with {compress}" in error.message
        _says_why_and_how(error.message)

    def test_an_lz4_stream_is_refused_as_a_likely_joblib_dump(self):
        error = refusal(b"\x04\x22\x4d\x18" + build.random_bytes(200))
        assert error.reason == "compressed"
        assert "lz4" in error.message
        _says_why_and_how(error.message)

    def test_a_pytorch_zip_checkpoint_is_refused(self):
        error = refusal(build.torch_zip_bytes())
        assert error.reason == "pytorch"
        assert "model/data.pkl" in error.message
        assert "torch.onnx.export" in error.message
        assert "arbitrary code" in error.message

    def test_a_legacy_pytorch_checkpoint_is_refused(self):
        error = refusal(build.torch_legacy_bytes())
        assert error.reason == "pytorch"
        assert "legacy torch.save" in error.message
        assert "torch.onnx.export" in error.message

    def test_a_skops_file_is_refused(self):
        error = refusal(build.skops_bytes())
        assert error.reason == "skops"
        assert "schema.json" in error.message
        _says_why_and_how(error.message)


class TestOtherFormats:
    @pytest.mark.parametrize("builder, reason, words", [
        (build.hdf5_bytes, "hdf5", ["HDF5", "Keras", "tf2onnx"]),
        (build.keras_v3_bytes, "keras", ["Keras v3", "tf2onnx"]),
        (build.npy_bytes, "numpy", [".npy", "pickles"]),
        (build.npz_bytes, "numpy", [".npz", "pickles"]),
        (build.safetensors_bytes, "safetensors", ["weights only", "torch.onnx.export"]),
        (build.zip_bytes, "archive", ["zip archive", "Upload the .onnx file itself"]),
        (build.tar_bytes, "archive", ["tar archive", "Upload the .onnx file itself"]),
        (lambda: build.tar_bytes("w:gz"), "archive", ["tar archive compressed with gzip"]),
        (lambda: build.tar_bytes("w:bz2"), "archive", ["tar archive compressed with bz2"]),
        (lambda: build.tar_bytes("w:xz"), "archive", ["tar archive compressed with xz"]),
        (build.gzip_bytes, "compressed", ["gzip-compressed", "uncompressed .onnx file"]),
    ])
    def test_is_refused_with_what_it_is_and_what_to_upload(self, builder, reason, words):
        error = refusal(builder())
        assert error.reason == reason
        for word in words:
            assert word in error.message, (word, error.message)


class TestBrokenOnnx:
    @pytest.mark.parametrize("builder", [
        build.truncated_onnx_bytes, build.random_bytes, build.text_bytes,
        build.vacuous_protobuf_bytes,
    ])
    def test_what_does_not_parse_into_a_model_is_refused(self, builder):
        error = refusal(builder())
        assert error.reason == "not_onnx"
        assert "not a valid ONNX model" in error.message
        assert "truncated" in error.message

    def test_a_model_the_checker_refuses_is_refused_with_the_checker_message(self):
        error = refusal(build.checker_failing_onnx_bytes())
        assert error.reason == "checker"
        assert "full_check=True" in error.message
        assert "'missing'" in error.message  # the checker's own words name the dangling input

    def test_the_full_check_runs_shape_inference(self):
        error = refusal(build.shape_mismatch_onnx_bytes())
        assert error.reason == "checker"
        assert "ShapeInferenceError" in error.message

    def test_a_model_onnxruntime_cannot_load_is_refused(self):
        error = refusal(build.runtime_failing_onnx_bytes())
        assert error.reason == "runtime"
        assert "onnxruntime" in error.message
        assert "Relu" in error.message


class TestUnsafeOnnx:
    def test_external_data_is_refused_with_how_to_resave(self):
        error = refusal(build.external_data_onnx_bytes())
        assert error.reason == "external_data"
        assert "external data" in error.message
        assert "'w'" in error.message
        assert "save_as_external_data=False" in error.message

    def test_external_data_pointing_at_a_real_file_is_refused_before_the_checker(self, tmp_path):
        # The checker would resolve this path on the server; it must not get the chance.
        target = build.write(tmp_path, "weights.bin", np.ones(3, np.float32).tobytes())
        error = refusal(build.external_data_onnx_bytes(location=target))
        assert error.reason == "external_data"

    def test_external_data_inside_a_subgraph_is_refused(self):
        error = refusal(build.nested_external_data_onnx_bytes())
        assert error.reason == "external_data"
        assert "'k'" in error.message

    @pytest.mark.parametrize("builder, domain, op", [
        (build.custom_domain_onnx_bytes, "com.example.custom", "Backdoor"),
        (build.contrib_op_onnx_bytes, "com.microsoft", "Gelu"),
        (build.nested_custom_domain_onnx_bytes, "org.example", "Hidden"),
    ])
    def test_operators_outside_the_standard_domains_are_refused_by_name(self, builder, domain,
                                                                        op):
        error = refusal(builder())
        assert error.reason == "domain"
        assert f"domain {domain!r} (op {op!r})" in error.message
        assert "ai.onnx.ml" in error.message
