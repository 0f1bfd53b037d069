"""Verifying the audit trail on the server: the chain (part 1) and the signed checkpoints.

``verify_chain`` (core.audit) recomputes every digest and link; on its own it cannot see a
rewrite-and-rechain by a database superuser, nor a restored backup that lost its tail, because
both leave a self-consistent chain. ``verify_checkpoints`` compares that chain with every signed
checkpoint, from the database and from the checkpoint file, and names the checkpoint that
disagrees. ``verify_trail`` runs both and remembers the result for the audit page (a full
verification of a million events takes seconds: pages show the last result, never run one).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import audit, checkpoint_file, checkpoints, signing
from core.models import AuditEvent, User, Verification, VerificationStatus
from core.models.signing import Checkpoint, SigningKey
from core.verify_bundle import CHECKPOINT_PAYLOAD_TYPE, EnvelopeError, verify_envelope

logger = logging.getLogger(__name__)
LAST_RESULT_CACHE_KEY = "assay:audit:last-verification"
_LOOKUP_BATCH = 5000


@dataclass
class CheckpointReport:
    """The outcome of comparing the chain with every checkpoint."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0
    head_seq: int = 0
    latest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class TrailReport:
    """Chain plus checkpoints: what ``manage.py verify_audit`` and the API report.

    ``chain_report`` is part 1's ``core.audit.ChainReport``; ``ok``/``summary`` cover both.
    """

    ok: bool
    summary: str
    chain_report: Any
    checkpoints: CheckpointReport
    checked_at: str

    @property
    def chain_ok(self) -> bool:
        return bool(self.chain_report.ok)

    def as_dict(self) -> dict[str, Any]:
        """The chain report's fields, with ``ok``/``summary`` for the whole trail, plus
        ``chain_ok``, ``checkpoints`` and ``checked_at`` (the verify API answers this)."""
        return {**self.chain_report.as_dict(), "ok": self.ok, "summary": self.summary,
                "chain_ok": self.chain_ok, "checkpoints": asdict(self.checkpoints),
                "checked_at": self.checked_at}


@dataclass
class _Signed:
    """One checkpoint as found in the database or the file, before checking."""

    name: str
    envelope: Any
    stored_seq: int | None = None
    stored_hash: str | None = None


def _sig(envelope: Any) -> str:
    try:
        return str(envelope["signatures"][0]["sig"])
    except (KeyError, IndexError, TypeError):
        return ""


def _chain_hashes(seqs: set[int]) -> dict[int, str]:
    ordered, found = sorted(seqs), dict[int, str]()
    for start in range(0, len(ordered), _LOOKUP_BATCH):
        batch = ordered[start:start + _LOOKUP_BATCH]
        found.update(AuditEvent.objects.filter(seq__in=batch).values_list("seq", "chain_hash"))
    return found


def _collect() -> tuple[list[_Signed], CheckpointReport, set[str]]:
    """Every checkpoint from the database and the file; where the two disagree."""
    report = CheckpointReport()
    found: list[_Signed] = []  # database first: a mismatch names the checkpoint by its id
    from_file: list[_Signed] = []
    file_sigs: set[str] = set()
    revoked_in_file: set[str] = set()
    for number, record in checkpoint_file.records():
        if record is None:
            report.problems.append(f"line {number} of the checkpoint file is not valid JSON "
                                   f"(the file was damaged or edited)")
        elif record.get("kind") == "checkpoint":
            file_sigs.add(_sig(record.get("envelope")))
            from_file.append(_Signed(name=f"file checkpoint (line {number}, seq {record.get('seq')}, "
                                      f"signed {record.get('signed_at')})",
                                 envelope=record.get("envelope")))
        elif record.get("kind") == "key" and record.get("event") == "revoked":
            revoked_in_file.add(str(record.get("keyid")))
    missing = []
    row_sigs: set[str] = set()
    for row in Checkpoint.objects.order_by("seq", "pk").iterator(chunk_size=2000):
        signed = _Signed(name=f"checkpoint #{row.pk} (seq {row.seq}, signed "
                              f"{audit.format_time(row.signed_at)})",
                         envelope=row.envelope, stored_seq=row.seq, stored_hash=row.chain_hash)
        found.append(signed)
        row_sigs.add(_sig(row.envelope))
        if _sig(row.envelope) not in file_sigs:
            missing.append(signed.name)
    if missing:
        report.problems.append(
            f"{len(missing)} checkpoint(s) in the database are missing from the checkpoint file "
            f"{checkpoint_file.path()}, first {missing[0]}: the file was truncated, "
            f"replaced or is not the one this database wrote to")
    _compare_file_with_table(report, from_file, row_sigs)
    return found + from_file, report, revoked_in_file


def _compare_file_with_table(report: CheckpointReport, from_file: list[_Signed],
                             row_sigs: set[str]) -> None:
    """File lines without a row: the last one may be a checkpoint a crash interrupted, which the
    next checkpoint run completes (core.checkpoints); an earlier one means rows are missing."""
    without_row = [item for item in from_file if _sig(item.envelope) not in row_sigs]
    if without_row and without_row[-1] is from_file[-1]:
        report.notes.append(
            f"{without_row.pop().name} has no row in the database yet: a checkpoint interrupted "
            f"between the file and the database (the next checkpoint run completes it)")
    if without_row:
        report.problems.append(
            f"{len(without_row)} checkpoint(s) in the checkpoint file have no row in the "
            f"database, first {without_row[0].name}: checkpoint rows were deleted, or the "
            f"database was restored from a backup older than the file")


def verify_checkpoints() -> CheckpointReport:
    """Compare the stored chain with every checkpoint (database and file); name any mismatch."""
    found, report, revoked_in_file = _collect()
    report.head_seq = (AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
                       or 0)
    keys = signing.trusted_keys(checkpoints.PURPOSE)
    revoked = dict(SigningKey.objects.filter(purpose=checkpoints.PURPOSE, revoked_at__isnull=False)
                   .values_list("keyid", "revoked_at"))
    for keyid in sorted(set(revoked) - revoked_in_file):
        report.problems.append(
            f"key {keyid[:16]} is marked revoked in the database but the checkpoint file has no "
            f"record of that revocation: its checkpoints would be discounted without cause")
    verified: list[tuple[_Signed, dict[str, Any], str]] = []
    for item in found:
        signer = _sig_keyid(item.envelope)
        if signer in revoked and signer in revoked_in_file:
            report.notes.append(f"{item.name} was signed by revoked key {signer[:16]}: "
                                f"not counted as evidence")
            continue
        try:
            payload, keyids = verify_envelope(item.envelope, keys,
                                              payload_type=CHECKPOINT_PAYLOAD_TYPE)
            keyid = keyids[0]
            body = json.loads(payload)
            seq, chain_hash = int(body["seq"]), str(body["chain_hash"])
        except EnvelopeError as exc:
            report.problems.append(f"{item.name} is not validly signed: {exc}")
            continue
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"{item.name} has a signed payload without seq and chain_hash")
            continue
        if item.stored_seq is not None and (item.stored_seq, item.stored_hash) != (seq, chain_hash):
            report.problems.append(f"{item.name}: the row's seq/hash columns differ from what "
                                   f"was signed (seq {seq}, hash {chain_hash[:16]})")
        verified.append((item, {"seq": seq, "chain_hash": chain_hash,
                                "signed_at": body.get("signed_at")}, keyid))
    chain = _chain_hashes({body["seq"] for _item, body, _keyid in verified})
    for item, body, keyid in verified:
        report.checked += 1
        seq = body["seq"]
        if seq > report.head_seq:
            report.problems.append(
                f"checkpoint mismatch: {item.name} covers seq {seq} but the trail ends at seq "
                f"{report.head_seq}: events after seq {report.head_seq} are missing (a restored "
                f"backup that lost its tail?)")
        elif seq not in chain:
            report.problems.append(f"checkpoint mismatch: {item.name}: the trail has no event "
                                   f"with seq {seq}")
        elif chain[seq] != body["chain_hash"]:
            report.problems.append(
                f"checkpoint mismatch: {item.name}: the chain hash at seq {seq} is "
                f"{chain[seq][:16]}, the checkpoint signed {body['chain_hash'][:16]}: events up "
                f"to seq {seq} were rewritten after it was signed")
        if report.latest is None or seq >= report.latest["seq"]:
            report.latest = {**body, "keyid": keyid}
    return report


def _sig_keyid(envelope: Any) -> str:
    try:
        return str(envelope["signatures"][0]["keyid"])
    except (KeyError, IndexError, TypeError):
        return ""


def verify_trail(*, chunk_size: int = 5000, remember: bool = True,
                 progress: Callable[[int], None] | None = None) -> TrailReport:
    """Verify the chain and every checkpoint; remember the result for the audit page.
    ``progress`` receives the number of events checked so far, every ``chunk_size``."""
    chain = audit.verify_chain(chunk_size=chunk_size, progress=progress)
    report = verify_checkpoints()
    ok = chain.ok and report.ok
    if ok:
        latest = report.latest
        summary = (f"OK: chain intact through seq {chain.head_seq}; {report.checked} "
                   "checkpoint records (database and checkpoint file) match"
                   + (f", latest at seq {latest['seq']}" if latest else " (no checkpoint yet)"))
    else:
        reasons = ([] if chain.ok else [chain.summary]) + report.problems
        summary = f"FAILED: {reasons[0]}" + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1
                                              else "")
    result = TrailReport(ok=ok, summary=summary, chain_report=chain, checkpoints=report,
                         checked_at=audit.format_time(timezone.now()))
    if remember:
        try:
            cache.set(LAST_RESULT_CACHE_KEY, result.as_dict(), timeout=None)
        except Exception:  # the result matters more than remembering it (no cache table yet?)
            logger.warning("Could not store the audit verification result in the cache",
                           exc_info=True)
    return result


def last_result() -> dict[str, Any] | None:
    """The last remembered verification (for pages), or None if none was run since."""
    try:
        result: dict[str, Any] | None = cache.get(LAST_RESULT_CACHE_KEY)
        return result
    except Exception:  # a page must render without its cache
        logger.warning("Could not read the last audit verification from the cache",
                       exc_info=True)
        return None


VERIFY_TASK = "core.verify_audit_trail"


def verify_on_worker(*, actor: User, query: str = "") -> Verification | TrailReport:
    """Verify now: within the request while the trail is small (``ASSAY_VERIFY_INLINE_MAX``
    events, default 200,000: about two seconds), else on a worker, whose progress the trail
    page polls (a ``Verification``). The task is queued when the transaction commits."""
    total = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    if total <= settings.VERIFY_INLINE_MAX:
        return verify_trail()
    verification = Verification.objects.create(requested_by=actor, requested_at=timezone.now(),
                                               query=query[:1000], total=total)
    transaction.on_commit(lambda: verification_queue(verification.pk))
    return verification


def verification_queue(verification_id: int) -> None:
    current_app.send_task(VERIFY_TASK, args=[verification_id])


def run_verification(verification_id: int, *, report_every_s: float = 0.5) -> Verification:
    """The worker's side: verify, writing progress at most every ``report_every_s``. A finished
    verification is left as it is (a redelivered task does nothing twice); one whose worker died
    is simply run again (verifying changes nothing)."""
    verification = Verification.objects.get(pk=verification_id)
    if verification.is_finished:
        return verification
    Verification.objects.filter(pk=verification.pk).update(
        status=VerificationStatus.RUNNING, started_at=timezone.now(), checked=0)
    last = time.monotonic()

    def progress(checked: int) -> None:
        nonlocal last
        if time.monotonic() - last >= report_every_s:
            Verification.objects.filter(pk=verification.pk).update(checked=checked)
            last = time.monotonic()

    result = verify_trail(progress=progress)
    Verification.objects.filter(pk=verification.pk).update(
        status=VerificationStatus.PASSED if result.ok else VerificationStatus.FAILED,
        checked=result.chain_report.checked, finished_at=timezone.now(),
        summary=result.summary, report=result.as_dict())
    verification.refresh_from_db()
    return verification
