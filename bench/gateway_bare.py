"""The bench's baseline: a bare WSGI app around the same onnxruntime session as the gateway (same
session options), with nothing else — no keys, no limits, no validation beyond what numpy does,
no logging or metrics. ``bench/gateway.py`` runs it under the gateway's gunicorn configuration:

    BARE_MODEL=/path/model.onnx gunicorn -c serving/gateway/gunicorn.conf.py bench.gateway_bare
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import onnxruntime as ort

DTYPES = {"tensor(string)": object, "tensor(int64)": np.int64, "tensor(float)": np.float32,
          "tensor(double)": np.float64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}

_options = ort.SessionOptions()
_options.intra_op_num_threads = 1
_options.inter_op_num_threads = 1
_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
session = ort.InferenceSession(os.environ["BARE_MODEL"], _options,
                               providers=["CPUExecutionProvider"])
inputs = [(i.name, DTYPES[i.type]) for i in session.get_inputs()]
outputs = [o.name for o in session.get_outputs()]


def application(environ: dict[str, Any],
                start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    records = json.loads(environ["wsgi.input"].read(length))["records"]
    feed = {name: np.array([[r[name]] for r in records], dtype=dtype) for name, dtype in inputs}
    result = session.run(None, feed)
    rows = [dict(zip(outputs, row, strict=True))
            for row in zip(*[r.tolist() for r in result], strict=True)]
    body = json.dumps({"predictions": rows}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
