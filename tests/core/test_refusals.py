"""One recorded refusal path (core.audit.refuse): a permission refused by a core or registry
service is in the audit trail whatever door the call came through — a management command or a
worker as much as a page or the API — and exactly once.

Transactional tests: refusals are security events, committed on their own.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core import audit, services, signing
from core.errors import PermissionRefused, Refused
from core.models import AuditEvent
from registry import services as registry_services

REFUSED = "governance.refused"  # the action name predates refuse()'s move to core: kept


def _events(username: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="principal", object_id=username)
                .order_by("seq"))


def test_a_core_service_refusal_outside_any_request_is_recorded(transactional_db, dana):
    """As from a command or a worker: no middleware or API handler is there to record it."""
    with pytest.raises(Refused, match="Only administrators can manage users"):
        services.team_create(actor=dana, name="Shadow", slug="shadow")
    with pytest.raises(Refused, match="Only administrators can create, rotate or revoke"):
        signing.key_rotate(actor=dana, purpose="audit_checkpoint")
    # The minute's first refusal is a chain event at once; the second, of the same kind, is
    # counted and written folded when the minute is over.
    [first] = _events("dana")
    assert (first.action, first.actor_id) == (REFUSED, dana.pk)
    assert first.payload["attempted"] == "team_create"
    assert first.payload["code"] == "permission_denied"
    audit.flush_security_counts(now=timezone.now() + dt.timedelta(minutes=2))
    first, folded = _events("dana")
    assert (folded.action, folded.payload["count"], folded.payload["folded"]) == (REFUSED, 1, True)
    assert folded.payload["attempted"] == "key_rotate"
    assert audit.verify_chain().ok


def test_a_registry_service_refusal_is_recorded_and_filed_under_the_model(transactional_db,
                                                                          dana, aude, teams):
    model = registry_services.model_create(actor=dana, team=teams["credit"], name="Scorecard",
                                           purpose="Approve loans.", decision_type="credit",
                                           task="binary_classification")
    with pytest.raises(PermissionRefused) as refused:
        registry_services.model_update(actor=aude, model=model, purpose="Changed.")
    assert refused.value.recorded
    [event] = _events("aude")
    assert event.action == REFUSED
    assert event.payload["attempted"] == "model_update"
    assert event.model_id == model.pk
    model.refresh_from_db()
    assert model.purpose == "Approve loans."


def test_a_refusal_through_the_api_is_recorded_once(transactional_db, dana, aude, teams, api):
    model = registry_services.model_create(actor=dana, team=teams["credit"], name="Scorecard",
                                           purpose="Approve loans.", decision_type="credit",
                                           task="binary_classification")
    response = api.as_(aude).patch(f"/api/v1/models/{model.slug}/", {"purpose": "Changed."},
                                   format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    # Refused before the input is read (core.api.permissions), recorded there, and only there.
    [event] = _events("aude")
    assert (event.action, event.payload["attempted"], event.payload["count"]) == \
        (REFUSED, "model.partial_update", 1)
