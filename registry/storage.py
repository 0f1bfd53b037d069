"""Content-addressed file store for artifacts and documents: ``ARTIFACT_DIR/ab/abcdef…``.

A file is written once under its SHA-256 and never modified, so two versions uploading the same
bytes share one file and a stored file can always be re-checked against its name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpResponse

from core.errors import InsufficientStorage, StoredFileDamaged, Unavailable
from registry.models import VersionSignature

CHUNK = 1024 * 1024
# A SHA-256 digest as stored: 64 lowercase hex characters (use fullmatch).
SHA256_RE = re.compile(r"[0-9a-f]{64}")


def path_for(sha256: str) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return Path(settings.ARTIFACT_DIR) / sha256[:2] / sha256


def exists(sha256: str) -> bool:
    return path_for(sha256).is_file()


# Errors of the file store itself (not of the upload): answered 507 when there is no room, 503
# otherwise, and the service's transaction rolls back, so no row names a file that is not there.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _unstorable(exc: OSError) -> Unavailable:
    if exc.errno in NO_ROOM:
        return InsufficientStorage(
            "The file store is full, so the file was not kept (nothing was saved). Try again "
            "later; the administrator must free space in ASSAY_ARTIFACT_DIR.")
    return Unavailable(
        "The file store cannot be written to right now (its folder is unreachable or not "
        "writable), so the file was not kept and nothing was saved. Try again later; the "
        "administrator must check ASSAY_ARTIFACT_DIR.")


def store(source: BinaryIO, sha256: str) -> Path:
    """Copy ``source`` into the store under ``sha256``, checking the digest while copying.

    Written to a temporary file in the same folder and renamed, so a reader never sees half a
    file and a crash leaves no partial artifact under a real name. The store failing (full, not
    writable, unreachable) raises ``Unavailable``/``InsufficientStorage`` with nothing left.
    """
    try:
        return _store(source, sha256)
    except OSError as exc:
        raise _unstorable(exc) from exc


def _store(source: BinaryIO, sha256: str) -> Path:
    target = path_for(sha256)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source.seek(0)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ValueError("the file changed while it was being stored")
        os.chmod(tmp_name, 0o444)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def open_stored(sha256: str) -> BinaryIO:
    return path_for(sha256).open("rb")


def sha256_of(source: BinaryIO) -> tuple[str, int]:
    """Digest and size of a file object, read in chunks."""
    source.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return digest.hexdigest(), size


def open_verified(sha256: str) -> BinaryIO:
    """The stored file, opened once its bytes are checked against ``sha256``.

    Raises ``StoredFileDamaged`` when it is missing or altered (a disk fault, a restore that
    left it out, tampering); pages and the API answer with the reason and record it.
    """
    try:
        handle = open_stored(sha256)
    except FileNotFoundError:
        raise StoredFileDamaged(
            "The stored file is missing from the file store, so it cannot be served. The "
            "administrator must restore it from backup (see README, Production); this was "
            "recorded in the audit trail.", reason="missing", sha256=sha256) from None
    actual, _size = sha256_of(handle)
    if actual != sha256:
        handle.close()
        raise StoredFileDamaged(
            "The stored file no longer matches its SHA-256 digest (damaged or altered), so it is "
            "not served. The administrator must restore it from backup; this was recorded in the "
            "audit trail.", reason="digest_mismatch", sha256=sha256)
    return handle


def stored_file_response(sha256: str, filename: str) -> FileResponse:
    """Serve a stored file as a download (never rendered inline: uploads are untrusted), only
    after checking it still matches its digest."""
    response = FileResponse(open_verified(sha256), as_attachment=True, filename=filename,
                            content_type="application/octet-stream")
    response["X-Content-SHA256"] = sha256
    return response


def signature_response(signature: VersionSignature) -> HttpResponse:
    """A stored signature bundle as a download: the JSON that ``model_signing verify`` and
    ``python -m core.verify_bundle`` read."""
    response = HttpResponse(json.dumps(signature.bundle, indent=2) + "\n",
                            content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{signature.filename}"'
    return response
