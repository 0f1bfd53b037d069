"""Verify now on a large trail: a real Celery worker on RabbitMQ verifies it while the trail page
polls the progress; a small trail is verified within the request."""

from __future__ import annotations

import time
import uuid

import pytest

from core import audit, verification
from core.models import Verification, VerificationStatus
from tests.evaluation.test_worker_kill import start_worker


def test_progress_is_reported_every_chunk(db):
    for i in range(12):
        audit.atomic_record(action="test.event", object_type="thing", object_id=i)
    seen: list[int] = []
    report = audit.verify_chain(chunk_size=5, progress=seen.append)
    assert report.ok and seen == [5, 10]


def test_a_small_trail_is_verified_within_the_request(client, aude):
    client.force_login(aude)
    response = client.post("/audit/verify/", follow=True)
    assert b"OK: chain intact" in response.content
    assert not Verification.objects.exists()


@pytest.mark.worker
def test_a_large_trail_is_verified_on_a_worker_whose_progress_the_page_polls(
        transactional_db, client, aude, settings, monkeypatch, tmp_path):
    from config.celery import app

    settings.VERIFY_INLINE_MAX = 0  # every trail counts as large here
    for i in range(30):
        audit.atomic_record(action="test.event", object_type="thing", object_id=i)
    queue = f"verify-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(verification, "verification_queue", lambda pk: app.send_task(
        verification.VERIFY_TASK, args=[pk], queue=queue))
    client.force_login(aude)
    response = client.post("/audit/verify/", {"query": "action=test."}, follow=True)
    assert response.redirect_chain[-1][0] == "/audit/?action=test."
    job = Verification.objects.get()
    html = response.content.decode()
    assert "on a worker" in html and f'hx-get="/audit/verify/{job.pk}/"' in html
    assert job.status == VerificationStatus.QUEUED and job.total >= 30

    worker = start_worker("verify", queue, tmp_path)
    try:
        deadline = time.monotonic() + 90
        while not Verification.objects.get().is_finished and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    job.refresh_from_db()
    assert job.status == VerificationStatus.PASSED, job.summary
    assert job.checked == job.total and "OK: chain intact" in job.summary
    polled = client.get(f"/audit/verify/{job.pk}/").content.decode()
    assert "OK: chain intact" in polled and "hx-trigger" not in polled  # polling stops


def test_polling_an_unknown_verification_is_a_404(client, aude):
    client.force_login(aude)
    assert client.get("/audit/verify/999999/").status_code == 404


def test_the_progress_partial_polls_while_running(client, aude):
    from django.utils import timezone

    job = Verification.objects.create(requested_by=aude, requested_at=timezone.now(),
                                      total=1000, checked=250,
                                      status=VerificationStatus.RUNNING)
    client.force_login(aude)
    html = client.get(f"/audit/verify/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html and "250 of 1,000 events" in html
    assert 'value="25"' in html
