"""Prometheus metrics of the gateway, served at ``/metrics``.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``scripts/run`` does) so
``/metrics`` adds up every worker's counts instead of showing the one worker that answered.
With ``ASSAY_METRICS_TOKEN`` set, ``/metrics`` answers only a scraper that sends it as
``Authorization: Bearer <token>`` (core.metrics.authorized), as the site's does.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from core import metrics as core_metrics

REQUESTS = Counter("assay_gateway_requests_total", "Prediction requests answered",
                   ["endpoint", "version", "status"])
LATENCY = Histogram("assay_gateway_request_duration_seconds",
                    "Time from request to response, prediction requests",
                    ["endpoint", "version"],
                    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                             2.5))
ERRORS = Counter("assay_gateway_errors_total", "Prediction requests refused, by reason",
                 ["endpoint", "version", "reason"])
SHADOW = Counter("assay_gateway_shadow_predictions_total", "Shadow predictions, by outcome",
                 ["endpoint", "version", "outcome"])
LOG_DROPPED = Counter("assay_gateway_log_dropped_total",
                      "Prediction log entries dropped because the writer fell behind")


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type (the site's exposition, without its database
    state: the gateway answers applications, not operators' questions about the inventory)."""
    return core_metrics.exposition(with_state=False)
