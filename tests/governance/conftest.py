"""Governance fixtures: the shipped policies, a tiered model of the credit team with a draft
version holding a real ONNX artifact, and helpers that walk a version along its lifecycle.

The credit model is owned by dana; victor validates; boris (review board) and rhea (risk officer)
sign off.
"""

from __future__ import annotations

import copy
import hashlib

import pytest
from django.core.cache import cache
from django.db.models import Sum

from core.models.audit import SecurityEventCounter
from governance import services
from governance.gates import case_for
from governance.models import PolicyVersion
from governance.policy import TEMPLATES
from registry import services as registry
from registry.models import ModelVersion, RegisteredModel
from tests.conftest import PASSWORD, approve_policy
from tests.registry.conftest import credit_model, fraud_model, onnx_bytes, onnx_file  # noqa: F401

ALL_LOW = {"exposure": "low", "impact": "low", "regulatory_use": "no", "automation": "low",
           "complexity": "low", "data_sensitivity": "low"}
ALL_HIGH = {"exposure": "high", "impact": "high", "regulatory_use": "yes", "automation": "high",
            "complexity": "high", "data_sensitivity": "high"}
# 3*1 + 3*1 + 0 + 2*1 + 1*1 + 1*1 = 10 points: tier 2 (cut-offs 14 and 7).
MEDIUM = {"exposure": "medium", "impact": "medium", "regulatory_use": "no",
          "automation": "medium", "complexity": "medium", "data_sensitivity": "medium"}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Wrong sign-off passwords count in the sign-in throttle, whose counters live in the
    process-wide cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def refusals(username: str) -> int:
    """Governance refusals of the user so far. Inside a test's transaction core.audit counts
    security events through a connection of its own (they reach the chain at the next flush), so
    count the occurrences rather than the chain's events; compare before and after."""
    return SecurityEventCounter.objects.filter(action="governance.refused", principal=username
                                               ).aggregate(n=Sum("count"))["n"] or 0


def last_refusal(username: str) -> str:
    row = SecurityEventCounter.objects.filter(action="governance.refused", principal=username
                                              ).order_by("-minute").first()
    return row.payload.get("message", "") if row else ""


def digest(text: str = "result") -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def policy(db) -> PolicyVersion:
    """The shipped templates, SR 11-7 current."""
    services.ensure_policy_templates()
    return PolicyVersion.objects.current()


def shipped(slug: str) -> PolicyVersion:
    """The latest shipped revision of the template ``slug`` (installed by the policy fixture)."""
    return PolicyVersion.objects.filter(policy__slug=slug).order_by("-number").first()


def strict_definition() -> dict:
    """SR 11-7 with required evidence in every tier (the evaluation issue's checks)."""
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    for tier in definition["tiers"].values():
        tier["required_evidence"] = [
            {"check": "performance", "metric": "auc", "comparator": ">=", "threshold": 0.7},
            {"check": "fairness"},
        ]
    return definition


@pytest.fixture
def strict_policy(policy, adam) -> PolicyVersion:
    pv = services.policy_version_create(actor=adam, policy_slug="strict", name="Strict",
                                        definition=strict_definition())
    return approve_policy(pv)


@pytest.fixture
def tiered_model(policy, credit_model, dana) -> RegisteredModel:  # noqa: F811
    """The credit model, intake done: a model in tier 2 (review board + risk officer sign)."""
    services.intake_record(actor=dana, model=credit_model, is_model=True, answers=MEDIUM,
                           rationale="A scorecard estimating default probability.")
    return credit_model


@pytest.fixture
def draft(tiered_model, dana, onnx_file) -> ModelVersion:  # noqa: F811
    return registry.version_create(actor=dana, model=tiered_model, artifact=onnx_file(),
                                   changelog="First version.")


class Walk:
    """Moves a version along the happy path, one step per method, through the services."""

    def __init__(self, people: dict) -> None:
        self.p = people

    def submit(self, version: ModelVersion) -> ModelVersion:
        return services.version_submit(actor=self.p["dana"], version=version)

    def assign(self, version: ModelVersion) -> ModelVersion:
        return services.validator_assign(actor=self.p["rhea"], version=version,
                                         validator=self.p["victor"])

    def review(self, version: ModelVersion, conclusion: str = "approve", **kw):
        fields = review_fields(version, conclusion=conclusion, **kw)
        return services.review_conclude(actor=self.p["victor"], version=version, **fields)

    def evidence(self, version: ModelVersion, status: str = "passed", auc: float = 0.8,
                 **overrides) -> None:
        """Evidence that counts for every check the version's policy requires (and the strict
        test policy's performance and fairness): bound to the version's artifact, recorded by
        Assay for a run victor (the validator) launched; ``auc`` and ``overrides`` set
        figures."""
        version.refresh_from_db()
        for check, figures in required_figures(version).items():
            figures.update({"auc": auc, **overrides})
            counting_evidence(version, check, status=status, figures=figures,
                              launched_by=self.p["victor"])

    def sign(self, version: ModelVersion, who: str, decision: str = "approve"):
        return services.signoff_record(actor=self.p[who], version=version, decision=decision,
                                       comment=f"{who} {decision}s", password=PASSWORD)

    def to_pending(self, version: ModelVersion) -> ModelVersion:
        self.submit(version)
        self.assign(version)
        self.evidence(version)
        self.review(version)
        version.refresh_from_db()
        return version


def required_figures(version: ModelVersion) -> dict[str, dict]:
    """Per check the version's policy requires (plus performance and fairness), figures that
    meet every threshold on it."""
    case = case_for(version)
    checks: dict[str, dict] = {"performance": {}, "fairness": {}}
    for need in case.rules.required_evidence if case.rules else ():
        figures = checks.setdefault(need.check, {})
        if need.metric and need.applies_to(case.task):
            step = {">=": 0, ">": 0.01, "<=": 0, "<": -0.01}[need.comparator]
            figures[need.metric] = need.threshold + step
    return checks


def counting_evidence(version: ModelVersion, check: str, *, status: str = "passed",
                      figures: dict | None = None, launched_by=None, **kw):
    """Evidence as an Assay run records it (actor None, on behalf of ``launched_by``), bound to
    the version's artifact unless ``artifact_digest`` says otherwise."""
    kw.setdefault("artifact_digest", version.artifact_sha256)
    return services.evidence_record(version=version, check=check, status=status,
                                    figures=figures or {}, actor=None, launched_by=launched_by,
                                    digest=digest(f"{check}{status}{figures}{kw}"), **kw)


def review_fields(version: ModelVersion, conclusion: str = "approve", **overrides) -> dict:
    version.refresh_from_db()
    return {
        "conceptual_soundness": "Logistic regression on bureau features; sound.",
        "data_quality": "1,000 applications; representative of the portfolio.",
        "outcomes_analysis": "Back-tested on 2023 vintages; AUC 0.78 vs 0.74 for the baseline.",
        "implementation_verification": "Re-scored 500 cases from the artifact: identical.",
        "artifact_sha256": version.artifact_sha256,
        "limitations": "Small sample, dated population.",
        "conclusion": conclusion,
        "conditions": "Refer every decline to a credit officer."
        if conclusion == "approve_with_conditions" else "",
        # The walk's validator is assigned by a risk officer, so attests with the review.
        "independence_attested": True,
        **overrides,
    }


@pytest.fixture
def walk(people) -> Walk:
    return Walk(people)
