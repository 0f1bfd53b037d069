"""The audit trail: an append-only, hash-chained table of events (docs/audit.md).

Callers use the package: ``from core import audit; audit.record(...)``. Inside it:

* ``canonical`` — the canonical form an event's digest covers (the serialisation itself is in
  the standalone verifier, ``core/verify_bundle.py``, and imported from there);
* ``record`` — ``record()`` appends an event inside the service's transaction;
* ``security`` — security events that are not changes (failed logins, refusals): committed on
  their own and folded per minute; ``refuse()``, the one recorded way to refuse a permission;
* ``chain`` — ``verify_chain()`` recomputes every digest and link; the chain's head.

Signed checkpoints and exports, which build on the chain, are ``core.checkpoints`` and
``core.export``.
"""

from core.audit.canonical import (
    GENESIS_HASH,
    STORED_COLUMNS,
    NotCanonical,
    canonical_bytes,
    clean_text,
    event_digest,
    event_fields,
    format_time,
    link,
)
from core.audit.chain import (
    BAD_GENESIS,
    BROKEN_LINK,
    CHECKPOINT_MISMATCH,
    DIGEST_MISMATCH,
    GAP,
    TRUNCATED,
    ChainReport,
    LinkCheck,
    chain_hash_at,
    chain_head,
    check_link,
    verify_chain,
)
from core.audit.record import (
    SYSTEM,
    AuditError,
    atomic_record,
    bounded,
    changes,
    record,
    recorded_here,
    snapshot,
    task_context,
)
from core.audit.security import (
    flush_security_counts,
    record_denial,
    record_request_event,
    record_security,
    refuse,
)
from core.request_context import current_request_id

__all__ = [
    "BAD_GENESIS",
    "BROKEN_LINK",
    "CHECKPOINT_MISMATCH",
    "DIGEST_MISMATCH",
    "GAP",
    "GENESIS_HASH",
    "STORED_COLUMNS",
    "SYSTEM",
    "TRUNCATED",
    "AuditError",
    "ChainReport",
    "LinkCheck",
    "NotCanonical",
    "atomic_record",
    "bounded",
    "canonical_bytes",
    "chain_hash_at",
    "chain_head",
    "changes",
    "check_link",
    "clean_text",
    "current_request_id",
    "event_digest",
    "event_fields",
    "flush_security_counts",
    "format_time",
    "link",
    "record",
    "record_denial",
    "record_request_event",
    "record_security",
    "recorded_here",
    "refuse",
    "snapshot",
    "task_context",
    "verify_chain",
]
