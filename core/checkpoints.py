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
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import audit, checkpoint_file, signing
from core.models import AuditEvent
from core.models.signing import Checkpoint, KeyPurpose
from core.verify_bundle import CHECKPOINT_PAYLOAD_TYPE

PURPOSE = KeyPurpose.AUDIT_CHECKPOINT


def checkpoint_create(*, reason: str = Checkpoint.Reason.MANUAL) -> Checkpoint | None:
    """Sign the current head of the chain; None when the trail is still empty.

    Run it in a transaction of its own (or right after the events it must cover, as the export
    does): the line goes to the file before the row is inserted, so every stored checkpoint is
    also in the file even if the disk fills up between the two.
    """
    signing.active_key(PURPOSE)  # may create the first key, which records an event: do it first
    with transaction.atomic():
        head = AuditEvent.objects.order_by("-seq").values("seq", "chain_hash").first()
        if head is None:
            return None
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
    """The scheduled job: sign the head only if events were added since the last checkpoint."""
    head_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    last_seq = Checkpoint.objects.order_by("-seq").values_list("seq", flat=True).first()
    if head_seq is None or (last_seq is not None and head_seq <= last_seq):
        return None
    return checkpoint_create(reason=Checkpoint.Reason.SCHEDULE)


def latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-seq", "-signed_at").first()
