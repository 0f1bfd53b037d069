"""The file store in an S3-compatible bucket (ASSAY_S3_BUCKET), against a real S3 endpoint on
loopback (moto in server mode): files land under their digest, come back checked, download
through Assay or by a short-lived signed URL; an altered or missing object is refused and
recorded; an unreachable store refuses uploads with 503 and keeps nothing."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest
import requests
from django.db.models import Sum

from core.models.audit import SecurityEventCounter
from registry import storage
from registry.models import ModelVersion, VendorDocument
from tests.outage_services import free_port
from tests.registry.test_vendor_documents import pdf, vendor_model  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(settings, s3_endpoint, monkeypatch, tmp_path):
    """A fresh bucket as the file store; the artifact folder is empty and must stay so."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "assay-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "assay-test-secret")
    name = f"assay-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    settings.S3_BUCKET, settings.S3_ENDPOINT_URL = name, s3_endpoint
    settings.ARTIFACT_DIR = tmp_path / "not-used"
    return client, name


def object_bytes(bucket, sha256: str) -> bytes:
    client, name = bucket
    return client.get_object(Bucket=name, Key=f"files/{sha256[:2]}/{sha256}")["Body"].read()


def damaged_events(reason: str) -> int:
    return SecurityEventCounter.objects.filter(
        action="security.stored_file_damaged", reason=reason).aggregate(n=Sum("count"))["n"] or 0


def test_an_artifact_is_kept_in_the_bucket_under_its_digest_and_read_back(
        bucket, api, dana, credit_model, onnx_bytes):
    answer = api.as_(dana).post(f"/api/v1/models/{credit_model.slug}/versions/",
                                {"artifact": upload("model.onnx", onnx_bytes)},
                                format="multipart")
    assert answer.status_code == 201, answer.content
    sha256 = hashlib.sha256(onnx_bytes).hexdigest()
    assert ModelVersion.objects.get().artifact_sha256 == sha256
    assert object_bytes(bucket, sha256) == onnx_bytes
    assert storage.exists(sha256) and not storage.path_for(sha256).exists()
    with storage.open_stored(sha256) as handle:  # what the evaluation engine reads
        assert handle.read() == onnx_bytes
    assert storage.read_bytes(sha256) == onnx_bytes  # what the gateway loads
    assert storage.stamp(sha256)[1] == len(onnx_bytes)  # what its refresh compares
    assert storage.stamp("0" * 64) == (0, 0, 0)

    download = api.get(f"/api/v1/versions/{answer.json()['id']}/artifact/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == onnx_bytes
    assert download["X-Content-SHA256"] == sha256


def upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_downloads_can_redirect_to_a_short_lived_signed_url(bucket, settings, api, dana,
                                                            vendor_model):  # noqa: F811
    settings.S3_SIGNED_URL_DOWNLOADS, settings.S3_SIGNED_URL_TTL_S = True, 120
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    created = api.as_(dana).post(url, {"document": pdf()}, format="multipart").json()

    answer = api.get(f"{url}{created['id']}/")

    assert answer.status_code == 302
    signed = answer["Location"]
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=120" in signed
    fetched = requests.get(signed, timeout=10)
    assert fetched.ok and fetched.content == object_bytes(bucket, created["sha256"])
    assert "attachment" in fetched.headers["Content-Disposition"]


def test_an_altered_or_missing_object_is_refused_and_recorded(bucket, api, dana,
                                                              vendor_model):  # noqa: F811
    client, name = bucket
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"
    created = api.as_(dana).post(url, {"document": pdf()}, format="multipart").json()
    key = f"files/{created['sha256'][:2]}/{created['sha256']}"
    client.put_object(Bucket=name, Key=key, Body=b"%PDF-1.4 vendor facts, altered")

    altered = api.as_(dana).get(f"{url}{created['id']}/")
    assert altered.status_code == 503 and altered.json()["code"] == "stored_file_damaged"
    assert damaged_events("digest_mismatch") == 1

    client.delete_object(Bucket=name, Key=key)
    missing = api.as_(dana).get(f"{url}{created['id']}/")
    assert missing.status_code == 503 and "missing from the file store" in missing.json()["detail"]
    assert damaged_events("missing") == 1


def test_an_unreachable_store_refuses_uploads_with_503_and_keeps_nothing(
        bucket, settings, api, dana, vendor_model, client):  # noqa: F811
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    url = f"/api/v1/models/{vendor_model.slug}/vendor-documents/"

    answer = api.as_(dana).post(url, {"document": pdf()}, format="multipart")

    assert answer.status_code == 503 and answer["Retry-After"]
    assert "object store cannot be reached" in answer.json()["detail"]
    assert not VendorDocument.objects.exists()
    ready = client.get("/readyz").json()
    assert ready["checks"]["storage"].startswith("the object store bucket is unreachable")


def test_readiness_names_the_bucket_state(bucket, settings, client):
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"
    settings.S3_BUCKET = "assay-no-such-bucket"
    assert client.get("/readyz").json()["checks"]["storage"] \
        == "the object store bucket is unreachable or refused (ClientError)"
