"""Prometheus metrics of the site, served at ``/metrics`` when ``ASSAY_METRICS_TOKEN`` is set.

Two kinds, so the figures are right however many processes run:

* **Request metrics** (requests by view and status, latency) are counted in the process that
  answered, by ``RequestMetricsMiddleware``. Under gunicorn with several workers, set
  ``PROMETHEUS_MULTIPROC_DIR`` (``scripts/run`` does) so ``/metrics`` adds every worker's counts.
* **State metrics** (queue lengths, evaluation durations, the audit trail's length, overdue
  reviews, failures by reason) are read from the database at each scrape, so what the workers
  did counts without the workers serving metrics of their own. Each app registers its own
  with :func:`add_state_metric` in its ``AppConfig.ready()``: core cannot import the apps above
  it, and each app knows its tables.

The gateway (serving/gateway/metrics.py) has its own request metrics and honours the same token.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

REQUESTS = Counter("assay_http_requests_total", "Requests answered by the site",
                   ["view", "method", "status"])
LATENCY = Histogram("assay_http_request_duration_seconds", "Time to answer, by view",
                    ["view"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                                       10.0, 30.0))
FAILURES = Counter("assay_failures_total", "Answers of 400 and above, by the error's code "
                   "(the API's and the pages' DomainError codes; 'unavailable' during outages)",
                   ["reason"])

# A scrape reads state metrics from the database: one callable each, registered by the apps.
StateReader = Callable[[], Iterable[Metric]]
_state_readers: list[StateReader] = []


def add_state_metric(reader: StateReader) -> None:
    """Register ``reader``, which yields metric families (``prometheus_client.core``'s
    ``GaugeMetricFamily`` …) read from the database at each scrape."""
    if reader not in _state_readers:
        _state_readers.append(reader)


class _StateCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        for reader in _state_readers:
            yield from reader()


def authorized(authorization: str) -> bool:
    """Whether an ``Authorization`` header carries the configured metrics token
    (``Bearer <ASSAY_METRICS_TOKEN>``); compared in constant time."""
    token = settings.METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    return bool(token) and scheme == "Bearer" and hmac.compare_digest(given.strip(), token)


def exposition(*, with_state: bool) -> tuple[bytes, str]:
    """The metrics text and its content type: this process's (or, with
    ``PROMETHEUS_MULTIPROC_DIR``, every process's) counters, and the database's state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY
        text = generate_latest(REGISTRY)
    if with_state:
        state = CollectorRegistry()
        state.register(_StateCollector())
        text += generate_latest(state)
    return text, CONTENT_TYPE_LATEST


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: off (404) until ``ASSAY_METRICS_TOKEN`` is set; then only for a
    scraper that sends it as ``Authorization: Bearer <token>``."""
    if not settings.METRICS_TOKEN:
        return HttpResponse("Metrics are off: set ASSAY_METRICS_TOKEN and scrape with "
                            "'Authorization: Bearer <token>'.\n", status=404,
                            content_type="text/plain; charset=utf-8")
    if not authorized(request.headers.get("Authorization", "")):
        response = HttpResponse("Send the metrics token as 'Authorization: Bearer <token>'.\n",
                                status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition(with_state=True)
    return HttpResponse(body, content_type=content_type)


def _view_label(request: HttpRequest) -> str:
    """The URL pattern's name, never the raw path (which would make a series per object)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class RequestMetricsMiddleware:
    """Counts every answer by view, method and status, and times it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_label(request)
        if view != "metrics":
            REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
            LATENCY.labels(view).observe(time.perf_counter() - started)
            if response.status_code >= 400:
                FAILURES.labels(failure_reason(response)).inc()
        return response


def failure_reason(response: HttpResponse) -> str:
    """The error's code: the API's error body carries it; the pages' error responses carry it
    as ``error_code`` (core.middleware); otherwise the status says what kind of failure."""
    data: object = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return str(data["code"])
    code: object = getattr(response, "error_code", None)
    if isinstance(code, str):
        return code
    return {401: "not_authenticated", 403: "permission_denied", 404: "not_found",
            405: "method_not_allowed", 503: "unavailable"}.get(
        response.status_code, "server_error" if response.status_code >= 500 else "bad_request")


def audit_metrics() -> Iterator[Metric]:
    """The audit trail's length (its rate is the append rate) and refusals by reason."""
    from prometheus_client.core import CounterMetricFamily

    from core.models import AuditEvent

    appended = CounterMetricFamily("assay_audit_events", "Audit events appended to the chain")
    appended.add_metric([], AuditEvent.objects.aggregate(last=Max("seq"))["last"] or 0)
    yield appended


__all__ = ["FAILURES", "LATENCY", "REQUESTS", "RequestMetricsMiddleware", "add_state_metric",
           "audit_metrics", "authorized", "exposition", "metrics_view"]
