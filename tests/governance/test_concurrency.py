"""Concurrent final sign-offs on PostgreSQL: the version is approved exactly once.

Real transactions (transactional_db) and one thread per signer, released together by a barrier;
the row lock in signoff_record serialises them and the second sees the decision already made.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.errors import Conflict
from core.models import AuditEvent
from governance import services
from registry import services as registry
from registry.models import VersionState
from tests.conftest import PASSWORD
from tests.governance.conftest import ALL_LOW, counting_evidence, required_figures, review_fields


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signers", [2, 4])
def test_concurrent_final_signoffs_approve_once(make_user, dana, victor, rhea, credit_model,
                                                onnx_file, signers):
    assert connection.vendor == "postgresql"
    services.ensure_policy_templates()
    services.intake_record(actor=dana, model=credit_model, is_model=True, answers=ALL_LOW)
    version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    services.version_submit(actor=dana, version=version)
    services.validator_assign(actor=rhea, version=version, validator=victor)
    for check, figures in required_figures(version).items():
        counting_evidence(version, check, figures=figures, launched_by=victor)
    services.review_conclude(actor=victor, version=version, **review_fields(version))
    # Tier 3 needs one risk officer: every signer below would be the final one.
    officers = [make_user(f"ro{i}", "risk_officer") for i in range(signers)]
    barrier = threading.Barrier(signers)
    outcomes: list[str] = []

    def sign(user) -> None:
        try:
            barrier.wait()
            services.signoff_record(actor=user, version=version.__class__.objects.get(
                pk=version.pk), decision="approve", comment="Approved.", password=PASSWORD)
            outcomes.append("signed")
        except Conflict as exc:
            outcomes.append(f"conflict: {exc.message}")
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(u,)) for u in officers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    assert outcomes.count("signed") == 1, outcomes
    assert all("decided meanwhile" in o for o in outcomes if o != "signed"), outcomes
    assert AuditEvent.objects.filter(action="version.approve", object_id=str(version.pk)
                                     ).count() == 1
    assert version.signoffs.count() == 1
