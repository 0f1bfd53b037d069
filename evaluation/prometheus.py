"""Evaluation's state metrics for ``/metrics`` (core.metrics): the queue (runs queued and
running, the intent stored in the database, so a broker outage shows as a growing queue) and how
long finished runs took, as a cumulative histogram. Read from the database at each scrape, so the
workers' work counts without the workers serving metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from evaluation.models import Run, RunStatus

DURATION_BUCKETS_S = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)


def evaluation_metrics() -> Iterator[Metric]:
    runs = GaugeMetricFamily("assay_evaluation_runs", "Evaluation runs, by status (queued and "
                             "running are the queue)", labels=["status"])
    counts = dict(Run.objects.values_list("status").annotate(n=Count("pk")))
    for status in RunStatus.values:
        runs.add_metric([status], counts.get(status, 0))
    yield runs

    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    finished = Run.objects.filter(status=RunStatus.SUCCEEDED, started_at__isnull=False,
                                  finished_at__isnull=False).annotate(took=took)
    buckets = {f"le_{b}": Count("pk", filter=Q(took__lte=dt.timedelta(seconds=b)))
               for b in DURATION_BUCKETS_S}
    row = finished.aggregate(n=Count("pk"), total=Sum("took"), **buckets)
    total = row["total"].total_seconds() if row["total"] else 0.0
    durations = HistogramMetricFamily(
        "assay_evaluation_duration_seconds", "Time from start to finish of succeeded runs")
    durations.add_metric(
        [], [(str(float(b)), row[f"le_{b}"]) for b in DURATION_BUCKETS_S]
        + [("+Inf", row["n"])], sum_value=total)
    yield durations
