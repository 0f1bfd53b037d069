"""The gateway as deployed: ``gunicorn serving.gateway.wsgi`` with two workers, against the test
database. A version that stops being servable is refused by every worker within 2 s; a
promotion drops no request; the rate limit is shared by the workers through Redis."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.models import SigningKey
from registry import storage
from registry.models import ModelVersion, SignatureKind, VersionState
from serving import appkeys
from serving.models import AppKey, Endpoint
from tests.serving.conftest import FIELDS

REPO = Path(__file__).resolve().parents[2]
BODY = json.dumps({"records": [FIELDS]}).encode()
VISIBLE_WITHIN_S = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    def post(self, slug: str = "scoring", key: str | None = None, body: bytes = BODY
             ) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", f"/predict/{slug}", body=body, headers={
                "Authorization": f"Bearer {key or self.key}", "Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def until(self, predicate, timeout: float = 5.0) -> float:
        """Seconds until every answer satisfies ``predicate``: the start of the first run of
        ten in a row that do (requests are spread over the workers, so each has switched)."""
        started = time.monotonic()
        streak, streak_start = 0, 0.0
        while time.monotonic() - started < timeout:
            sent = time.monotonic()
            if predicate(*self.post()):
                streak, streak_start = streak + 1, streak_start if streak else sent
                if streak == 10:
                    return streak_start - started
            else:
                streak = 0
            time.sleep(0.01)
        raise AssertionError(f"not seen within {timeout} s: last {self.post()}")


def start_gateway(tmp_path: Path, trust_path: Path, port: int, *,
                  start_within_s: float = 60) -> subprocess.Popen:
    name = connection.settings_dict["NAME"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
           "ASSAY_DATA_DIR": str(tmp_path), "ASSAY_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
           "ASSAY_GATEWAY_TRUSTED_KEYS": str(trust_path), "ASSAY_GATEWAY_REFRESH_MS": "500",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "ASSAY_GATEWAY_REQUEST_LOG": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "serving.gateway.wsgi", "-c",
         "serving/gateway/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + start_within_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else "gunicorn died")
        time.sleep(0.2)
    proc.kill()
    output = proc.communicate()[0].decode()
    raise AssertionError(f"the gateway did not start within {start_within_s:.0f} s:\n"
                         f"{output[-3000:]}")


@pytest.fixture
def served(transactional_db, approve, endpoint, app_key, trust_file, tmp_path):
    version = approve()
    scoring = endpoint("scoring", version)
    key = app_key(scoring, rate_limit=100_000)  # the load tests are not about the limit
    port = free_port()
    proc = start_gateway(tmp_path, trust_file(), port)
    yield Served(port, key), version
    proc.terminate()
    proc.wait(10)


def _suspend(version):
    ModelVersion.objects.filter(pk=version.pk).update(state=VersionState.SUSPENDED)


def _retire(version):
    ModelVersion.objects.filter(pk=version.pk).update(state=VersionState.RETIRED)


def _revoke_signing_key(version):
    key = version.current_signature(SignatureKind.APPROVAL).key
    SigningKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())


def _change_one_byte(version):
    path = storage.path_for(version.artifact_sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("change", "says"), [
    (_suspend, "is suspended"), (_retire, "is retired"),
    (_revoke_signing_key, "which is revoked"), (_change_one_byte, "does not match its SHA-256"),
])
def test_a_live_endpoint_stops_answering_within_2_seconds(served, change, says):
    gateway, version = served
    assert gateway.post()[0] == 200
    original = storage.path_for(version.artifact_sha256).read_bytes()
    try:
        changed_at = time.monotonic()
        change(version)
        elapsed = gateway.until(lambda status, body: status == 503)
        # Ten refusals in a row may all have come from workers that already looked again; once
        # the bound has passed since the change, every worker refuses, every time.
        time.sleep(max(0.0, changed_at + VISIBLE_WITHIN_S - time.monotonic()))
        answers = [gateway.post() for _ in range(20)]
    finally:
        path = storage.path_for(version.artifact_sha256)
        if path.read_bytes() != original:
            path.write_bytes(original)
            os.chmod(path, 0o444)
    assert elapsed < VISIBLE_WITHIN_S
    assert [status for status, _ in answers] == [503] * 20, answers
    assert all(body["code"] == "not_servable" and says in body["detail"]
               for _, body in answers), answers


def test_a_revoked_application_key_stops_within_2_seconds(served, deb):
    gateway, _version = served
    assert gateway.post()[0] == 200
    appkeys.appkey_revoke(actor=deb, key=AppKey.objects.get(), reason="leaked")
    assert gateway.until(lambda status, body: status == 401) < VISIBLE_WITHIN_S


def test_promotion_drops_no_request(served, approve):
    gateway, old = served
    new = approve((0.5, 0.5, 0.5))
    results: list[tuple[float, int, int | None]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            sent = time.monotonic()
            status, body = gateway.post()
            results.append((sent, status, body.get("version_id")))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    Endpoint.objects.filter(slug="scoring").update(primary_version=new)
    promoted = time.monotonic()
    time.sleep(VISIBLE_WITHIN_S + 1.0)
    stop.set()
    for t in threads:
        t.join()
    assert results and all(status == 200 for _, status, _ in results), \
        [r for r in results if r[1] != 200][:3]
    assert {version for _, _, version in results} == {old.pk, new.pk}
    late = [version for sent, _, version in results if sent > promoted + VISIBLE_WITHIN_S]
    assert late and set(late) == {new.pk}


def test_the_rate_limit_is_shared_by_the_workers(served, app_key):
    gateway, _version = served
    limited = app_key(Endpoint.objects.get(slug="scoring"), rate_limit=5, name="limited")
    time.sleep(1.5)  # every worker's view has the new key
    for _attempt in range(3):
        window = int(time.time())
        statuses = [gateway.post(key=limited)[0] for _ in range(12)]
        if int(time.time()) == window:
            break
        time.sleep(1.0)
    assert statuses.count(200) == 5 and statuses.count(429) == 7
