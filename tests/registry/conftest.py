from __future__ import annotations

import io

import pytest

from registry import services
from registry.models import RegisteredModel
from tests.registry.artifact_builders import valid_onnx_bytes


def model_fields(**overrides) -> dict:
    return {
        "name": "Retail scorecard", "purpose": "Approve or decline consumer loans.",
        "decision_type": "credit", "task": "binary_classification", **overrides,
    }


@pytest.fixture
def credit_model(dana, teams) -> RegisteredModel:
    """A model of the credit team, owned by dana."""
    return services.model_create(actor=dana, team=teams["credit"], **model_fields())


@pytest.fixture
def fraud_model(frank, teams) -> RegisteredModel:
    """A model of the fraud team, owned by frank."""
    return services.model_create(actor=frank, team=teams["fraud"],
                                 **model_fields(name="Card fraud detector", decision_type="fraud"))


@pytest.fixture(scope="session")
def onnx_bytes() -> bytes:
    return valid_onnx_bytes()


@pytest.fixture
def onnx_file(onnx_bytes):
    def make(name: str = "model.onnx") -> io.BytesIO:
        f = io.BytesIO(onnx_bytes)
        f.name = name
        return f
    return make
