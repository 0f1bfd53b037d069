"""Refusals in the audit trail: each kind of refusal has its own reason code, so folding a flood
of them per minute groups like with like; and the sign-off password re-entry is throttled like a
sign-in."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from core.errors import PermissionRefused
from core.models.audit import SecurityEventCounter
from governance import services
from registry.models import VersionState
from tests.governance.conftest import review_fields

pytestmark = pytest.mark.django_db


def counts_by_reason(username: str) -> dict[str, int]:
    rows = (SecurityEventCounter.objects.filter(action="governance.refused", principal=username)
            .values("reason").annotate(n=Sum("count")))
    return {row["reason"]: row["n"] for row in rows}


def messages_by_reason(username: str) -> dict[str, str]:
    return {row.reason: row.payload["message"] for row in SecurityEventCounter.objects.filter(
        action="governance.refused", principal=username)}


def test_each_kind_of_refusal_is_folded_under_its_own_code(walk, draft, boris, rhea, victor):
    with pytest.raises(PermissionRefused):
        services.version_submit(actor=rhea, version=draft)  # not on the model's team
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    for _ in range(2):
        with pytest.raises(PermissionRefused):
            walk.sign(draft, "boris")
    with pytest.raises(PermissionRefused):
        walk.sign(draft, "victor")  # holds no signing role

    assert counts_by_reason("rhea") == {"not_model_team": 1}
    assert counts_by_reason("boris") == {"already_signed": 2}
    assert counts_by_reason("victor") == {"wrong_role": 1}
    assert "already signed" in messages_by_reason("boris")["already_signed"]
    draft.refresh_from_db()
    assert draft.state == VersionState.PENDING_APPROVAL


def test_a_validator_who_is_not_a_reviewer_and_a_wrong_role_fold_apart(walk, draft, rhea,
                                                                       aude):
    walk.submit(draft)
    walk.assign(draft)
    with pytest.raises(PermissionRefused):
        services.review_conclude(actor=rhea, version=draft, **review_fields(draft))
    with pytest.raises(PermissionRefused):
        services.version_transition(version=draft, to=VersionState.CHANGES_REQUESTED,
                                    actor=rhea, reason="More tests.")
    assert counts_by_reason("rhea") == {"wrong_role": 2}
    with pytest.raises(PermissionRefused):
        services.intake_record(actor=aude, model=draft.model, is_model=False,
                               rationale="A report.")
    assert counts_by_reason("aude") == {"read_only": 1}
