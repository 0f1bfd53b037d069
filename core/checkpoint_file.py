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


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def records() -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) for every line of the checkpoint file; None for an unreadable line."""
    source = path()
    if not source.exists():
        return
    with source.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            yield number, _parse(raw)


_TAIL_BLOCK = 64 * 1024


def last_record(kind: str) -> dict[str, Any] | None:
    """The last readable line of ``kind`` in the file, read backwards from its end.

    Checkpoint creation looks only at the last checkpoint line, and runs every few minutes for
    years: reading the whole file each time would grow without bound.
    """
    try:
        handle = path().open("rb")
    except FileNotFoundError:
        return None
    with handle:
        position = handle.seek(0, os.SEEK_END)
        pending = b""  # the start of a line that the previous block boundary cut
        while position > 0:
            start = max(0, position - _TAIL_BLOCK)
            handle.seek(start)
            lines = (handle.read(position - start) + pending).split(b"\n")
            pending = lines.pop(0) if start > 0 else b""
            for raw in reversed(lines):
                record = _parse(raw) if raw.strip() else None
                if record is not None and record.get("kind") == kind:
                    return record
            position = start
    return None
