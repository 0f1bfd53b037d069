"""The gateway's view of what it may serve, refreshed in the background of every worker.

A refresh reads a few cheap columns (endpoints, their versions' state and current signature rows,
expired waivers, usable application keys), compares each version's facts with those it verified
last, and re-verifies (``loading.verify_and_load``) only what changed. The new ``Snapshot`` is
built completely — new versions verified and their sessions ready — before it replaces the old
one in one assignment, so a promotion or rollback drops no request and no request waits for a
load. A snapshot older than ``GATEWAY_STALE_MS`` (the database unreachable) serves nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from core.audit import record_security
from governance.models import Waiver, WaiverStatus
from registry.models import ModelVersion, SignatureKind, VersionSignature
from serving.gateway import trust
from serving.gateway.loading import (
    Facts,
    Loaded,
    Refused,
    expired_waiver_reason,
    file_stamp,
    quick_refusal,
    verify_and_load,
)
from serving.models import AppKey, Endpoint, EndpointStatus

logger = logging.getLogger("assay.gateway")

# A refusal is recorded in the audit trail when first seen, then at most this often per worker
# while it lasts (and record_security folds those per minute): never one event per request.
REFUSAL_RECORD_EVERY_S = 60.0


@dataclass(frozen=True)
class Route:
    """An endpoint as the gateway serves it."""

    slug: str
    suspended: bool
    primary: Loaded | Refused
    canary: Loaded | Refused | None
    canary_percent: int
    shadow: Loaded | Refused | None


@dataclass(frozen=True)
class KeyEntry:
    prefix: str
    digest: str
    endpoints: frozenset[str]
    rate_limit: int


@dataclass(frozen=True)
class Snapshot:
    routes: dict[str, Route]
    keys: dict[str, KeyEntry]
    built_at: float  # time.monotonic()
    problem: str = ""  # why nothing is served (the trust file unreadable), else ""

    def age_ms(self) -> float:
        return (time.monotonic() - self.built_at) * 1000


@dataclass
class Builder:
    """Builds snapshots, keeping what it verified (per version facts) and sessions (per digest)
    between refreshes."""

    trust_path: Path
    verified: dict[int, Loaded | Refused] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    trusted: trust.TrustedKeys | None = None
    recorded: dict[tuple[int, str], float] = field(default_factory=dict)

    def _trusted(self) -> trust.TrustedKeys:
        if self.trusted is None or trust.file_stamp(self.trust_path) != self.trusted.stamp:
            self.trusted = trust.load(self.trust_path)
        return self.trusted

    def build(self, publish: Callable[[Snapshot], None] | None = None,
              previous_snapshot: Snapshot | None = None) -> Snapshot:
        """The next snapshot. When versions must be loaded (read, verified, sessions built),
        ``publish`` first receives an interim snapshot built from the same fresh facts."""
        try:
            trusted = self._trusted()
        except trust.TrustFileError as exc:
            self.trusted = None
            return Snapshot(routes={}, keys=self._keys(), built_at=time.monotonic(),
                            problem=str(exc))
        endpoints = list(Endpoint.objects.values(
            "slug", "status", "primary_version_id", "canary_version_id", "canary_percent",
            "shadow_version_id"))
        ids = {version_id for e in endpoints for version_id in (
            e["primary_version_id"], e["canary_version_id"], e["shadow_version_id"]) if version_id}
        if previous_snapshot is not None:
            # The versions the current view serves are checked too: the interim view below may
            # keep serving them (a promoted-away primary) while their successors load.
            ids |= {t.version_id for route in previous_snapshot.routes.values()
                    for t in (route.primary, route.canary, route.shadow) if t is not None}
        started = time.monotonic()
        facts = self._facts(ids, trusted.stamp)
        keys = self._keys()
        verified: dict[int, Loaded | Refused] = {}
        to_load: list[Facts] = []
        for version_id, current in facts.items():
            previous = self.verified.get(version_id)
            if previous is not None and previous.facts == current:
                verified[version_id] = previous
            elif (refused := quick_refusal(current)) is not None:
                verified[version_id] = refused
            else:
                to_load.append(current)
        if to_load and publish is not None and previous_snapshot is not None:
            # Loading may take a while: meanwhile serve the refusals just found and, where an
            # endpoint's versions are still the verified ones, its previous route (a promotion
            # serves the old primary until the new one is ready: no request dropped).
            publish(Snapshot(routes=self._interim(endpoints, verified, previous_snapshot),
                             keys=keys, built_at=started))
        for current in to_load:
            verified[current.version_id] = verify_and_load(current, trusted, self.sessions)
        self.verified = verified
        in_use = {v.artifact_sha256 for v in verified.values() if isinstance(v, Loaded)}
        self.sessions = {digest: s for digest, s in self.sessions.items() if digest in in_use}
        routes = {e["slug"]: self._route(e, verified) for e in endpoints}
        self._record_refusals(routes)
        return Snapshot(routes=routes, keys=keys, built_at=started)

    @staticmethod
    def _route(e: Mapping[str, Any], verified: dict[int, Loaded | Refused]) -> Route:
        def resolve(version_id: int | None) -> Loaded | Refused | None:
            return verified[version_id] if version_id else None

        return Route(slug=e["slug"], suspended=e["status"] == EndpointStatus.SUSPENDED,
                     primary=verified[e["primary_version_id"]],
                     canary=resolve(e["canary_version_id"]), canary_percent=e["canary_percent"],
                     shadow=resolve(e["shadow_version_id"]))

    def _interim(self, endpoints: Sequence[Mapping[str, Any]], verified: dict[int, Loaded | Refused],
                 previous: Snapshot) -> dict[str, Route]:
        routes = {}
        for e in endpoints:
            ids = [e["primary_version_id"], e["canary_version_id"], e["shadow_version_id"]]
            if all(i is None or i in verified for i in ids):
                routes[e["slug"]] = self._route(e, verified)
                continue
            old = previous.routes.get(e["slug"])
            if old is None:
                continue  # a new endpoint: 404 until its versions are verified
            targets = [t for t in (old.primary, old.canary, old.shadow) if t is not None]
            if all(verified.get(t.version_id) is t for t in targets):
                routes[e["slug"]] = Route(
                    slug=old.slug, suspended=e["status"] == EndpointStatus.SUSPENDED,
                    primary=old.primary, canary=old.canary, canary_percent=old.canary_percent,
                    shadow=old.shadow)
        return routes

    def _facts(self, ids: set[int], trust_stamp: tuple[float, int]) -> dict[int, Facts]:
        versions = list(ModelVersion.objects.filter(pk__in=ids).values(
            "pk", "number", "model__slug", "state", "artifact_sha256"))
        current: dict[tuple[int, str], tuple[int, str, bool]] = {}
        # Newest row per (version, kind) counts (ModelVersion.current_signature); ordered oldest
        # first so the newest overwrites. Done here, not with DISTINCT ON, for SQLite too.
        for row in VersionSignature.objects.filter(version_id__in=ids).order_by(
                "created_at", "pk").values("pk", "version_id", "kind", "key_id",
                                           "key__revoked_at"):
            current[(row["version_id"], row["kind"])] = (
                row["pk"], str(row["key_id"]), row["key__revoked_at"] is not None)
        expired: dict[int, list[int]] = defaultdict(list)
        for waiver_id, version_id in Waiver.objects.filter(
                version_id__in=ids, status=WaiverStatus.ACTIVE,
                expires_at__lte=timezone.now()).values_list("pk", "version_id"):
            expired[version_id].append(waiver_id)
        out = {}
        for v in versions:
            waiver = ""
            if expired.get(v["pk"]):
                waiver = expired_waiver_reason(
                    ModelVersion.objects.select_related("model").get(pk=v["pk"]),
                    expired[v["pk"]])
            out[v["pk"]] = Facts(
                version_id=v["pk"], label=f"{v['model__slug']} v{v['number']}", state=v["state"],
                artifact_sha256=v["artifact_sha256"],
                artifact_signature=current.get((v["pk"], SignatureKind.ARTIFACT)),
                approval_signature=current.get((v["pk"], SignatureKind.APPROVAL)),
                expired_waiver=waiver, file_stamp=file_stamp(v["artifact_sha256"]),
                trust_stamp=trust_stamp)
        return out

    def _keys(self) -> dict[str, KeyEntry]:
        scopes: dict[str, set[str]] = defaultdict(set)
        for prefix, slug in AppKey.endpoints.through.objects.filter(
                appkey__revoked_at__isnull=True).values_list("appkey__prefix", "endpoint__slug"):
            scopes[prefix].add(slug)
        return {prefix: KeyEntry(prefix=prefix, digest=digest, endpoints=frozenset(scopes[prefix]),
                                 rate_limit=rate or settings.GATEWAY_RATE_LIMIT)
                for prefix, digest, rate in AppKey.objects.usable().values_list(
                    "prefix", "digest", "rate_limit")}

    def _record_refusals(self, routes: dict[str, Route]) -> None:
        """One folded audit event per refused version and reason while it lasts."""
        now = time.monotonic()
        for route in routes.values():
            for role, target in (("primary", route.primary), ("canary", route.canary),
                                 ("shadow", route.shadow)):
                if not isinstance(target, Refused):
                    continue
                key = (target.version_id, target.code)
                if now - self.recorded.get(key, -REFUSAL_RECORD_EVERY_S) < REFUSAL_RECORD_EVERY_S:
                    continue
                self.recorded[key] = now
                record_security(action="serving.refused", principal=f"version:{target.version_id}",
                                reason=target.code, payload={
                                    "endpoint": route.slug, "role": role, "detail": target.reason,
                                    "artifact_sha256": target.facts.artifact_sha256})


class Refresher:
    """The background thread of one gateway worker that keeps ``snapshot`` current."""

    def __init__(self, trust_path: Path | None = None, *, background: bool = True) -> None:
        self.background = background  # False: the caller refreshes (tests, in one transaction)
        self.builder = Builder(trust_path=Path(trust_path or settings.GATEWAY_TRUSTED_KEYS_FILE))
        self.snapshot: Snapshot | None = None
        self.ready = threading.Event()
        self.pid = 0
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread in this process (a forked worker has none of its parent's)."""
        if self.pid == os.getpid() or not self.background:
            return
        with self._lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.snapshot, self.ready = None, threading.Event()
            self.builder = Builder(trust_path=self.builder.trust_path)
            threading.Thread(target=self._run, name="gateway-refresh", daemon=True).start()

    def refresh_once(self) -> None:
        try:
            self.snapshot = self.builder.build(publish=self._publish,
                                               previous_snapshot=self.snapshot)
        except Exception:  # the database away: the snapshot ages and stops serving
            logger.exception("gateway: refreshing the servability view failed")
            close_old_connections()
        finally:
            self.ready.set()

    def _publish(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def _run(self) -> None:
        interval = settings.GATEWAY_REFRESH_MS / 1000
        while True:
            started = time.monotonic()
            self.refresh_once()
            time.sleep(max(0.05, interval - (time.monotonic() - started)))
