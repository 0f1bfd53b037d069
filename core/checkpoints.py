"""Signed checkpoints of the audit chain: the head (seq, chain_hash, time) signed with the
``audit_checkpoint`` key, stored in the database AND appended to ``settings.CHECKPOINT_FILE``.

A database superuser can rewrite events and recompute every hash; the chain alone then still
verifies. What he cannot do is re-sign the checkpoints (the private key is a file he cannot read)
or reach the checkpoint file (in production: storage the database role cannot write, ideally
append-only). ``core.verification`` compares the chain with every checkpoint.

The checkpoint file (``core.checkpoint_file``) holds one JSON object per line: checkpoints,
written here, and the key events that ``core.signing`` writes.

Creating a checkpoint records no audit event: it changes nothing and would otherwise make a new
event, and so a new checkpoint, every time the schedule runs.

The two writes, and what a crash between them leaves. The line goes to the file (flushed to disk)
before the row is inserted, so a stored checkpoint is always in the file too — the file is the
copy that must survive, and in production it is append-only, so nothing in it can be taken back.
A process killed after the line and before its commit leaves one signed line without a row: a
true statement about a committed head, only not yet in the table. Checkpoint creation is
serialised (a lock), so at most the last checkpoint line can be such an orphan, and every run
first completes it: the line's signature and chain hash are checked against the trusted keys and
the stored chain, and its row is inserted exactly as signed (``_complete_interrupted``). File and
table then agree again. A committed row whose line is missing cannot come from a crash in this
order; it means the file was truncated or replaced, which verification reports and nothing here
papers over.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core import audit, checkpoint_file, signing
from core.models import AuditEvent
from core.models.signing import Checkpoint, KeyPurpose
from core.verify_bundle import CHECKPOINT_PAYLOAD_TYPE, EnvelopeError

PURPOSE = KeyPurpose.AUDIT_CHECKPOINT
# Serialises checkpoint creation (PostgreSQL advisory lock; SQLite's IMMEDIATE transactions
# already allow one writer), so no run completes a line that another is about to commit.
CHECKPOINT_LOCK_KEY = 0x41535341590002

logger = logging.getLogger(__name__)


def _lock_checkpoints() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK_KEY])


def _has_row(*, seq: int, keyid: str, envelope: dict[str, Any]) -> bool:
    return any(row == envelope for row in Checkpoint.objects.filter(
        seq=seq, keyid=keyid).values_list("envelope", flat=True))


def _complete_interrupted() -> Checkpoint | None:
    """Insert the row of the last checkpoint line if a crash left it without one; return it.

    Only a line that is validly signed by a trusted key, and whose chain hash is the stored one
    at its seq, is completed; anything else is left for verification to report.
    """
    record = checkpoint_file.last_record("checkpoint")
    if record is None:
        return None
    # Only what is signed counts: the line's other fields (its seq, keyid) are not evidence.
    try:
        payload, keyid = signing.verify(record.get("envelope"), purpose=PURPOSE,
                                        payload_type=CHECKPOINT_PAYLOAD_TYPE)
        body = json.loads(payload)
        seq, chain_hash = int(body["seq"]), str(body["chain_hash"])
        signed_at = dt.datetime.strptime(body["signed_at"], "%Y-%m-%dT%H:%M:%S.%fZ") \
            .replace(tzinfo=dt.UTC)
    except (EnvelopeError, ValueError, KeyError, TypeError):
        logger.warning("The last checkpoint line of %s does not verify; left for verification "
                       "to report", checkpoint_file.path())
        return None
    if _has_row(seq=seq, keyid=keyid, envelope=record["envelope"]):
        return None
    if AuditEvent.objects.filter(seq=seq).values_list("chain_hash", flat=True).first() \
            != chain_hash:
        logger.warning("The last checkpoint line of %s (seq %s) has no row and does not match "
                       "the stored chain; left for verification to report",
                       checkpoint_file.path(), seq)
        return None
    reason = record.get("reason")
    checkpoint = Checkpoint(seq=seq, chain_hash=chain_hash, signed_at=signed_at, keyid=keyid,
                            reason=reason if reason in Checkpoint.Reason.values
                            else Checkpoint.Reason.MANUAL,
                            envelope=record["envelope"])
    checkpoint.save(force_insert=True)
    logger.warning("Completed checkpoint at seq %s: its line was in %s but its row was missing "
                   "(the process that signed it stopped before committing)", seq,
                   checkpoint_file.path())
    return checkpoint


def checkpoint_create(*, reason: str = Checkpoint.Reason.MANUAL,
                      if_new: bool = False) -> Checkpoint | None:
    """Sign the current head of the chain; None when the trail is still empty, or when
    ``if_new`` and a checkpoint already covers the head.

    First completes a checkpoint that a crash interrupted (see the module docstring). Runs in a
    transaction of its own (``durable``: never inside a caller's): the head it signs must be
    committed, or a rollback after the line was written would leave a signed head that never
    existed, and a later, different event under its seq would look like a rewrite.
    """
    signing.active_key(PURPOSE)  # may create the first key, which records an event: do it first
    with transaction.atomic(durable=True):
        _lock_checkpoints()
        _complete_interrupted()
        head = AuditEvent.objects.order_by("-seq").values("seq", "chain_hash").first()
        if head is None:
            return None
        if if_new and Checkpoint.objects.filter(seq__gte=head["seq"]).exists():
            return None  # the completed checkpoint, or a concurrent run's, covers the head
        now = timezone.now()
        signed_at = audit.format_time(now)
        payload = {"seq": head["seq"], "chain_hash": head["chain_hash"], "signed_at": signed_at}
        signed = signing.sign(purpose=PURPOSE, payload_type=CHECKPOINT_PAYLOAD_TYPE,
                              payload=audit.canonical_bytes(payload))
        checkpoint = Checkpoint(seq=head["seq"], chain_hash=head["chain_hash"],
                                signed_at=now, keyid=signed.keyid, reason=reason,
                                envelope=signed.envelope)
        checkpoint_file.append({"kind": "checkpoint", "reason": reason, **payload,
                                "keyid": signed.keyid, "envelope": signed.envelope})
        checkpoint.save(force_insert=True)
    return checkpoint


def checkpoint_if_new_events() -> Checkpoint | None:
    """The scheduled job: sign the head only if events were added since the last checkpoint.

    The first look, without the lock, spares an idle installation the signing key and the lock;
    ``checkpoint_create`` looks again under the lock, after completing an interrupted checkpoint.
    """
    head_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    last_seq = Checkpoint.objects.order_by("-seq").values_list("seq", flat=True).first()
    if head_seq is None or (last_seq is not None and head_seq <= last_seq):
        return None
    return checkpoint_create(reason=Checkpoint.Reason.SCHEDULE, if_new=True)


def latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-seq", "-signed_at").first()
