"""Content-addressed file store for artifacts and documents: ``ARTIFACT_DIR/ab/abcdef…``, or
the same keys in an S3-compatible bucket (``S3_BUCKET``, under ``S3_PREFIX``) through
django-storages.

A file is written once under its SHA-256 and never modified, so two versions uploading the same
bytes share one file and a stored file can always be re-checked against its name. Both backends
behave the same to callers: the digest is checked before a file is kept, a store that cannot be
written answers 503 (507 when full) with nothing kept, and a missing or altered file is never
served (``StoredFileDamaged``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from core.errors import InsufficientStorage, StoredFileDamaged, Unavailable
from registry.models import VersionSignature

CHUNK = 1024 * 1024
# A SHA-256 digest as stored: 64 lowercase hex characters (use fullmatch).
SHA256_RE = re.compile(r"[0-9a-f]{64}")


def path_for(sha256: str) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return Path(settings.ARTIFACT_DIR) / sha256[:2] / sha256


def key_for(sha256: str) -> str:
    """The object's name in the bucket (under ``S3_PREFIX``)."""
    path_for(sha256)  # the same check of the digest
    return f"{sha256[:2]}/{sha256}"


_buckets: dict[tuple[str, str, str, str, int], Any] = {}


def objects() -> Any:
    """The S3 storage (django-storages' ``S3Storage``) when ``S3_BUCKET`` is set, else None."""
    if not settings.S3_BUCKET:
        return None
    config = (settings.S3_BUCKET, settings.S3_ENDPOINT_URL, settings.S3_REGION,
              settings.S3_PREFIX, settings.S3_SIGNED_URL_TTL_S)
    if config not in _buckets:
        from storages.backends.s3 import S3Storage  # boto3 is heavy; only S3 set-ups need it

        _buckets[config] = S3Storage(
            bucket_name=settings.S3_BUCKET, endpoint_url=settings.S3_ENDPOINT_URL or None,
            region_name=settings.S3_REGION, location=settings.S3_PREFIX, default_acl=None,
            file_overwrite=True,  # a name is its content's digest: rewriting it changes nothing
            querystring_expire=settings.S3_SIGNED_URL_TTL_S, signature_version="s3v4")
    return _buckets[config]


def _unreachable(exc: Exception) -> Unavailable:
    return Unavailable(
        "The object store cannot be reached or refused the request right now "
        f"({type(exc).__name__}); nothing was saved or changed. Try again later; the "
        "administrator must check ASSAY_S3_BUCKET, ASSAY_S3_ENDPOINT_URL and the credentials.")


def _object_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def exists(sha256: str) -> bool:
    bucket = objects()
    if bucket is None:
        return path_for(sha256).is_file()
    try:
        return bool(bucket.exists(key_for(sha256)))
    except _object_errors() as exc:
        raise _unreachable(exc) from exc


def ready() -> str:
    """The readiness of the file store (core.health): "ok", or what is wrong, naming no host."""
    bucket = objects()
    if bucket is None:
        folder = Path(settings.ARTIFACT_DIR)
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            return "the artifact folder is missing or not writable"
        return "ok"
    try:
        bucket.connection.meta.client.head_bucket(Bucket=settings.S3_BUCKET)
    except _object_errors() as exc:
        return f"the object store bucket is unreachable or refused ({type(exc).__name__})"
    return "ok"


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
    bucket = objects()
    if bucket is not None:
        return _store_object(bucket, source, sha256)
    try:
        return _store(source, sha256)
    except OSError as exc:
        raise _unstorable(exc) from exc


def _store_object(bucket: Any, source: BinaryIO, sha256: str) -> Path:
    """The S3 path of ``store``: the digest is checked before the upload (a PUT is all or
    nothing, so no reader sees half an object); the object's name is returned as a Path."""
    from django.core.files import File

    if sha256_of(source)[0] != sha256:
        raise ValueError("the file changed while it was being stored")
    key = key_for(sha256)
    try:
        if not bucket.exists(key):
            bucket.save(key, File(source, name=sha256))
    except _object_errors() as exc:
        raise _unreachable(exc) from exc
    source.seek(0)
    return Path(key)


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
    """The stored file, opened for reading (from the bucket: copied to a temporary file first,
    so callers can seek it). FileNotFoundError when it is not there."""
    bucket = objects()
    if bucket is None:
        return path_for(sha256).open("rb")
    copy = tempfile.SpooledTemporaryFile(max_size=CHUNK * 8)  # noqa: SIM115 — returned open
    try:
        bucket.bucket.Object(bucket._normalize_name(key_for(sha256))).download_fileobj(copy)
    except _object_errors() as exc:
        copy.close()
        if _missing(exc):
            raise FileNotFoundError(key_for(sha256)) from exc
        raise _unreachable(exc) from exc
    copy.seek(0)
    return copy  # type: ignore[return-value]  # a binary file object


def read_bytes(sha256: str) -> bytes:
    """The whole stored file (FileNotFoundError when it is not there)."""
    with open_stored(sha256) as handle:
        return handle.read()


def stamp(sha256: str) -> tuple[int, int, int]:
    """The stored file's identity without reading it (time, size and file or ETag): replacing
    the file changes it. (0, 0, 0) when it is not there or the store cannot say."""
    bucket = objects()
    unknown: tuple[type[BaseException], ...] = (OSError, ValueError, *_object_errors())
    try:
        if bucket is None:
            stat = path_for(sha256).stat()
            return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        head = bucket.connection.meta.client.head_object(
            Bucket=settings.S3_BUCKET, Key=bucket._normalize_name(key_for(sha256)))
        etag = int(hashlib.sha256(str(head.get("ETag", "")).encode()).hexdigest()[:15], 16)
        return (int(head["LastModified"].timestamp() * 1e9), int(head["ContentLength"]), etag)
    except unknown:
        return (0, 0, 0)


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


def stored_file_response(sha256: str, filename: str) -> HttpResponseBase:
    """Serve a stored file as a download (never rendered inline: uploads are untrusted), only
    after checking it still matches its digest. With ``S3_SIGNED_URL_DOWNLOADS`` the answer is
    a redirect to a short-lived signed URL of the checked object, naming it as an attachment."""
    bucket = objects()
    if bucket is not None and settings.S3_SIGNED_URL_DOWNLOADS:
        open_verified(sha256).close()
        url = bucket.url(key_for(sha256), parameters={
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": "application/octet-stream"})
        redirect = HttpResponseRedirect(url)
        redirect["X-Content-SHA256"] = sha256
        return redirect
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
