"""The gateway's WSGI application: ``POST /predict/<endpoint>``, ``GET /metrics``, ``GET /healthz``.

No Django request handling or middleware on the hot path: a request is authenticated against the
worker's servability view (``view.Snapshot``, refreshed in the background), rate limited, routed
(primary or canary, deterministically per routing key), validated against the version's input
schema and answered by the version's cached onnxruntime session. No database access, hashing of
artifacts or signature checks per request. Errors have the API's shape
(``core.errors.error_body``); a version the gateway cannot prove approved is a 503 with the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from django.conf import settings

from core import metrics as core_metrics
from core.errors import error_body
from serving.appkeys import parse_key
from serving.gateway import metrics
from serving.gateway.loading import Loaded, Refused
from serving.gateway.payload import PayloadError, parse
from serving.gateway.predlog import Writer
from serving.gateway.ratelimit import LimiterUnavailable, RateLimiter
from serving.gateway.view import Refresher, Route, Snapshot
from serving.models import PredictionRole

logger = logging.getLogger("assay.gateway")
request_log = logging.getLogger("assay.gateway.requests")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
STATUS_TEXT = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized",
               403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed",
               413: "413 Content Too Large", 429: "429 Too Many Requests",
               503: "503 Service Unavailable"}
SHADOW_QUEUE_MAX = 1000


class Answer(Exception):
    """A response other than a prediction, raised anywhere on the request path."""

    def __init__(self, status: int, detail: str, code: str, *,
                 fields: dict[str, list[str]] | None = None, reason: str = "",
                 headers: list[tuple[str, str]] | None = None, version: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code
        self.fields, self.headers = fields or {}, headers or []
        self.reason = reason or code
        self.version = version


def canary_share(routing_key: str | None, secret: bytes) -> int:
    """Where a request falls in 0-99: the HMAC-SHA256 of its routing key under the server's
    secret (the same key always lands on the same side), or random without a key."""
    if routing_key is None:
        return random.randrange(100)  # noqa: S311  (traffic sharing, not a secret)
    digest = hmac.new(secret, routing_key.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def predictions(loaded: Loaded, feed: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Run the session; one object per row, one key per model output."""
    outputs = loaded.session.run(None, feed)
    columns = [out.tolist() if isinstance(out, np.ndarray) else out for out in outputs]
    return [dict(zip(loaded.output_names, row, strict=True)) for row in zip(*columns, strict=True)]


class Gateway:
    """One gateway worker's application (its servability view, limiter, log writer, shadow
    thread are per process)."""

    def __init__(self, refresher: Refresher | None = None, writer: Writer | None = None) -> None:
        self.refresher = refresher or Refresher()
        self.limiter = RateLimiter(settings.GATEWAY_REDIS_URL)
        self.log = writer or Writer()
        self.secret = settings.GATEWAY_ROUTING_SECRET.encode()
        self.shadow_queue: list[tuple[Route, Loaded, dict[str, Any]]] = []
        self.shadow_ready = threading.Condition()
        self.shadow_pid = 0

    # --- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.refresher.ensure_running()
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/predict/"):
            return self.predict(environ, start_response, path[len("/predict/"):].strip("/"))
        if path == "/metrics" and method == "GET":
            if settings.METRICS_TOKEN and not core_metrics.authorized(
                    environ.get("HTTP_AUTHORIZATION", "")):
                return self._json(start_response, 401, error_body(
                    "Send the metrics token as 'Authorization: Bearer <token>'.",
                    "not_authenticated"))
            body, content_type = metrics.exposition()
            start_response("200 OK", [("Content-Type", content_type),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path == "/healthz" and method == "GET":
            snapshot = self.refresher.snapshot
            fresh = snapshot is not None and not snapshot.problem and \
                snapshot.age_ms() <= settings.GATEWAY_STALE_MS
            return self._json(start_response, 200 if fresh else 503, {
                "status": "ok" if fresh else "stale",
                "endpoints": sorted(snapshot.routes) if snapshot else []})
        return self._json(start_response, 404, error_body(
            f"There is nothing at {path}. Predictions are POST /predict/<endpoint>.", "not_found"))

    def _json(self, start_response: StartResponse, status: int, body: dict[str, Any],
              headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        data = json.dumps(body, default=_json_default, separators=(",", ":")).encode()
        start_response(STATUS_TEXT[status], [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(data))),
                                             *(headers or [])])
        return [data]

    # --- predictions --------------------------------------------------------------------------
    def predict(self, environ: dict[str, Any], start_response: StartResponse,
                slug: str) -> list[bytes]:
        started = time.perf_counter()
        request_id = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
        key_prefix, version_label = "", ""
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise Answer(405, "Predictions are made with POST.", "method_not_allowed",
                             headers=[("Allow", "POST")])
            key_prefix = self._authenticate(environ, slug)
            route = self._route(slug)
            body = self._body(environ)
            target, role = self._choose(route, body)
            version_label = f"{target.model_slug} v{target.number}"
            try:
                parsed = parse(body, target.input_specs, max_rows=settings.GATEWAY_MAX_BATCH_ROWS)
            except PayloadError as exc:
                raise Answer(400, str(exc), "invalid", fields=exc.fields,
                             reason="invalid_payload", version=version_label) from None
            predicted = predictions(target, parsed.feed)
        except Answer as answer:
            metrics.ERRORS.labels(slug, answer.version, answer.reason).inc()
            metrics.REQUESTS.labels(slug, answer.version, str(answer.status)).inc()
            self._request_log(request_id, slug, answer.version, key_prefix, answer.status,
                              started, reason=answer.reason)
            return self._json(start_response, answer.status,
                              error_body(answer.detail, answer.code, answer.fields),
                              [("X-Request-Id", request_id), *answer.headers])
        elapsed = time.perf_counter() - started
        if random.random() < settings.GATEWAY_LOG_SAMPLE_RATE:  # noqa: S311  (sampling)
            records = parsed.records()
            self._log(route.slug, target, role, request_id, key_prefix, records, predicted, elapsed)
            if isinstance(route.shadow, Loaded):
                self._shadow(route, route.shadow, {"feed": parsed.feed, "records": records,
                                                   "request_id": request_id,
                                                   "key_prefix": key_prefix})
        metrics.LATENCY.labels(slug, version_label).observe(elapsed)
        metrics.REQUESTS.labels(slug, version_label, "200").inc()
        self._request_log(request_id, slug, version_label, key_prefix, 200, started,
                          role=role, rows=parsed.rows)
        return self._json(start_response, 200, {
            "endpoint": route.slug, "model": target.model_slug, "version": target.number,
            "version_id": target.version_id, "artifact_sha256": target.artifact_sha256,
            "attestation": {"id": target.attestation_id, "sha256": target.attestation_sha256},
            "role": role, "predictions": predicted,
        }, [("X-Request-Id", request_id)])

    def _snapshot(self) -> Snapshot:
        snapshot = self.refresher.snapshot
        if snapshot is None:
            self.refresher.ready.wait(settings.GATEWAY_STALE_MS / 1000)
            snapshot = self.refresher.snapshot
        if snapshot is None or snapshot.age_ms() > settings.GATEWAY_STALE_MS:
            raise Answer(503, "The gateway cannot confirm what it may serve (its view of the "
                         "database is out of date); nothing is served until it can.", "unavailable",
                         reason="stale_view")
        return snapshot

    def _authenticate(self, environ: dict[str, Any], slug: str) -> str:
        snapshot = self._snapshot()
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, presented = header.partition(" ")
        parsed = parse_key(presented.strip()) if scheme.lower() == "bearer" else None
        entry = snapshot.keys.get(parsed[0]) if parsed else None
        if parsed is None or entry is None or not hmac.compare_digest(
                entry.digest, hashlib.sha256(parsed[1].encode()).hexdigest()):
            raise Answer(401, "Send a valid application key: Authorization: Bearer "
                         "assay_app_<...>. Keys are created by deployers on the application "
                         "keys page; a revoked key no longer works.", "not_authenticated",
                         reason="bad_key", headers=[("WWW-Authenticate", "Bearer")])
        if slug not in entry.endpoints:
            raise Answer(403, f"This application key may not call endpoint {slug!r}; ask a "
                         "deployer to add the endpoint to the key.", "permission_denied",
                         reason="key_scope")
        try:
            wait = self.limiter.retry_after(entry.prefix, entry.rate_limit)
        except LimiterUnavailable as exc:
            raise Answer(503, f"{exc}; requests are refused until it is back.", "unavailable",
                         reason="rate_limiter") from None
        if wait:
            raise Answer(429, f"This application key may make {entry.rate_limit} requests per "
                         f"second; wait {wait} s and retry.", "throttled", reason="rate_limited",
                         headers=[("Retry-After", str(wait))])
        return entry.prefix

    def _route(self, slug: str) -> Route:
        snapshot = self._snapshot()
        if snapshot.problem:
            raise Answer(503, snapshot.problem, "unavailable", reason="trust_file")
        route = snapshot.routes.get(slug)
        if route is None:
            raise Answer(404, f"There is no endpoint {slug!r}.", "not_found", reason="no_endpoint")
        if route.suspended:
            raise Answer(503, f"Endpoint {slug!r} is suspended; a deployer can reactivate it.",
                         "unavailable", reason="endpoint_suspended")
        return route

    def _body(self, environ: dict[str, Any]) -> bytes:
        limit = settings.GATEWAY_MAX_BODY_BYTES
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise Answer(400, "Content-Length is not a number.", "invalid", reason="bad_length")
        if length > limit:
            raise Answer(413, f"The body has {length} bytes; a request may carry {limit}. Split "
                         "the batch.", "too_large", reason="too_large")
        return environ["wsgi.input"].read(length) if length else b""

    def _choose(self, route: Route, body: bytes) -> tuple[Loaded, str]:
        role, target = PredictionRole.PRIMARY, route.primary
        if route.canary is not None and route.canary_percent and canary_share(
                self._routing_key(body), self.secret) < route.canary_percent:
            role, target = PredictionRole.CANARY, route.canary
        if isinstance(target, Refused):
            raise Answer(503, f"{target.reason} Nothing is served in its place.",
                         "not_servable", reason=target.code, version=target.facts.label)
        return target, str(role)

    @staticmethod
    def _routing_key(body: bytes) -> str | None:
        # Parsed again by payload.parse once the version is chosen; a routing key is needed to
        # choose it. Only a top-level "routing_key" counts.
        if b'"routing_key"' not in body:
            return None
        try:
            value = json.loads(body).get("routing_key")
        except (ValueError, AttributeError):
            return None
        return None if value is None else str(value)

    # --- off the request path -----------------------------------------------------------------
    def _log(self, slug: str, loaded: Loaded, role: str, request_id: str, key_prefix: str,
             records: list[dict[str, Any]], outputs: list[dict[str, Any]], elapsed: float) -> None:
        self.log.submit({
            "endpoint_slug": slug, "version_id": loaded.version_id,
            "artifact_sha256": loaded.artifact_sha256, "role": role, "request_id": request_id,
            "app_key_prefix": key_prefix, "inputs": records,
            "outputs": json.loads(json.dumps(outputs, default=_json_default)),
            "latency_ms": round(elapsed * 1000, 3)})

    def _shadow(self, route: Route, shadow: Loaded, work: dict[str, Any]) -> None:
        with self.shadow_ready:
            if len(self.shadow_queue) >= SHADOW_QUEUE_MAX:
                metrics.SHADOW.labels(route.slug, f"{shadow.model_slug} v{shadow.number}",
                                      "dropped").inc()
                return
            self.shadow_queue.append((route, shadow, work))
            if self.shadow_pid != os.getpid():  # a forked worker has no thread of its parent's
                self.shadow_pid = os.getpid()
                threading.Thread(target=self._shadow_run, name="gateway-shadow",
                                 daemon=True).start()
            self.shadow_ready.notify()

    def _shadow_run(self) -> None:
        while True:
            with self.shadow_ready:
                while not self.shadow_queue:
                    self.shadow_ready.wait()
                route, shadow, work = self.shadow_queue.pop(0)
            label = f"{shadow.model_slug} v{shadow.number}"
            started = time.perf_counter()
            try:
                outputs = predictions(shadow, work["feed"])
            except Exception:
                logger.exception("gateway: shadow prediction of %s failed", label)
                metrics.SHADOW.labels(route.slug, label, "failed").inc()
                continue
            metrics.SHADOW.labels(route.slug, label, "logged").inc()
            self._log(route.slug, shadow, PredictionRole.SHADOW, work["request_id"],
                      work["key_prefix"], work["records"], outputs,
                      time.perf_counter() - started)

    def _request_log(self, request_id: str, slug: str, version: str, key_prefix: str,
                     status: int, started: float, **extra: Any) -> None:
        if settings.GATEWAY_REQUEST_LOG:
            request_log.info(json.dumps({
                "request_id": request_id, "endpoint": slug, "version": version,
                "key": key_prefix, "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 3), **extra}))
