"""Governance's state metrics for ``/metrics`` (core.metrics): overdue periodic reviews, open
findings by severity, versions by state, and emails waiting in the outbox. Read from the
database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from governance.models import Finding, Notification, VersionGovernance
from registry.models import ModelVersion


def governance_metrics() -> Iterator[Metric]:
    today = timezone.localdate()
    overdue = GaugeMetricFamily("assay_reviews_overdue",
                                "Approved versions whose periodic review is past due")
    overdue.add_metric([], VersionGovernance.objects.review_overdue(today).count())
    yield overdue

    findings = GaugeMetricFamily("assay_findings_open", "Unresolved findings, by severity",
                                 labels=["severity"])
    for row in Finding.objects.unresolved().values("severity").annotate(n=Count("pk")):
        findings.add_metric([row["severity"]], row["n"])
    yield findings

    findings_overdue = GaugeMetricFamily("assay_findings_overdue",
                                         "Unresolved findings past their due date")
    findings_overdue.add_metric([], Finding.objects.overdue(today).count())
    yield findings_overdue

    versions = GaugeMetricFamily("assay_versions", "Model versions, by lifecycle state",
                                 labels=["state"])
    for row in ModelVersion.objects.values("state").annotate(n=Count("pk")):
        versions.add_metric([row["state"]], row["n"])
    yield versions

    outbox = GaugeMetricFamily("assay_email_outbox_pending",
                               "Notification emails not yet sent or given up")
    outbox.add_metric([], Notification.objects.filter(emailed=True, email_done_at__isnull=True)
                      .count())
    yield outbox
