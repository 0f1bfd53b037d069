"""The demo's vendor model: a credit bureau's hosted score, with no ONNX form, taken through the
validation path without an artifact (docs/no-artifact-models.md).

The vendor's score is a points scorecard over the German credit applications
(registry/demo/german_credit.csv): the kind of table a bureau licenses, written out here so the
demo's predictions file is reproducible. Its probability of good credit per applicant, beside the
actual outcome and the sensitive columns, is the predictions file the outcomes analysis scores.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pandas as pd

from core.models import Team, User
from evaluation import services as evaluation
from evaluation.models import Run
from governance import services as governance
from governance.models import ModelIntake, VersionGovernance
from governance.policy import DEFAULT_DUE_DILIGENCE
from registry import services as registry
from registry.demo.train_german_credit import DATA_PATH
from registry.models import RegisteredModel

VENDOR_MODEL_SLUG = "bureau-credit-score"
# Points per answer (missing: 0); the total, less the offset, through a logistic curve.
SCORECARD: dict[str, dict[str, float]] = {
    "status": {"no checking account": 40, "... >= 200 DM / salary assignments for at least 1 year":
               25, "0 <= ... < 200 DM": 5, "... < 0 DM": -20},
    "credit_history": {"critical account/ other credits existing (not at this bank)": 20,
                       "existing credits paid back duly till now": 5,
                       "delay in paying off in the past": -5,
                       "all credits at this bank paid back duly": -20,
                       "no credits taken/ all credits paid back duly": -25},
    "savings": {"unknown/ no savings account": 15, ".. >= 1000 DM": 20,
                "500 <= ... < 1000 DM": 10, "100 <= ... < 500 DM": 0, "... < 100 DM": -5},
}
OFFSET, SCALE = -25.0, 20.0
ANSWERS = {
    "financial_soundness": "Audited 2025 accounts reviewed by Treasury: investment grade.",
    "model_documentation": "Methodology paper v4.2 and the score's data dictionary received.",
    "vendor_validation": "The vendor's 2025 validation report (Gini 0.52 on 2024 vintages).",
    "privacy_security": "DPIA completed; SOC 2 Type II report 2025 reviewed by InfoSec.",
    "ongoing_support": "Support under the MSA, 30 days' notice of any model change.",
    "right_to_audit": "MSA clause 14: audit of the model and its data on 60 days' notice.",
}


def bureau_scores(frame: pd.DataFrame) -> np.ndarray:
    """The vendor's probability of good credit per applicant."""
    points = sum((frame[column].map(table).fillna(0.0) for column, table in SCORECARD.items()),
                 start=pd.Series(0.0, index=frame.index))
    points = points - 0.4 * frame["duration"] - 0.002 * frame["credit_amount"]
    return np.asarray(1 / (1 + np.exp(-(points - OFFSET) / SCALE)), dtype=np.float64)


def predictions_csv(path: Any = DATA_PATH) -> bytes:
    """The predictions file: the outcome, the vendor's score and the sensitive columns."""
    frame = pd.read_csv(path)
    out = frame[["good_credit", "sex", "age", "foreign_worker"]].assign(
        bureau_score=bureau_scores(frame).round(6))
    return out.to_csv(index=False).encode()


def _named(content: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f


def load_vendor_model(*, dana: User, victor: User, rhea: User, team: Team
                      ) -> RegisteredModel | None:
    """Register the vendor model and take its version 1 into validation, with its documentation,
    due diligence answered and accepted, and an outcomes analysis run (on this process: the demo
    needs no worker). Idempotent: nothing happens when the model exists."""
    if RegisteredModel.objects.filter(slug=VENDOR_MODEL_SLUG).exists():
        return None
    model = registry.model_create(
        actor=dana, team=team, slug=VENDOR_MODEL_SLUG, name="Bureau credit score (vendor)",
        purpose="A credit bureau's score of each applicant's probability of good credit, "
                "called over the bureau's API as a second opinion beside the in-house scorecard.",
        intended_use="A second opinion on consumer credit applications up to 20,000 DM.",
        decision_type="credit", task="binary_classification", business_line="Retail lending",
        sourcing="vendor", vendor_name="Northwind Credit Bureau", artifact_form="vendor_api",
        contract_reference="MSA-2026-114", contract_start=dt.date(2026, 1, 1),
        contract_end=dt.date(2028, 12, 31), renewal_date=dt.date(2028, 10, 1),
        sla_terms="99.9% monthly availability; p99 latency 2 s; 30 days' notice of changes.",
        contingency_plan="If the API fails or the contract ends: decide on the in-house German "
                         "credit scorecard alone, refer borderline cases to a credit officer; "
                         "exit within 90 days of notice.",
        known_limitations="Opaque beyond the vendor's documentation; no artifact to test.",
        tags=["vendor", "demo"])
    registry.vendor_document_add(
        actor=dana, model=model, filename="northwind-methodology.md", document=_named(
            b"# Northwind bureau score: methodology (demo)\n\nA points scorecard over account "
            b"status, credit history, savings, duration and amount.\n", "methodology.md"))
    governance.intake_record(actor=dana, model=model, is_model=True, rationale=(
        "A quantitative score used in credit decisions."), answers={
        "exposure": "medium", "impact": "medium", "regulatory_use": "no",
        "automation": "medium", "complexity": "medium", "data_sensitivity": "medium"})
    version = registry.version_create(actor=dana, model=model, changelog="Bureau release 2026.1.")
    governance.version_submit(actor=dana, version=version)
    governance.validator_assign(actor=rhea, version=version, validator=victor)
    version.refresh_from_db()
    for item in DEFAULT_DUE_DILIGENCE:
        governance.diligence_answer(actor=dana, model=model, item=item["key"],
                                    answer=ANSWERS.get(item["key"], "Evidence on file."),
                                    evidence_reference="Vendor due-diligence pack 2026")
        governance.diligence_review(actor=victor, version=version, item=item["key"],
                                    decision="accepted")
    dataset = evaluation.dataset_upload(
        actor=victor, model=model, file=_named(predictions_csv(), "bureau_scores.csv"),
        filename="bureau_scores.csv", name="Bureau scores on German credit",
        label_column="good_credit", predictions_column="bureau_score",
        sensitive_features=[{"column": "sex"},
                            {"column": "age", "bins": {"edges": [25, 60],
                                                       "labels": ["<25", "25 to <60", "≥60"]}}])
    run = evaluation.run_launch(actor=victor, version=version, dataset=dataset)
    evaluation.run_execute(run_id=run.pk, task_id="load_demo", worker="load_demo")
    assert Run.objects.get(pk=run.pk).status == "succeeded"  # noqa: S101 - the demo must be real
    assert ModelIntake.objects.filter(model=model).exists()  # noqa: S101
    assert VersionGovernance.objects.filter(version=version).exists()  # noqa: S101
    return model
