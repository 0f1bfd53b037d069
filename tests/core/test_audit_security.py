"""Security events: committed on their own, folded per (principal, reason, minute).

Transactional tests: ``record_security`` commits on its own, which a test wrapped in one
transaction could not show.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import audit, tasks
from core.models import AuditEvent
from core.models.audit import SecurityEventCounter
from tests.conftest import PASSWORD

LATER = dt.timedelta(minutes=2)


def _events(principal: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="principal", object_id=principal)
                .order_by("seq"))


def _minutes_spanned(events: list[AuditEvent]) -> int:
    return len({e.payload["minute"] for e in events})


def _backdate_counters() -> None:
    """Make every open counter's minute be over, as if the clock had moved on."""
    for counter in SecurityEventCounter.objects.all():
        SecurityEventCounter.objects.filter(pk=counter.pk).update(
            minute=counter.minute - LATER)


def test_flood_of_failed_logins_is_folded(transactional_db, dana, client):
    """100 failed logins: a handful of chain events whose counts add up to 100."""
    cache.clear()  # login throttling counters from other tests
    for _ in range(100):
        response = client.post("/login/", {"username": "dana", "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    during = _events("dana")
    keys = {(e.action, e.payload["reason"]) for e in during}
    assert keys <= {("auth.login_failed", "bad_credentials"), ("auth.login_throttled", "throttled")}
    # At most one immediate event per key and minute while the minute lasts. (If the flood
    # straddles a minute boundary, the first minute's rest is already folded in `during` too.)
    immediate = [e for e in during if not e.payload.get("folded")]
    assert len(immediate) <= len(keys) * _minutes_spanned(during)
    audit.flush_security_counts(now=timezone.now() + LATER)
    after = _events("dana")
    assert len(after) <= 2 * len(keys) * _minutes_spanned(after)
    totals = Counter()
    for event in after:
        totals[event.action] += event.payload["count"]
        assert event.payload["principal"] == "dana"
        assert event.payload["ip"] == "127.0.0.1"
    failures = settings.LOGIN_FAILURES_PER_ACCOUNT
    assert totals == {"auth.login_failed": failures, "auth.login_throttled": 100 - failures}
    assert not SecurityEventCounter.objects.exists()
    assert audit.verify_chain().ok
    # The right password still works after the throttle window (not part of the flood's count).
    cache.clear()
    assert client.post("/login/", {"username": "dana", "password": PASSWORD}).status_code == 302


def test_direct_flood_costs_at_most_two_events_per_minute(transactional_db):
    for i in range(100):
        audit.record_security(action="security.permission_denied", principal="eve",
                              reason="permission_denied", payload={"path": f"/x/{i}"})
    first = _events("eve")
    assert 1 <= len(first) <= _minutes_spanned(first)
    assert first[0].payload["count"] == 1 and first[0].payload["path"] == "/x/0"
    assert "folded" not in first[0].payload
    assert audit.flush_security_counts(now=timezone.now() + LATER) >= 1
    events = _events("eve")
    assert len(events) <= 2 * _minutes_spanned(events)
    assert sum(e.payload["count"] for e in events) == 100
    folded = [e for e in events if e.payload.get("folded")]
    assert folded and folded[-1].payload["path"] == "/x/99"  # the latest occurrence's details
    assert audit.flush_security_counts(now=timezone.now() + LATER) == 0  # nothing left twice


def test_folded_count_is_written_at_the_next_occurrence_after_the_minute(transactional_db):
    for _ in range(3):
        audit.record_security(action="auth.login_failed", principal="mallory",
                              reason="bad_credentials")
    _backdate_counters()
    audit.record_security(action="auth.login_failed", principal="mallory",
                          reason="bad_credentials")
    counts = [(e.payload["count"], e.payload.get("folded", False)) for e in _events("mallory")]
    # first of the old minute, its folded rest, then the first of the new minute
    assert counts[-3:] == [(1, False), (2, True), (1, False)] or \
        sum(c for c, _ in counts) == 4  # (a minute boundary crossed during the loop)
    assert sum(c for c, _ in counts) == 4


def test_beat_task_writes_folded_counts(transactional_db):
    for _ in range(5):
        audit.record_security(action="auth.login_failed", principal="trudy",
                              reason="bad_credentials", payload={"ip": "10.0.0.1"})
    assert "core.tasks.flush_security_counts" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    _backdate_counters()
    assert tasks.flush_security_counts() >= 1
    assert sum(e.payload["count"] for e in _events("trudy")) == 5
    assert not SecurityEventCounter.objects.exists()


def test_denial_inside_a_rolled_back_transaction_stays_recorded(transactional_db, dana):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(action="test.change", actor=dana, payload={})
        audit.record_security(action="security.permission_denied", principal="dana",
                              reason="permission_denied", actor=dana, payload={"path": "/p/"})
        raise RuntimeError("the request fails and rolls back")
    assert not AuditEvent.objects.filter(action="test.change").exists()
    counter = SecurityEventCounter.objects.get(principal="dana")
    assert (counter.count, counter.recorded) == (1, 0)
    audit.flush_security_counts(now=timezone.now() + LATER)
    [event] = _events("dana")
    assert event.action == "security.permission_denied"
    assert event.actor_id == dana.pk and event.actor_username == "dana"
    assert event.payload == {"path": "/p/", "principal": "dana", "reason": "permission_denied",
                             "count": 1, "minute": event.payload["minute"], "folded": True}
    assert audit.verify_chain().ok


def test_permission_denial_through_the_api_is_recorded(transactional_db, dana, api):
    response = api.as_(dana).get("/api/v1/audit/verify/")
    assert response.status_code == 403
    [event] = _events("dana")
    assert event.action == "security.permission_denied"
    assert event.actor_id == dana.pk
    assert event.payload["count"] == 1
    assert event.payload["path"] == "/api/v1/audit/verify/"
    assert event.payload["method"] == "GET"
    assert event.request_id == response["X-Request-ID"]


def test_a_denial_by_a_drf_permission_class_is_recorded(transactional_db, frank, api):
    response = api.as_(frank).post("/api/v1/audit/export/", {}, format="json")
    assert response.status_code == 403
    [event] = _events("frank")
    assert event.action == "security.permission_denied"
    assert event.payload["path"] == "/api/v1/audit/export/"


def test_a_refusal_the_service_recorded_is_not_recorded_again(transactional_db, dana, api):
    from core.errors import PermissionRefused

    class AlreadyRecorded(PermissionRefused):
        recorded = True

    from rest_framework.test import APIRequestFactory

    from core.api.errors import exception_handler

    request = APIRequestFactory().get("/api/v1/anything/")
    request.user = dana
    response = exception_handler(AlreadyRecorded("no"), {"request": request})
    assert response.status_code == 403
    assert not _events("dana")


def test_a_folded_event_carries_no_request_id_of_its_own(transactional_db):
    for _ in range(3):
        audit.record_security(action="auth.login_failed", principal="mallory",
                              reason="bad_credentials", payload={"ip": "10.0.0.1"})
    _backdate_counters()
    token = audit.current_request_id.set("request-of-someone-else-42")
    try:
        audit.record_security(action="auth.login_failed", principal="zed",
                              reason="bad_credentials", payload={"ip": "10.0.0.2"})
    finally:
        audit.current_request_id.reset(token)
    [_first, folded] = _events("mallory")
    assert folded.payload["folded"] is True and folded.payload["count"] == 2
    assert folded.request_id == ""
    [zed] = _events("zed")
    assert zed.request_id == "request-of-someone-else-42"
