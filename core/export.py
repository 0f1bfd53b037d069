"""Exporting the audit trail as one bundle file that verifies offline (``core.verify_bundle``).

A bundle is JSON Lines (format in ``core/verify_bundle.py``): a header, the public keys, the signed
checkpoints, then every sequence number from 1 to the export's checkpoint — the event itself when
it is in the export's scope, only its digest when it is not. The digests of left-out events let an
auditor recompute the chain up to the signed checkpoint and so prove each included event belongs
to it, without seeing the others.

Order of an export, and why:
1. the ``audit.export`` event is recorded (and committed, in its own transaction), so the export
   leaves a trace even if the download fails half-way;
2. a checkpoint is signed over the head, which now includes that event, so the bundle proves its
   own export was recorded;
3. the bundle is written from the database, up to the checkpoint's seq; later events are left for
   the next export.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.apps import apps
from django.db.models import QuerySet
from django.utils import timezone

from core import audit, checkpoints, permissions, signing
from core.audit import STORED_COLUMNS, SYSTEM
from core.errors import ValidationFailed
from core.models import AuditEvent, User
from core.models.signing import Checkpoint, SigningKey
from core.verify_bundle import BUNDLE_FORMAT

WITHHELD_PER_LINE = 1000
_CHUNK = 2000


@dataclass(frozen=True)
class Scope:
    """Which events a bundle includes: all, one model's, and/or those of a date range (UTC)."""

    model_id: int | None = None
    model_slug: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.model_id is not None:
            out.update(model_id=self.model_id, model_slug=self.model_slug)
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        return out

    def events(self) -> QuerySet[AuditEvent]:
        """The in-scope events (a QuerySet)."""
        events = AuditEvent.objects.all()
        if self.model_id is not None:
            events = events.filter(model_id=self.model_id)
        if self.date_from:
            events = events.filter(occurred_at__gte=_day_start(self.date_from))
        if self.date_to:
            events = events.filter(occurred_at__lt=_day_start(self.date_to + dt.timedelta(days=1)))
        return events

    @property
    def is_whole(self) -> bool:
        return self.model_id is None and not self.date_from and not self.date_to

    def tag(self) -> str:
        parts = [self.model_slug] if self.model_id is not None else []
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or 'start'}_{self.date_to or 'end'}")
        return "-".join(parts) or "all"


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def resolve_scope(*, model_slug: str = "", date_from: dt.date | None = None,
                  date_to: dt.date | None = None) -> Scope:
    """Check the requested scope and turn a model slug into its id (or say what is wrong)."""
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed(f"The start date {date_from} is after the end date {date_to}; "
                               f"swap them.", field="from")
    model_slug = (model_slug or "").strip()
    model_id = None
    if model_slug:
        # core imports no app above it; the registry model is looked up by name at run time.
        registered_model = apps.get_model("registry", "RegisteredModel")
        model_id = registered_model.objects.filter(slug=model_slug).values_list("pk", flat=True) \
            .first()
        if model_id is None:
            raise ValidationFailed(f"No model has the slug {model_slug!r}; check the inventory "
                                   f"for the exact slug.", field="model")
    return Scope(model_id=model_id, model_slug=model_slug, date_from=date_from, date_to=date_to)


@dataclass(frozen=True)
class Export:
    """A prepared export: recorded and checkpointed; ``lines()`` streams the bundle."""

    scope: Scope
    checkpoint: Checkpoint
    exported_by: str
    created_at: dt.datetime

    @property
    def filename(self) -> str:
        return f"assay-audit-{self.scope.tag()}-{self.created_at:%Y%m%dT%H%M%SZ}.jsonl"

    def lines(self) -> Iterator[str]:
        return bundle_lines(self)

    def write_to(self, handle: IO[str]) -> None:
        for line in self.lines():
            handle.write(line)


def audit_export(*, actor: User | None, model_slug: str = "", date_from: dt.date | None = None,
                 date_to: dt.date | None = None) -> Export:
    """Record an export of the trail, sign a checkpoint covering it, and prepare the bundle."""
    if actor is not SYSTEM and not permissions.can_export_audit(actor):
        audit.refuse(actor, "Only auditors and administrators can export the audit trail.",
                     attempted="audit_export")
    scope = resolve_scope(model_slug=model_slug, date_from=date_from, date_to=date_to)
    signing.active_key(checkpoints.PURPOSE)  # a first key is itself an event: record it first
    audit.atomic_record(action="audit.export", actor=actor, object_type="audit.bundle",
                        object_id=scope.tag()[:64], model_id=scope.model_id,
                        payload={"scope": scope.as_dict()})
    # Never None: the export event just recorded is in the chain.
    checkpoint = checkpoints.checkpoint_create(reason=Checkpoint.Reason.EXPORT)
    return Export(scope=scope, checkpoint=checkpoint,  # type: ignore[arg-type]
                  exported_by=getattr(actor, "username", "") or "system",
                  created_at=timezone.now())


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _key_line(key: SigningKey) -> dict[str, Any]:
    def when(value: dt.datetime | None) -> str | None:
        return audit.format_time(value) if value else None

    return {"kind": "key", "keyid": key.keyid, "purpose": key.purpose,
            "algorithm": key.algorithm, "public_key_pem": key.public_key_pem,
            "created_at": when(key.created_at), "retired_at": when(key.retired_at),
            "revoked_at": when(key.revoked_at)}


def bundle_lines(export: Export) -> Iterator[str]:
    """The bundle, line by line, streaming the events so a million of them fit in memory."""
    last_seq = export.checkpoint.seq
    scope = export.scope
    in_scope = scope.events().filter(seq__lte=last_seq)
    included = last_seq if scope.is_whole else in_scope.count()
    yield _line({
        "kind": "header", "format": BUNDLE_FORMAT, "scope": scope.as_dict(),
        "first_seq": 1, "last_seq": last_seq, "included": included,
        "withheld": last_seq - included, "exported_by": export.exported_by,
        "created_at": audit.format_time(export.created_at),
    })
    revoked = set(SigningKey.objects.filter(revoked_at__isnull=False).values_list("keyid",
                                                                                   flat=True))
    signed = list(Checkpoint.objects.filter(seq__lte=last_seq).exclude(keyid__in=revoked)
                  .order_by("seq", "pk"))
    signatures = _signatures(scope, revoked)
    for key in SigningKey.objects.filter(keyid__in={cp.keyid for cp in signed}
                                         | {s.key_id for s in signatures}).order_by("created_at"):
        yield _line(_key_line(key))
    for cp in signed:
        yield _line({"kind": "checkpoint", "envelope": cp.envelope})
    for signature in signatures:
        yield _line(_signature_line(signature))
    yield from _event_lines(scope, last_seq, in_scope)


def _signatures(scope: Scope, revoked: set[str]) -> list[Any]:
    """The artifact signatures and approval attestations of the scope's versions (every model's
    for a whole-trail export), whatever the dates, except those by revoked keys: they prove
    nothing (docs/signing.md)."""
    # core imports no app above it; the registry's table is looked up by name at run time.
    version_signature = apps.get_model("registry", "VersionSignature")
    rows = version_signature.objects.exclude(key_id__in=revoked).select_related("version")
    if scope.model_id is not None:
        rows = rows.filter(version__model_id=scope.model_id)
    return list(rows.order_by("version_id", "kind", "created_at", "pk"))


def _signature_line(signature: Any) -> dict[str, Any]:
    version = signature.version
    return {"kind": "signature", "signature": signature.kind, "keyid": signature.key_id,
            "version": {"id": version.pk, "model_id": version.model_id,
                        "number": version.number},
            "artifact_sha256": signature.artifact_sha256,
            "created_at": audit.format_time(signature.created_at), "bundle": signature.bundle}


class _Row:
    """An event as read by ``values_list`` (no model instances: a whole export reads millions)."""

    __slots__ = STORED_COLUMNS
    seq: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    request_id: str
    action: str
    object_type: str
    object_id: str
    model_id: int | None
    payload: Any
    event_digest: str
    chain_hash: str

    def __init__(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(STORED_COLUMNS, values, strict=True):
            setattr(self, name, value)


def _event_lines(scope: Scope, last_seq: int, in_scope: QuerySet[AuditEvent]) -> Iterator[str]:
    """Walk every seq once: the event if in scope, else its digest (grouped into runs)."""
    wanted = (_Row(values) for values in in_scope.order_by("seq").values_list(*STORED_COLUMNS)
              .iterator(chunk_size=_CHUNK))
    if scope.is_whole:
        for event in wanted:
            yield _event_line(event)
        return
    next_event = next(wanted, None)
    every = AuditEvent.objects.filter(seq__lte=last_seq).order_by("seq").values_list(
        "seq", "event_digest").iterator(chunk_size=_CHUNK * 5)
    run_start, run = 0, list[str]()
    for seq, digest in every:
        if next_event is not None and next_event.seq == seq:
            if run:
                yield _line({"kind": "withheld", "first_seq": run_start, "digests": run})
                run = []
            yield _event_line(next_event)
            next_event = next(wanted, None)
            continue
        if not run:
            run_start = seq
        run.append(digest)
        if len(run) >= WITHHELD_PER_LINE:
            yield _line({"kind": "withheld", "first_seq": run_start, "digests": run})
            run = []
    if run:
        yield _line({"kind": "withheld", "first_seq": run_start, "digests": run})


def _event_line(event: _Row) -> str:
    return _line({"kind": "event", "event": audit.event_fields(event),
                  "event_digest": event.event_digest, "chain_hash": event.chain_hash})
