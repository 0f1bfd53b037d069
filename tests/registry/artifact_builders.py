"""Builds good and bad model files in code, for the artifact checks and the upload tests.

Every bad file is the real thing where that is cheap (a real pickle and joblib dump of a fitted
estimator, real zip/tar/gzip archives, NumPy's own .npy writer) and is shaped after the format's
layout where the library is not installed (PyTorch, skops, HDF5, safetensors): the checks look at
content, so the shape is what matters. Each builder returns fresh ``bytes``.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import pickle
import struct
import tarfile
import zipfile

import joblib
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


@functools.cache
def fitted_estimator():  # -> sklearn LogisticRegression; annotated loosely to keep imports lazy
    """A small logistic regression on three float features, fitted on fixed random data."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return LogisticRegression().fit(X, y), X


@functools.cache
def _valid_onnx() -> bytes:
    from skl2onnx import to_onnx

    model, X = fitted_estimator()
    onx = to_onnx(model, X[:1], options={"zipmap": False}, target_opset=OPSET)
    return onx.SerializeToString()


def valid_onnx_bytes() -> bytes:
    """A scikit-learn LogisticRegression exported with skl2onnx (input X: float [N, 3])."""
    return _valid_onnx()


def valid_onnx_model() -> onnx.ModelProto:
    return onnx.load_model_from_string(valid_onnx_bytes())


def _tiny_graph_model(nodes: list[onnx.NodeProto], *, initializers: list[TensorProto] = (),
                      extra_opsets: list[onnx.OperatorSetIdProto] = ()) -> onnx.ModelProto:
    """y = f(x) over float [N, 3], for the hand-built files below."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph(nodes, "tiny", [x], [y], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                   *extra_opsets])


def add_onnx_bytes() -> bytes:
    """A hand-built valid model, y = x + w, with a symbolic batch dimension."""
    w = numpy_helper.from_array(np.ones(3, dtype=np.float32), "w")
    model = _tiny_graph_model([helper.make_node("Add", ["x", "w"], ["y"])], initializers=[w])
    return model.SerializeToString()


# --- pickle-based formats ------------------------------------------------------------------------

def pickle_bytes(protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    """A real pickle of a fitted estimator (what pickle.dump(model, f) writes)."""
    return pickle.dumps(fitted_estimator()[0], protocol=protocol)


def joblib_bytes(compress: str | int = 0) -> bytes:
    """A real joblib.dump of a fitted estimator; compress is 0 or "zlib", "gzip", "bz2", ..."""
    buffer = io.BytesIO()
    joblib.dump(fitted_estimator()[0], buffer, compress=(compress, 3) if compress else 0)
    return buffer.getvalue()


def torch_zip_bytes(stem: str = "model") -> bytes:
    """A zip laid out like torch.save's format: <stem>/data.pkl, <stem>/data/0, <stem>/version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{stem}/data.pkl", pickle.dumps({"weight": "storage 0"}, protocol=2))
        archive.writestr(f"{stem}/byteorder", "little")
        archive.writestr(f"{stem}/data/0", np.ones(4, dtype=np.float32).tobytes())
        archive.writestr(f"{stem}/version", "3\n")
    return buffer.getvalue()


def torch_legacy_bytes() -> bytes:
    """Legacy torch.save layout: pickles of the magic number, protocol version, sys info, model."""
    magic = 0x1950A86A20F9469CFC6C
    parts = [magic, 1001, {"protocol_version": 1001, "little_endian": True}, {"state": [1, 2]}]
    return b"".join(pickle.dumps(p, protocol=2) for p in parts)


def skops_bytes() -> bytes:
    """A zip shaped like a skops file: schema.json describing the object, arrays as .npy."""
    buffer = io.BytesIO()
    schema = {"__class__": "LogisticRegression", "__module__": "sklearn.linear_model._logistic",
              "__loader__": "ObjectNode", "protocol": 2, "_skops_version": "0.10.0"}
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        archive.writestr("0123.npy", npy_bytes())
    return buffer.getvalue()


# --- other non-ONNX formats ----------------------------------------------------------------------

def hdf5_bytes() -> bytes:
    """The start of an HDF5 file (as Keras .h5 models are): signature and superblock bytes."""
    return b"\x89HDF\r\n\x1a\n" + b"\x00\x00\x00\x00\x00\x08\x08\x00" + bytes(512)


def keras_v3_bytes() -> bytes:
    """A zip shaped like a Keras v3 .keras file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        archive.writestr("model.weights.h5", hdf5_bytes())
    return buffer.getvalue()


def npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12, dtype=np.float32).reshape(3, 4))
    return buffer.getvalue()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, coef=np.ones((1, 3)), intercept=np.zeros(1))
    return buffer.getvalue()


def safetensors_bytes() -> bytes:
    """The safetensors layout: u64 header length, JSON header (space padded), raw tensor data."""
    data = np.ones(3, dtype=np.float32).tobytes()
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, len(data)]}})
    header_bytes = header.encode().ljust((len(header) + 7) // 8 * 8, b" ")
    return struct.pack("<Q", len(header_bytes)) + header_bytes + data


def zip_bytes() -> bytes:
    """A plain zip holding a perfectly good ONNX file: still refused, upload the file itself."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.onnx", valid_onnx_bytes())
    return buffer.getvalue()


def tar_bytes(mode: str = "w") -> bytes:
    """A tar (mode "w") or compressed tar ("w:gz", "w:bz2", "w:xz") holding an ONNX file."""
    buffer = io.BytesIO()
    payload = valid_onnx_bytes()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        entry = tarfile.TarInfo("model.onnx")
        entry.size = len(payload)
        archive.addfile(entry, io.BytesIO(payload))
    return buffer.getvalue()


def gzip_bytes() -> bytes:
    """A gzip of a valid ONNX file (model.onnx.gz)."""
    return gzip.compress(valid_onnx_bytes(), mtime=0)


def random_bytes(n: int = 4096, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).bytes(n)


def empty_bytes() -> bytes:
    return b""


def text_bytes() -> bytes:
    return b"hello, this is not a model\n"


# --- broken or unsafe ONNX -----------------------------------------------------------------------

def truncated_onnx_bytes() -> bytes:
    """The first half of a valid ONNX file, as an interrupted download leaves it."""
    data = valid_onnx_bytes()
    return data[: len(data) // 2]


def vacuous_protobuf_bytes() -> bytes:
    """A protobuf that parses as a ModelProto but holds no graph and no IR version."""
    return onnx.ModelProto(producer_name="not-a-model", doc_string="empty").SerializeToString()


def external_data_onnx_bytes(location: str = "weights.bin") -> bytes:
    """A valid y = x + w model with w moved to an external file (named, not shipped)."""
    model = onnx.load_model_from_string(add_onnx_bytes())
    [tensor] = model.graph.initializer
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.ClearField("double_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": "12"}.items():
        tensor.external_data.add(key=key, value=value)
    return model.SerializeToString()


def custom_domain_onnx_bytes(domain: str = "com.example.custom", op: str = "Backdoor") -> bytes:
    """A model calling an operator of a custom domain (would need a custom-op library to run)."""
    model = _tiny_graph_model([helper.make_node(op, ["x"], ["y"], domain=domain)],
                              extra_opsets=[helper.make_opsetid(domain, 1)])
    return model.SerializeToString()


def contrib_op_onnx_bytes() -> bytes:
    """A model using onnxruntime's com.microsoft contrib op Gelu: loadable, still refused."""
    model = _tiny_graph_model([helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")],
                              extra_opsets=[helper.make_opsetid("com.microsoft", 1)])
    return model.SerializeToString()


def nested_onnx_bytes(branch_node: onnx.NodeProto) -> bytes:
    """y = If(c, then: branch_node(x), else: x): a node hidden one graph down."""
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    then = helper.make_graph([branch_node], "then", [], [
        helper.make_tensor_value_info(branch_node.output[0], TensorProto.FLOAT, ["N", 3])])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [
        helper.make_tensor_value_info("e", TensorProto.FLOAT, ["N", 3])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)
    graph = helper.make_graph([node], "nested", [c, x], [y])
    opsets = [helper.make_opsetid("", OPSET)]
    if branch_node.domain:
        opsets.append(helper.make_opsetid(branch_node.domain, 1))
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def nested_external_data_onnx_bytes() -> bytes:
    """A Constant inside an If branch whose value tensor lives in an external file."""
    value = numpy_helper.from_array(np.ones(3, dtype=np.float32), "k")
    value.ClearField("raw_data")
    value.data_location = TensorProto.EXTERNAL
    value.external_data.add(key="location", value="k.bin")
    return nested_onnx_bytes(helper.make_node("Constant", [], ["t"], value=value))


def nested_custom_domain_onnx_bytes() -> bytes:
    return nested_onnx_bytes(helper.make_node("Hidden", ["x"], ["t"], domain="org.example"))


def checker_failing_onnx_bytes() -> bytes:
    """Well-formed protobuf, but a node reads a tensor nothing produces: the checker refuses it."""
    model = _tiny_graph_model([helper.make_node("Add", ["x", "missing"], ["y"])])
    return model.SerializeToString()


def shape_mismatch_onnx_bytes() -> bytes:
    """MatMul of [N, 3] by [4, 2]: only the full check (shape inference) catches this one."""
    w = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "w")
    model = _tiny_graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], initializers=[w])
    return model.SerializeToString()


def runtime_failing_onnx_bytes() -> bytes:
    """Valid for the checker (Relu accepts int16) but onnxruntime has no int16 Relu kernel."""
    x = helper.make_tensor_value_info("x", TensorProto.INT16, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT16, ["N", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu16", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return model.SerializeToString()


def oversized_onnx_bytes(at_least: int) -> bytes:
    """A valid model padded (in its doc_string) past ``at_least`` bytes."""
    model = valid_onnx_model()
    model.doc_string = "x" * at_least
    return model.SerializeToString()


def write(tmp_dir: os.PathLike, name: str, data: bytes) -> str:
    """Write ``data`` to ``tmp_dir/name`` (for tests that need a real file); return the path."""
    path = os.path.join(tmp_dir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path
