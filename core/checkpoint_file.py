"""The checkpoint file: signed checkpoints and key events, appended outside the database.

``settings.CHECKPOINT_FILE`` holds one JSON object per line: ``{"kind": "checkpoint", ...}``
lines (``core.checkpoints``) and ``{"kind": "key", ...}`` lines recording when keys were created,
retired and revoked (``core.signing``), so that a revocation written into the database alone, to
discredit old checkpoints, is noticed. ``core.verification`` reads it back. It is its own module
because both the checkpoints and the signing keys write to it, and checkpoints are signed.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings


def path() -> Path:
    """Where the file is (``ASSAY_CHECKPOINT_FILE``)."""
    return Path(settings.CHECKPOINT_FILE)


def append(record: dict[str, Any]) -> None:
    """Append one JSON line to the checkpoint file and flush it to disk before returning.

    An exclusive lock keeps lines of concurrent writers (web, worker, beat) whole.
    """
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def records() -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for every line of the checkpoint file; None for an unreadable line."""
    source = path()
    if not source.exists():
        return
    with source.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                yield number, None
                continue
            yield number, record if isinstance(record, dict) else None
