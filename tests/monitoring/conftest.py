"""Monitoring fixtures.

The scoring model of the serving tests (inputs age, income: float; children: int64; output
``score``), approved through governance (so its monitoring plan is set at approval), with
validated data: a reference data set and a succeeded evaluation run of the exact artifact on it.
Predictions are written to the prediction log as the gateway's writer writes them; ``drifted``
rows are the same population shifted (older, richer applicants).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import uuid

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from evaluation.models import Dataset, Run, RunStatus
from governance import services as governance
from governance.policy import TEMPLATES, default_monitoring
from registry import storage
from registry.models import ModelVersion
from serving.models import PredictionLog
from tests.conftest import approve_policy
from tests.serving.conftest import (  # noqa: F401  # noqa: F401  # noqa: F401
    FIELDS,
    app_key,
    approve,
    credit_model,
    deb,
    endpoint,
    expected_score,
    gateway,
    onnx_bytes,
    onnx_file,
    policy,
    tiered_model,
    trust_file,
    walk,
)

REFERENCE_ROWS = 2000


def population(n: int, *, seed: int = 0, shift: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(40, 10, n).round(1),
                          "income": rng.normal(3, 1, n).round(2),
                          "children": rng.integers(0, 4, n)})
    if shift:
        frame["age"] += 25
        frame["income"] *= 3
    return frame


def scores_of(frame: pd.DataFrame) -> list[float]:
    return [expected_score(record=r) for r in frame.to_dict("records")]


@pytest.fixture
def validated(victor):
    """``validated(version)``: the reference data and a succeeded run of the version's artifact
    on it (what the plan's reference is read from at the first check)."""
    def make(version: ModelVersion) -> Run:
        frame = population(REFERENCE_ROWS, seed=1)
        frame["label"] = (np.random.default_rng(2).random(len(frame))
                          < np.asarray(scores_of(frame))).astype(int)
        data = frame.to_csv(index=False).encode()
        sha256, size = storage.sha256_of(io.BytesIO(data))
        storage.store(io.BytesIO(data), sha256)
        dataset = Dataset.objects.create(
            model=version.model, name="Applications 2024", filename="reference.csv",
            file_format="csv", sha256=sha256, size=size, row_count=len(frame),
            columns=[{"name": c, "dtype": str(frame[c].dtype)} for c in frame.columns],
            label_column="label", uploaded_by=victor)
        return Run.objects.create(version=version, dataset=dataset,
                                  artifact_digest=version.artifact_sha256,
                                  dataset_digests=[sha256], status=RunStatus.SUCCEEDED,
                                  launched_by=victor, finished_at=timezone.now())
    return make


def _json_value(name: str, value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value) if name == "children" else float(value)


def log_predictions(version: ModelVersion, frame: pd.DataFrame, *, slug: str = "scoring",
                    at: dt.datetime | None = None, per_request: int = 1) -> list[str]:
    """Write the frame's rows to the prediction log as the gateway would (``per_request``
    records per request); returns the request ids."""
    at = at or timezone.now() - dt.timedelta(minutes=1)
    records = frame.to_dict("records")
    ids, rows = [], []
    for start in range(0, len(records), per_request):
        batch = [{k: _json_value(k, v) for k, v in r.items()}
                 for r in records[start:start + per_request]]
        request_id = uuid.uuid4().hex
        ids.append(request_id)
        rows.append(PredictionLog(
            endpoint_slug=slug, version=version, artifact_sha256=version.artifact_sha256,
            role="primary", request_id=request_id, app_key_prefix="test", inputs=batch,
            outputs=[{"score": [expected_score(record={k: v or 0 for k, v in r.items()})]}
                     for r in batch], latency_ms=1.0,
            created_at=at))
    PredictionLog.objects.bulk_create(rows, batch_size=2000)
    return ids


def monitoring_definition(tier: str, **overrides) -> dict:
    """The shipped SR 11-7 with a monitoring policy in ``tier`` (the default's, changed)."""
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    rules = default_monitoring(int(tier))
    rules.update(overrides)
    definition["tiers"][tier]["monitoring"] = rules
    return definition


@pytest.fixture
def suspending_policy(policy, adam):  # noqa: F811
    """SR 11-7 whose tier 2 (the credit model's) monitoring suspends serving."""
    pv = governance.policy_version_create(
        actor=adam, policy_slug="monitored", name="Monitored",
        definition=monitoring_definition("2", suspend=True, frequency_minutes=5))
    return approve_policy(pv)
