"""Checks a model artifact before anything is stored: ONNX only, self-contained, standard operators.

An uploaded model file is untrusted input that Assay will later execute. Pickle-based formats
(pickle, joblib, PyTorch checkpoints, skops) run code while they load, so they are recognised by
their content (never by their name) and refused before any parser touches them. An ONNX file is
then parsed, checked with ``onnx.checker`` (full check), refused if it points at external data or
uses operators outside ``ai.onnx``/``ai.onnx.ml``, and finally loaded by onnxruntime to prove that
it runs. Every refusal is an :class:`ArtifactRejected` whose message says what is wrong and how to
produce an acceptable file.

Nothing here touches the disk or the database: :func:`inspect_artifact` reads a file object and
returns an :class:`ArtifactInfo` (digest, size, input/output schema); storing is the caller's job.

Memory: the whole file is held once as ``bytes`` (onnx and onnxruntime both need it in memory).
The parsed protobuf is dropped before the checker runs; the checker and onnxruntime each copy the
bytes and parse them again, which sets the peak: about 3x the file size (measured: a 150 MB model
peaks about 460 MB above the process's baseline, all released afterwards).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import pickletools
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from core.errors import ValidationFailed

if TYPE_CHECKING:
    import onnx

CHUNK_BYTES = 1024 * 1024
# How much of a file (or of a compressed stream, decompressed) the format sniffers look at.
SNIFF_BYTES = 1024 * 1024
CAP_SETTING = "ASSAY_MAX_ARTIFACT_MB"
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

HOW_TO_EXPORT = (
    "Export the model to ONNX and upload the .onnx file: for scikit-learn, skl2onnx's "
    "to_onnx(model, X[:1], options={'zipmap': False}) (or convert_sklearn with the same options); "
    "for PyTorch, torch.onnx.export(model, example_inputs, 'model.onnx'); for TensorFlow/Keras, "
    "tf2onnx (python -m tf2onnx.convert)."
)
PICKLE_RISK = "Loading a pickle-based file can run arbitrary code, so Assay never loads one."
PICKLE_RISK_CLAUSE = "loading a pickle-based file can run arbitrary code, so Assay never loads one."

# The first pickle of every legacy (pre-zip) torch.save file is this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

Verdict = tuple[str, str] | None  # (reason, message) when a sniffer recognises a format


class ArtifactRejected(ValidationFailed):
    """The uploaded file is not an acceptable model artifact; ``reason`` is a short code.

    Reasons: too_large, empty, pickle, joblib, pytorch, skops, keras, hdf5, numpy, safetensors,
    archive, compressed, not_onnx, external_data, checker, domain, runtime.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="artifact")
        self.reason = reason


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: its name, element type and shape.

    ``element_type`` is the ONNX name in lower case ("float", "int64", "string", ...); inputs
    that are not plain tensors are spelled like "seq(map(int64,float))". ``shape`` holds ints
    for fixed dimensions, strings for symbolic ones ("N") and None for unknown ones; it is ()
    for scalars and for inputs whose rank the graph does not declare.
    """

    name: str
    element_type: str
    shape: tuple[int | str | None, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "element_type": self.element_type, "shape": list(self.shape)}


@dataclass(frozen=True)
class ArtifactInfo:
    """What the checks learned about an accepted artifact, to be stored with its version."""

    sha256: str
    size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    ir_version: int
    opsets: dict[str, int] = field(default_factory=dict)
    producer: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256, "size": self.size,
            "inputs": [t.as_dict() for t in self.inputs],
            "outputs": [t.as_dict() for t in self.outputs],
            "ir_version": self.ir_version, "opsets": dict(self.opsets), "producer": self.producer,
        }


def inspect_artifact(source: BinaryIO, *, max_bytes: int) -> ArtifactInfo:
    """Run every check on the file read from ``source`` and describe it, or raise ArtifactRejected.

    The checks run in this order, each with its own message: size cap (reading stops as soon as
    the cap is passed), empty file, known non-ONNX formats recognised by content, protobuf parse
    (refusing data that parses to an empty model), external-data tensors, ``onnx.checker`` with
    ``full_check=True``, operator domains, and an onnxruntime session built from the bytes.

    External data is checked before the checker, not after: the checker resolves external-data
    locations against the server's working directory, and a name inside an upload must never
    make Assay look at its own files.
    """
    data, sha256 = _read_capped(source, max_bytes)
    if not data:
        raise ArtifactRejected("The file is empty. Choose the .onnx file again; if it is empty "
                               "on your disk too, export the model again.", reason="empty")
    _refuse_known_formats(data)
    model = _parse(data)
    facts = _scan(model)
    del model  # the checker and onnxruntime parse their own copies; keep only the bytes
    if facts.external:
        raise ArtifactRejected(_external_data_message(facts.external), reason="external_data")
    _run_checker(data)
    if facts.foreign_ops:
        raise ArtifactRejected(_domain_message(facts.foreign_ops), reason="domain")
    _load_in_onnxruntime(data)
    return ArtifactInfo(sha256=sha256, size=len(data), inputs=facts.inputs, outputs=facts.outputs,
                        ir_version=facts.ir_version, opsets=facts.opsets, producer=facts.producer)


# --- reading -------------------------------------------------------------------------------------

def _read_capped(source: BinaryIO, max_bytes: int) -> tuple[bytes, str]:
    """Read the file in chunks, hashing as it comes, and stop as soon as it passes the cap."""
    digest = hashlib.sha256()
    # BytesIO grows in place and getvalue() hands over its buffer without copying, so the file is
    # held once (joining a list of chunks would hold it twice for a moment).
    buffer = io.BytesIO()
    size = 0
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ArtifactRejected(
                f"The file is larger than the {_megabytes(max_bytes)} MB limit for model "
                f"artifacts. Upload a smaller model (for example with float16 weights or fewer "
                f"parameters), or ask the administrator to raise {CAP_SETTING}.",
                reason="too_large")
        digest.update(chunk)
        buffer.write(chunk)
    return buffer.getvalue(), digest.hexdigest()


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.3g}"


# --- formats recognised by content ---------------------------------------------------------------

def _refuse_known_formats(data: bytes) -> None:
    """Raise ArtifactRejected if ``data`` is a known non-ONNX format, whatever the file is named."""
    for sniff in _SNIFFERS:
        verdict = sniff(data)
        if verdict is not None:
            reason, message = verdict
            raise ArtifactRejected(message, reason=reason)


def _sniff_pickle(data: bytes) -> Verdict:
    if not _is_pickle(data, complete=len(data) <= SNIFF_BYTES):
        return None
    return _pickle_verdict(data, compressed_with="")


def _pickle_verdict(head: bytes, *, compressed_with: str) -> tuple[str, str]:
    packed = f", compressed with {compressed_with}" if compressed_with else ""
    if head.startswith(TORCH_LEGACY_MAGIC):
        return "pytorch", (
            f"This file is a PyTorch checkpoint in the legacy torch.save format (a pickle"
            f"{packed}), not an ONNX model. {PICKLE_RISK} Load it in your own environment and "
            f"export it with torch.onnx.export(model, example_inputs, 'model.onnx'), then upload "
            f"the .onnx file.")
    if b"joblib.numpy_pickle" in head[:SNIFF_BYTES] or b"NumpyArrayWrapper" in head[:SNIFF_BYTES]:
        return "joblib", (
            f"This file is a joblib dump (a pickle{packed}), not an ONNX model. {PICKLE_RISK} "
            f"{HOW_TO_EXPORT}")
    if compressed_with:
        return "joblib", (
            f"This file is a pickle compressed with {compressed_with}, as joblib.dump(..., "
            f"compress=...) writes, not an ONNX model. {PICKLE_RISK} {HOW_TO_EXPORT}")
    return "pickle", (
        f"This file is a Python pickle (as pickle.dump and joblib.dump write), not an ONNX model. "
        f"{PICKLE_RISK} {HOW_TO_EXPORT}")


def _is_pickle(data: bytes, *, complete: bool) -> bool:
    """True if ``data`` starts with a pickle stream.

    Protocols 2 and later open with the PROTO opcode. Protocols 0 and 1 have no header, so the
    opcodes are walked (``pickletools.genops`` only decodes, it never builds an object): a stream
    that reaches STOP is a pickle, and so is a sniffed prefix that ran out after many valid
    opcodes. ONNX files start with a protobuf tag that is no pickle opcode.
    """
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    count = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(data[:SNIFF_BYTES])):
            count += 1
            if opcode.name == "STOP":
                return count >= 2
    except Exception:  # noqa: S110 — any decoding error means "not a pickle so far"
        pass
    return not complete and count >= 16


def _sniff_zip(data: bytes) -> Verdict:
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # reads the directory, extracts nothing
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    pickled = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if pickled or any(n.endswith("constants.pkl") for n in names):
        inside = pickled[0] if pickled else "constants.pkl"
        return "pytorch", (
            f"This file is a PyTorch checkpoint (a zip archive holding {inside}), not an ONNX "
            f"model. torch.load unpickles {inside.rsplit('/', 1)[-1]}, and {PICKLE_RISK_CLAUSE}"
            f" Export the model with torch.onnx.export(model, example_inputs, "
            f"'model.onnx') and upload the .onnx file.")
    if "schema.json" in names:
        return "skops", (
            "This file is a skops archive (a zip holding schema.json), not an ONNX model. Loading "
            "it rebuilds arbitrary Python objects, and pickle-based formats can run arbitrary "
            "code, so Assay never loads one. Convert the estimator with skl2onnx: "
            "to_onnx(model, X[:1], options={'zipmap': False}) (or convert_sklearn), and upload "
            "the .onnx file.")
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "keras", _keras_message("a Keras v3 .keras archive")
    if names and all(n.endswith(".npy") for n in names):
        return "numpy", _numpy_message("a NumPy .npz archive")
    return "archive", _archive_message("a zip archive")


def _sniff_tar(data: bytes) -> Verdict:
    if data[257:262] == b"ustar":
        return "archive", _archive_message("a tar archive")
    return None


def _sniff_other_archives(data: bytes) -> Verdict:
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "archive", _archive_message("a 7-Zip archive")
    if data.startswith(b"Rar!\x1a\x07"):
        return "archive", _archive_message("a RAR archive")
    return None


def _sniff_compressed(data: bytes) -> Verdict:
    """Compressed streams: decompress a bounded prefix to see whether a pickle or tar is inside."""
    kind, head = _decompressed_head(data)
    if not kind:
        return None
    # The head may stop mid-stream, so a long run of valid opcodes counts as a pickle too.
    if head is not None and _is_pickle(head, complete=False):
        return _pickle_verdict(head, compressed_with=kind)
    if head is not None and head[257:262] == b"ustar":
        return "archive", _archive_message(f"a tar archive compressed with {kind}")
    if kind == "lz4":
        return "compressed", (
            "This file is LZ4-compressed (as joblib.dump(..., compress='lz4') writes), not an "
            f"ONNX model. A joblib dump is a pickle, and {PICKLE_RISK_CLAUSE} "
            f"{HOW_TO_EXPORT}")
    return "compressed", (
        f"This file is {kind}-compressed, not an ONNX model. Assay does not unpack compressed "
        f"files: what they hold may be pickle-based, and loading pickle-based formats can run "
        f"arbitrary code. Upload the uncompressed .onnx file itself; if you have no ONNX file "
        f"yet: {HOW_TO_EXPORT}")


def _decompressed_head(data: bytes) -> tuple[str, bytes | None]:
    """The compression of ``data`` (or "") and up to SNIFF_BYTES of its decompressed start."""
    decompressors: list[tuple[str, bool, Callable[[], Any]]] = [
        ("gzip", data.startswith(b"\x1f\x8b"), lambda: zlib.decompressobj(wbits=31)),
        ("zlib", _has_zlib_header(data), zlib.decompressobj),
        ("bz2", data.startswith(b"BZh"), bz2.BZ2Decompressor),
        ("xz", data.startswith(b"\xfd7zXZ\x00"), lzma.LZMADecompressor),
        ("lzma", data.startswith(b"\x5d\x00\x00"),
         lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)),
    ]
    for kind, matches, make in decompressors:
        if not matches:
            continue
        try:
            # max_length bounds the output, so a decompression bomb costs at most SNIFF_BYTES.
            return kind, make().decompress(data[:SNIFF_BYTES], SNIFF_BYTES)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
            return (kind, None) if kind in ("gzip", "bz2", "xz") else ("", None)
    if data.startswith(b"ZF0x"):  # joblib < 0.10 zlib files: "ZF0x" + hex length + zlib stream
        start = data.find(b"x", 4, 40)
        try:
            return "zlib", zlib.decompressobj().decompress(data[start:SNIFF_BYTES], SNIFF_BYTES)
        except zlib.error:
            return "zlib", None
    if data.startswith(b"\x04\x22\x4d\x18"):
        return "lz4", None
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd", None
    return "", None


def _has_zlib_header(data: bytes) -> bool:
    return (len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7
            and (data[0] << 8 | data[1]) % 31 == 0)


def _sniff_hdf5(data: bytes) -> Verdict:
    # HDF5 allows a user block before the signature, at 512, 1024, 2048, ... bytes.
    offsets = [0] + [512 << i for i in range(12)]
    if any(data[o:o + 8] == HDF5_SIGNATURE for o in offsets if o < len(data)):
        return "hdf5", _keras_message("an HDF5 file (the format of Keras .h5 models)")
    return None


def _sniff_numpy(data: bytes) -> Verdict:
    if data.startswith(b"\x93NUMPY"):
        return "numpy", _numpy_message("a NumPy .npy array file")
    return None


def _sniff_safetensors(data: bytes) -> Verdict:
    if len(data) < 10:
        return None
    (header_len,) = struct.unpack("<Q", data[:8])
    if 2 <= header_len <= len(data) - 8 and data[8:9] == b"{" \
            and data[8 + header_len - 1:8 + header_len] in (b"}", b" "):
        return "safetensors", (
            "This file is a safetensors file: it holds weights only, without the computation "
            "graph that Assay runs. Assay needs the whole model in one ONNX file. Load the weights "
            "into your model in your own environment, then export it: torch.onnx.export(model, "
            "example_inputs, 'model.onnx') (or tf2onnx for TensorFlow), and upload the .onnx file.")
    return None


def _archive_message(what: str) -> str:
    return (f"This file is {what}, not an ONNX model. Assay does not unpack archives: what they "
            f"hold may be pickle-based, and loading pickle-based formats can run arbitrary code. "
            f"Upload the .onnx file itself; if you have no ONNX file yet: {HOW_TO_EXPORT}")


def _keras_message(what: str) -> str:
    return (f"This file is {what}, not an ONNX model. Keras model files can carry Python code "
            f"(Lambda layers, custom objects) that runs when they load, so Assay never loads them. "
            f"Convert the model with tf2onnx (python -m tf2onnx.convert --keras model.h5 --output "
            f"model.onnx, or tf2onnx.convert.from_keras) and upload the .onnx file.")


def _numpy_message(what: str) -> str:
    return (f"This file is {what}, not a model: it holds arrays without a computation graph, and "
            f"NumPy object arrays are stored as pickles, which can run arbitrary code when loaded. "
            f"{HOW_TO_EXPORT}")


# Order matters: exact signatures first, then the pickle walk, then compressed streams.
_SNIFFERS: tuple[Callable[[bytes], Verdict], ...] = (
    _sniff_zip, _sniff_tar, _sniff_other_archives, _sniff_hdf5, _sniff_numpy,
    _sniff_pickle, _sniff_compressed, _sniff_safetensors,
)


# --- ONNX ----------------------------------------------------------------------------------------

def _parse(data: bytes) -> onnx.ModelProto:
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # DecodeError, or RuntimeError from the C++ parser
        model = None
    if model is None or not model.HasField("graph") or model.ir_version == 0:
        # Random bytes and other protobufs can "parse" into an empty ModelProto: refuse those too.
        raise ArtifactRejected(
            "This file is not a valid ONNX model: it does not parse as an ONNX protobuf with a "
            "graph (it may be truncated, corrupted, or another format). Upload the .onnx file "
            "your exporter wrote, unchanged; check it locally with onnx.load('model.onnx'). "
            + HOW_TO_EXPORT, reason="not_onnx")
    return model


@dataclass(frozen=True)
class _Facts:
    """What the parsed model tells, gathered in one walk so the protobuf can be dropped early."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    ir_version: int
    opsets: dict[str, int]
    producer: str
    external: tuple[str, ...]
    foreign_ops: tuple[tuple[str, str], ...]


def _scan(model: onnx.ModelProto) -> _Facts:
    external: list[str] = []
    foreign: dict[tuple[str, str], None] = {}  # ordered set of (domain, op_type)

    def visit_tensors(tensors: Iterable[Any]) -> None:
        import onnx

        for tensor in tensors:
            if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
                external.append(tensor.name or "(unnamed)")

    def visit_sparse(sparse: Iterable[Any]) -> None:
        for s in sparse:
            visit_tensors((s.values, s.indices))

    def visit_nodes(nodes: Iterable[Any]) -> None:
        for node in nodes:
            if node.domain not in ALLOWED_DOMAINS:
                foreign[(node.domain, node.op_type)] = None
            for attr in node.attribute:
                visit_tensors([attr.t] if attr.HasField("t") else [])
                visit_tensors(attr.tensors)
                visit_sparse([attr.sparse_tensor] if attr.HasField("sparse_tensor") else [])
                visit_sparse(attr.sparse_tensors)
                for graph in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    visit_graph(graph)

    def visit_graph(graph: Any) -> None:
        visit_tensors(graph.initializer)
        visit_sparse(graph.sparse_initializer)
        visit_nodes(graph.node)

    visit_graph(model.graph)
    for info in model.training_info:
        visit_graph(info.initialization)
        visit_graph(info.algorithm)
    for function in model.functions:
        visit_nodes(function.node)

    graph = model.graph
    constants = {t.name for t in graph.initializer} | {
        s.values.name for s in graph.sparse_initializer}
    return _Facts(
        inputs=tuple(_spec(v) for v in graph.input if v.name not in constants),
        outputs=tuple(_spec(v) for v in graph.output),
        ir_version=model.ir_version,
        opsets={(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        producer=" ".join(p for p in (model.producer_name, model.producer_version) if p),
        external=tuple(external),
        foreign_ops=tuple(foreign),
    )


def _spec(value: Any) -> TensorSpec:
    return TensorSpec(name=value.name, element_type=_type_name(value.type),
                      shape=_shape(value.type))


def _type_name(type_proto: Any) -> str:
    import onnx

    def element(elem_type: int) -> str:
        return onnx.TensorProto.DataType.Name(elem_type).lower()

    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return element(type_proto.tensor_type.elem_type)
    if kind == "sparse_tensor_type":
        return f"sparse({element(type_proto.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({_type_name(type_proto.sequence_type.elem_type)})"
    if kind == "map_type":
        m = type_proto.map_type
        return f"map({element(m.key_type)},{_type_name(m.value_type)})"
    if kind == "optional_type":
        return f"optional({_type_name(type_proto.optional_type.elem_type)})"
    return "undefined"


def _shape(type_proto: Any) -> tuple[int | str | None, ...]:
    kind = type_proto.WhichOneof("value")
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return ()
    tensor = getattr(type_proto, kind)
    if not tensor.HasField("shape"):
        return ()
    dims: list[int | str | None] = []
    for dim in tensor.shape.dim:
        which = dim.WhichOneof("value")
        dims.append(dim.dim_value if which == "dim_value"
                    else dim.dim_param if which == "dim_param" else None)
    return tuple(dims)


def _external_data_message(names: tuple[str, ...]) -> str:
    shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more"
                                                       if len(names) > 5 else "")
    return (f"The model keeps {len(names)} tensor(s) in external data files ({shown}) instead of "
            f"inside the .onnx file. Assay stores one self-contained file and never follows file "
            f"paths named inside an upload. Re-save the model with every tensor inside the file: "
            f"model = onnx.load('model.onnx') (next to its data files), then "
            f"onnx.save_model(model, 'model_single.onnx', save_as_external_data=False), and upload "
            f"that file.")


def _run_checker(data: bytes) -> None:
    import onnx.checker

    try:
        onnx.checker.check_model(data, full_check=True)
    except Exception as error:  # ValidationError, InferenceError, ValueError
        raise ArtifactRejected(
            f"The ONNX checker refused the model (onnx.checker.check_model with "
            f"full_check=True): {_detail(error)} Fix the model or re-export it with a current "
            f"exporter, and run onnx.checker.check_model(model, full_check=True) locally before "
            f"uploading.",
            reason="checker") from None


def _domain_message(ops: tuple[tuple[str, str], ...]) -> str:
    listed = "; ".join(f"domain {domain!r} (op {op!r})" for domain, op in ops[:8])
    more = f" and {len(ops) - 8} more" if len(ops) > 8 else ""
    return (f"The model uses operators outside the standard ONNX domains: {listed}{more}. Assay "
            f"runs only operators of ai.onnx and ai.onnx.ml, so that no custom code is loaded. "
            f"Re-export the model without custom or contrib operators (no custom_opsets in "
            f"torch.onnx.export, no custom converters in skl2onnx, and save the model before any "
            f"onnxruntime optimisation that fuses nodes into com.microsoft operators).")


def _load_in_onnxruntime(data: bytes) -> None:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only; the message below carries the reason
    options.add_session_config_entry("session.load_model_format", "ONNX")
    try:
        onnxruntime.InferenceSession(data, sess_options=options,
                                     providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types
        raise ArtifactRejected(
            f"onnxruntime {onnxruntime.__version__} could not load the model: {_detail(error)} "
            f"Check that it loads locally with onnxruntime.InferenceSession('model.onnx'). If the "
            f"error names an opset or IR version, export with a lower one (target_opset in "
            f"skl2onnx, opset_version in torch.onnx.export); if no implementation was found for "
            f"a node, that operator does not run on the tensor type used (cast to float).",
            reason="runtime") from None


def _detail(error: Exception) -> str:
    """A library's error message on one line, bounded, ending as a sentence."""
    text = " ".join(str(error).split())[:600] or type(error).__name__
    return text if text.endswith((".", "!", "?")) else text + "."
