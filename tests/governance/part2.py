"""Helpers of the governance part 2 tests: versions walked to a given point, with or without a
failing evidence check that a waiver lets through."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core import services as accounts
from core.models import Role, User
from governance import services
from governance.models import Finding
from registry import services as registry
from registry.models import ModelVersion
from tests.conftest import PASSWORD
from tests.governance.conftest import ALL_HIGH, Walk, counting_evidence


def version_for(walk: Walk, model, onnx_file, *, answers: dict | None = None) -> ModelVersion:
    """A draft of ``model`` with its intake answered (tier 2 by default, tier 1 for ALL_HIGH)."""
    p = walk.p
    if answers is not None:
        services.intake_record(actor=p["rhea"], model=model, is_model=True, answers=answers)
    return registry.version_create(actor=p["dana"], model=model, artifact=onnx_file())


def in_validation(walk: Walk, version: ModelVersion) -> ModelVersion:
    walk.submit(version)
    walk.assign(version)
    version.refresh_from_db()
    return version


def raise_high(walk: Walk, version: ModelVersion, **kw) -> Finding:
    return services.finding_raise(actor=walk.p["victor"], version=version,
                                  title=kw.pop("title", "Unstable back-test"),
                                  description="AUC drops to 0.61 on the 2022 vintage.",
                                  severity=kw.pop("severity", "high"), **kw)


def approve_with_waived_evidence(walk: Walk, version: ModelVersion, *,
                                 expires_in: dt.timedelta = dt.timedelta(days=30)):
    """Under the strict policy: fairness fails, rhea waives it, the version is approved.
    Returns the waiver."""
    p = walk.p
    in_validation(walk, version)
    walk.evidence(version)
    counting_evidence(version, "fairness", status="failed", figures={"gap": 0.2},
                      launched_by=p["victor"])
    waiver = services.waiver_grant(
        actor=p["rhea"], version=version, check="fairness", reason="Gap under investigation.",
        compensating_controls="Monthly manual review of declines.",
        limits_of_use="Applicants under 25 referred to an officer.",
        expires_at=timezone.now() + expires_in)
    walk.review(version)
    walk.sign(version, "boris")
    # rhea granted the waiver, so she may not sign: a second risk officer does
    services.signoff_record(actor=second_risk_officer(), version=version, decision="approve",
                            comment="rita approves", password=PASSWORD)
    version.refresh_from_db()
    return waiver


def second_risk_officer() -> User:
    """rita, a risk officer other than rhea (whoever grants a waiver on a version does not sign
    it off)."""
    return User.objects.filter(username="rita").first() or accounts.user_create(
        actor=accounts.SYSTEM, username="rita", password=PASSWORD, roles=[Role.RISK_OFFICER],
        teams=[], check_password=False, email="rita@example.org")


__all__ = ["ALL_HIGH", "approve_with_waived_evidence", "in_validation", "raise_high",
           "second_risk_officer", "version_for"]
