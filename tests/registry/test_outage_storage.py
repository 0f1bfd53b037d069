"""The file store fails: full (a tmpfs of 64 KiB mounted as the artifact folder), read-only (the
same tmpfs remounted), or a stored file missing or altered after it was stored. Uploads answer
507/503 and keep nothing — no partial file, no row; downloads answer with the reason and are
recorded as security events."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from django.db.models import Sum

from core.models.audit import SecurityEventCounter
from registry import storage
from registry.models import VendorDocument
from tests.registry.test_vendor_documents import pdf, vendor_model  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.outage]


@pytest.fixture
def small_store(settings, tmp_path):
    """A 64 KiB file system as the artifact folder (skipped where mounting is not allowed)."""
    folder = tmp_path / "store"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    settings.ARTIFACT_DIR = folder
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def files_in(folder: Path) -> list[str]:
    return [name for _root, _dirs, names in os.walk(folder) for name in names]


def test_an_upload_to_a_full_store_answers_507_and_keeps_nothing(api, dana, vendor_model,  # noqa: F811
                                                                 small_store):
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    big = pdf(body=b"%PDF-1.4 " + os.urandom(200 * 1024))
    response = api.as_(dana).post(url, {"document": big}, format="multipart")
    assert response.status_code == 507, response.content
    assert response.json()["code"] == "insufficient_storage"
    assert "file store is full" in response.json()["detail"]
    assert response["Retry-After"]
    assert files_in(small_store) == [] and not VendorDocument.objects.exists()
    # A small one still fits: the store was left as it was.
    assert api.as_(dana).post(url, {"document": pdf()}, format="multipart").status_code == 201


def test_an_upload_to_a_read_only_store_answers_503_and_keeps_nothing(api, dana,
                                                                      vendor_model,  # noqa: F811
                                                                      small_store):
    subprocess.run(["mount", "-o", "remount,ro", str(small_store)], check=True)
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    response = api.as_(dana).post(url, {"document": pdf()}, format="multipart")
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["code"] == "unavailable"
    assert "cannot be written to" in response.json()["detail"]
    assert not VendorDocument.objects.exists()
    subprocess.run(["mount", "-o", "remount,rw", str(small_store)], check=True)
    assert files_in(small_store) == []


def damaged_events(reason: str) -> int:
    return SecurityEventCounter.objects.filter(
        action="security.stored_file_damaged", reason=reason).aggregate(n=Sum("count"))["n"] or 0


def test_a_download_of_an_altered_or_missing_file_is_refused_and_recorded(api, dana, client,
                                                                          vendor_model):  # noqa: F811
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    created = api.as_(dana).post(url, {"document": pdf()}, format="multipart").json()
    stored = storage.path_for(created["sha256"])
    stored.chmod(0o644)
    stored.write_bytes(b"%PDF-1.4 vendor facts, altered")

    altered = api.as_(dana).get(f"{url}{created['id']}/")
    assert altered.status_code == 503
    assert altered.json()["code"] == "stored_file_damaged"
    assert "no longer matches its SHA-256 digest" in altered.json()["detail"]
    assert damaged_events("digest_mismatch") == 1

    stored.unlink()
    missing = api.as_(dana).get(f"{url}{created['id']}/")
    assert missing.status_code == 503 and "missing from the file store" in missing.json()["detail"]
    client.force_login(dana)
    page = client.get(f"/models/{vendor_model.slug}/documents/{created['id']}/")
    assert page.status_code == 503 and "missing from the file store" in page.content.decode()
    assert damaged_events("missing") == 2


def test_storing_is_all_or_nothing(settings, tmp_path):
    """The store's own guarantee: a digest that does not match leaves no file behind."""
    settings.ARTIFACT_DIR = tmp_path / "store"
    with pytest.raises(ValueError, match="changed while it was being stored"):
        storage.store(io.BytesIO(b"some bytes"), "0" * 64)
    assert files_in(tmp_path / "store") == []
