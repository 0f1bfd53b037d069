"""Serving fixtures.

Deployments: the credit model (owned by dana, tier 2) with approved versions, a deployer (devi,
an ML engineer in no team) and a deployer who develops the credit model (dirk).

The gateway: a scoring model with one ONNX input per field (age, income: float; children:
int64), approved versions of it walked through governance (so signed for real), an endpoint made
with the ORM, application keys, and the gateway called in-process. The in-process gateway
refreshes its view in the test's own thread and transaction (no background thread, which would
not see the test's uncommitted rows); tests about the running process start gunicorn
(tests/serving/test_gateway_process.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.models import Role, User
from registry import services as registry
from registry.models import ModelVersion, VersionState
from serving import appkeys
from serving.gateway import trust
from serving.gateway.app import Gateway
from serving.gateway.predlog import Writer
from serving.gateway.view import Refresher
from serving.models import Endpoint
from tests.conftest import _user
from tests.governance.conftest import (  # noqa: F401
    credit_model,
    draft,
    fraud_model,
    onnx_bytes,
    onnx_file,
    policy,
    strict_policy,
    tiered_model,
    walk,
)
from tests.governance.test_signing_on_approval import approve as walk_to_approved


def approve_version(walk, version: ModelVersion) -> ModelVersion:  # noqa: F811
    walk.to_pending(version)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED and version.is_servable()
    return version


@pytest.fixture
def devi(make_user) -> User:
    return make_user("devi", Role.DEPLOYER)


@pytest.fixture
def dirk(make_user, tiered_model) -> User:  # noqa: F811
    """A deployer who is one of the credit model's developers."""
    user = make_user("dirk", Role.DEPLOYER, Role.DATA_SCIENTIST, team="credit")
    tiered_model.developers.add(user)
    return user


@pytest.fixture
def approved(walk, draft) -> ModelVersion:  # noqa: F811
    """Version 1 of the credit model, approved and signed."""
    return approve_version(walk, draft)


@pytest.fixture
def next_version(walk, approved, dana, onnx_file) -> ModelVersion:  # noqa: F811
    """Version 2 of the credit model, approved and signed."""
    return approve_version(walk, registry.version_create(actor=dana, model=approved.model,
                                                 artifact=onnx_file(), changelog="Second."))


FIELDS = {"age": 41.0, "income": 2.5, "children": 2}


def scoring_onnx(weights: tuple[float, float, float] = (0.02, 0.3, -0.1), bias: float = -1.0,
                 ) -> bytes:
    """score = sigmoid(w . [age, income, children] + b), one graph input per field."""
    inputs = [helper.make_tensor_value_info("age", TensorProto.FLOAT, ["N", 1]),
              helper.make_tensor_value_info("income", TensorProto.FLOAT, ["N", 1]),
              helper.make_tensor_value_info("children", TensorProto.INT64, ["N", 1])]
    score = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])
    w = numpy_helper.from_array(np.array(weights, dtype=np.float32).reshape(3, 1), "w")
    b = numpy_helper.from_array(np.array([bias], dtype=np.float32), "b")
    nodes = [helper.make_node("Cast", ["children"], ["children_f"], to=TensorProto.FLOAT),
             helper.make_node("Concat", ["age", "income", "children_f"], ["x"], axis=1),
             helper.make_node("MatMul", ["x", "w"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["score"])]
    graph = helper.make_graph(nodes, "scoring", inputs, [score], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def expected_score(weights: tuple[float, float, float] = (0.02, 0.3, -0.1), bias: float = -1.0,
                   record: dict[str, Any] = FIELDS) -> float:
    z = sum(w * record[f] for w, f in zip(weights, ("age", "income", "children"), strict=True))
    return float(1 / (1 + np.exp(-(z + bias))))


def scoring_file(weights: tuple[float, float, float] = (0.02, 0.3, -0.1)) -> io.BytesIO:
    artifact = io.BytesIO(scoring_onnx(weights))
    artifact.name = "scoring.onnx"
    return artifact


@pytest.fixture
def deb(teams):
    """A deployer."""
    return _user("deb", [Role.DEPLOYER], [])


@pytest.fixture
def approve(walk, tiered_model, dana):  # noqa: F811
    """``approve(weights)``: a new version of the credit model with the scoring artifact, walked
    to approved (signed on approval, as in production)."""
    def make(weights: tuple[float, float, float] = (0.02, 0.3, -0.1)) -> ModelVersion:
        version = registry.version_create(actor=dana, model=tiered_model,
                                          artifact=scoring_file(weights),
                                          changelog=f"Weights {weights}.")
        return walk_to_approved(walk, version)
    return make


@pytest.fixture
def trust_file(own_files, db) -> Path:
    """The gateway's trust file, exported after the keys exist (call it after approving)."""
    path = own_files / "trusted-keys.json"

    def export() -> Path:
        trust.export(path)
        return path
    return export


@pytest.fixture
def endpoint(adam):
    def make(slug: str, primary: ModelVersion, **kw: Any) -> Endpoint:
        return Endpoint.objects.create(slug=slug, primary_version=primary, created_by=adam, **kw)
    return make


@pytest.fixture
def app_key(deb):
    def make(*endpoints: Endpoint, rate_limit: int | None = None, name: str = "") -> str:
        _key, plaintext = appkeys.appkey_create(
            actor=deb, name=name or f"app-{'-'.join(e.slug for e in endpoints)}",
            endpoints=endpoints, rate_limit=rate_limit)
        return plaintext
    return make


class InProcess:
    """The gateway's WSGI app called directly; ``refresh()`` is the background refresh."""

    def __init__(self, trust_path: Path) -> None:
        self.refresher = Refresher(trust_path, background=False)
        self.writer = Writer(background=False)
        self.app = Gateway(refresher=self.refresher, writer=self.writer)

    def refresh(self) -> InProcess:
        self.refresher.refresh_once()
        return self

    def post(self, slug: str, body: Any, key: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/predict/{slug}",
                   "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
                   **({"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}),
                   **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}}
        return self._call(environ)

    def get(self, path: str, headers: dict[str, str] | None = None,
            ) -> tuple[int, dict[str, str], bytes]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path,
                   **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}}
        status, headers_out, body = self._call(environ, raw=True)
        return status, headers_out, body

    def _call(self, environ: dict[str, Any], raw: bool = False) -> tuple[int, dict[str, str], Any]:
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

        body = b"".join(self.app(environ, start_response))
        return seen["status"], seen["headers"], body if raw else json.loads(body)


@pytest.fixture
def gateway(trust_file):
    def make() -> InProcess:
        return InProcess(trust_file()).refresh()
    return make
