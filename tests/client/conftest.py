"""The client's tests use the evaluation tests' demo model, policy and queue of runs."""

from tests.evaluation.conftest import (  # noqa: F401 (fixtures)
    demo_onnx,
    evaluation_policy,
    german_model,
    queued_runs,
)
