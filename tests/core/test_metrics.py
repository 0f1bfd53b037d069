"""The site's /metrics: off until a token is set, then only for a scraper that sends it; requests
by view and status with their latency, failures by reason, and the database's state (the queue,
evaluation durations, the audit trail's length, overdue reviews, open findings, the outbox)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Max
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import AuditEvent
from evaluation.models import Run, RunStatus
from tests.evaluation.conftest import (  # noqa: F401 (fixtures)
    demo_onnx,
    evaluation_policy,
    german_data,
    german_model,
    german_version,
    validating,
)

TOKEN = "scrape-secret-0123456789"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(response.content.decode())
                for s in family.samples}
    return read


def value(samples, name, **labels) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == want for k, want in labels.items()))


def test_metrics_are_off_until_a_token_is_set_and_then_need_it(db, client, settings):
    settings.METRICS_TOKEN = ""
    off = client.get("/metrics")
    assert off.status_code == 404 and b"set ASSAY_METRICS_TOKEN" in off.content
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_requests_are_counted_by_view_and_status_with_their_latency(db, client, dana, scrape):
    before = scrape()
    client.force_login(dana)
    client.get("/models/")
    client.get("/models/no-such-model/")
    after = scrape()
    for name, status in (("registry:model-list", "200"), ("registry:model-detail", "404")):
        grew = (value(after, "assay_http_requests_total", view=name, status=status)
                - value(before, "assay_http_requests_total", view=name, status=status))
        assert grew == 1, (name, status)
    assert value(after, "assay_http_request_duration_seconds_count",
                 view="registry:model-list") >= 1
    assert value(after, "assay_http_requests_total", view="metrics") == 0  # scrapes not counted


def test_failures_are_counted_by_the_errors_code(db, client, api, dana, aude, scrape):
    before = scrape()
    api.as_(aude).post("/api/v1/models/", {"name": "x"}, format="json")  # auditors change nothing
    api.as_(dana).post("/api/v1/models/", {"name": ""}, format="json")    # invalid input
    after = scrape()
    for reason in ("permission_denied", "invalid"):
        assert (value(after, "assay_failures_total", reason=reason)
                - value(before, "assay_failures_total", reason=reason)) >= 1, reason


def test_the_database_state_is_read_at_each_scrape(german_data, victor, scrape):  # noqa: F811
    from evaluation import services as evaluation

    version = german_data.model.versions.get()
    first = evaluation.run_launch(actor=victor, version=version, dataset=german_data)
    second = evaluation.run_launch(actor=victor, version=version, dataset=german_data)
    started = timezone.now() - dt.timedelta(seconds=40)
    Run.objects.filter(pk=second.pk).update(status=RunStatus.SUCCEEDED, started_at=started,
                                            finished_at=started + dt.timedelta(seconds=20))
    samples = scrape()
    assert value(samples, "assay_evaluation_runs", status="queued") == 1
    assert value(samples, "assay_evaluation_runs", status="succeeded") == 1
    assert value(samples, "assay_evaluation_duration_seconds_bucket", le="15.0") == 0
    assert value(samples, "assay_evaluation_duration_seconds_bucket", le="30.0") == 1
    assert value(samples, "assay_evaluation_duration_seconds_sum") == pytest.approx(20)
    assert value(samples, "assay_audit_events_total") == \
        AuditEvent.objects.aggregate(m=Max("seq"))["m"]
    assert value(samples, "assay_versions", state="in_validation") == 1
    assert ("assay_reviews_overdue", ()) in samples
    assert ("assay_email_outbox_pending", ()) in samples
    assert first.pk != second.pk
