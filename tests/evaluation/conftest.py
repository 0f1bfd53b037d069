"""Evaluation fixtures: the German-credit demo model (trained and exported once per session) as
version 1 of the credit team's model, its data, a policy requiring evaluation evidence, and the
queue of runs waiting for a worker.

Runs are queued on commit (evaluation.services.run_queue). In tests the queued ids wait in
``queued_runs`` instead of going to RabbitMQ, where no worker of this test run would take them;
``queued_runs.run()`` runs the task on them as a worker would (the same task function, through
Celery's ``apply``). The worker-kill test sends them to a real worker, on its own queue.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest

from evaluation import services as evaluation
from evaluation.models import Dataset
from governance import services as governance
from governance.policy import TEMPLATES
from registry import services as registry
from registry.demo.train_german_credit import DATA_PATH, build_demo_artifact
from registry.models import ModelVersion, RegisteredModel
from tests.conftest import approve_policy
from tests.governance.conftest import MEDIUM
from tests.registry.conftest import model_fields

GERMAN_CSV = DATA_PATH
AGE_BINS = {"edges": [25, 60], "labels": ["<25", "25 to <60", "≥60"]}
SENSITIVE = [{"column": "sex"}, {"column": "age", "bins": AGE_BINS}]
# The demo model on its data: roc_auc 0.817, dp_ratio 0.826, ece 0.029.
REQUIRED = [
    {"check": "performance", "metric": "roc_auc", "comparator": ">=", "threshold": 0.7},
    {"check": "bias", "metric": "dp_ratio", "comparator": ">=", "threshold": 0.8},
    {"check": "calibration", "metric": "ece", "comparator": "<=", "threshold": 0.1},
]


class QueuedRuns:
    """Run ids queued for a worker, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[int] = []
        self._monkeypatch = monkeypatch
        monkeypatch.setattr(evaluation, "run_queue", self.ids.append)

    def run(self) -> list[str]:
        """Run the task on every queued id (emptying the queue), as a worker would."""
        from evaluation.tasks import run_evaluation

        ids, self.ids[:] = list(self.ids), []
        return [run_evaluation.apply(args=[pk]).get() for pk in ids]

    def send_to(self, send) -> None:
        """Send queued runs with ``send`` (to a real broker) from now on."""
        self._monkeypatch.setattr(evaluation, "run_queue", send)


@pytest.fixture(autouse=True)
def queued_runs(monkeypatch) -> QueuedRuns:
    return QueuedRuns(monkeypatch)


class QueuedExplanations:
    """Row explanation ids queued for a worker, in order (as ``QueuedRuns``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from evaluation import explanations

        self.ids: list[int] = []
        self._monkeypatch = monkeypatch
        monkeypatch.setattr(explanations, "explanation_queue", self.ids.append)

    def run(self) -> list[str]:
        """Run the task on every queued id (emptying the queue), as a worker would."""
        from evaluation.tasks import explain_row

        ids, self.ids[:] = list(self.ids), []
        return [explain_row.apply(args=[pk]).get() for pk in ids]

    def send_to(self, send) -> None:
        from evaluation import explanations

        self._monkeypatch.setattr(explanations, "explanation_queue", send)


@pytest.fixture(autouse=True)
def queued_explanations(monkeypatch) -> QueuedExplanations:
    return QueuedExplanations(monkeypatch)


@pytest.fixture(scope="session")
def demo_onnx(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("demo") / "german_credit.onnx"
    return build_demo_artifact(path).path.read_bytes()


def policy_definition(required: list[dict] | None = None) -> dict:
    """SR 11-7 with evaluation evidence required in every tier."""
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    for tier in definition["tiers"].values():
        tier["required_evidence"] = copy.deepcopy(REQUIRED if required is None else required)
    return definition


@pytest.fixture
def evaluation_policy(db, adam):
    governance.ensure_policy_templates()
    pv = governance.policy_version_create(actor=adam, policy_slug="evaluated",
                                          name="Evaluated", definition=policy_definition())
    return approve_policy(pv)


@pytest.fixture
def german_model(evaluation_policy, dana, teams) -> RegisteredModel:
    model = registry.model_create(actor=dana, team=teams["credit"], **model_fields(
        name="German credit scorecard"))
    governance.intake_record(actor=dana, model=model, is_model=True, answers=MEDIUM,
                             rationale="A scorecard estimating the probability of good credit.")
    return model


@pytest.fixture
def german_version(german_model, dana, demo_onnx) -> ModelVersion:
    artifact = io.BytesIO(demo_onnx)
    artifact.name = "german_credit.onnx"
    return registry.version_create(actor=dana, model=german_model, artifact=artifact,
                                   changelog="The demo scorecard.")


def upload(path: Path | bytes, name: str = "german_credit.csv") -> io.BytesIO:
    f = io.BytesIO(path if isinstance(path, bytes) else Path(path).read_bytes())
    f.name = name
    return f


@pytest.fixture
def validating(german_version, people) -> ModelVersion:
    """The version submitted and in validation, victor its validator."""
    governance.version_submit(actor=people["dana"], version=german_version)
    governance.validator_assign(actor=people["rhea"], version=german_version,
                                validator=people["victor"])
    german_version.refresh_from_db()
    return german_version


@pytest.fixture
def german_data(validating, victor) -> Dataset:
    return evaluation.dataset_upload(actor=victor, model=validating.model,
                                     file=upload(GERMAN_CSV), filename="german_credit.csv",
                                     label_column="good_credit", sensitive_features=SENSITIVE)
