"""The gateway in-process: what it answers with, what it refuses (tamper and policy matrix),
input validation, keys, rate limit, canary routing, shadow predictions and the prediction log.
The same app under gunicorn, live: tests/serving/test_gateway_process.py."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import time

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import SigningKey
from core.models.audit import SecurityEventCounter
from governance.models import Waiver, WaiverStatus
from registry import storage
from registry.models import SignatureKind, VersionSignature, VersionState
from serving.gateway.app import canary_share
from serving.models import AppKey, PredictionLog
from tests.governance.part2 import ALL_HIGH, approve_with_waived_evidence, version_for
from tests.serving.conftest import FIELDS, expected_score, scoring_file

pytestmark = pytest.mark.django_db

BODY = {"records": [FIELDS]}


@pytest.fixture
def live(approve, endpoint, app_key, gateway):
    """One approved version on endpoint "scoring", a key for it, a refreshed gateway."""
    version = approve()
    scoring = endpoint("scoring", version)
    key = app_key(scoring)
    return {"version": version, "endpoint": scoring, "key": key, "gw": gateway()}


@contextlib.contextmanager
def changed_byte(path):
    """One byte of a stored artifact flipped, restored afterwards (the store outlives a test)."""
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    try:
        yield
    finally:
        path.write_bytes(original)
        os.chmod(path, 0o444)


def refused(gw, key, slug="scoring"):
    status, _headers, body = gw.refresh().post(slug, BODY, key)
    assert status == 503, body
    return body


def test_an_approved_version_answers_with_its_version_digest_and_attestation(live):
    version, gw = live["version"], live["gw"]
    status, headers, body = gw.post("scoring", {"records": [FIELDS, FIELDS]}, live["key"])
    assert status == 200, body
    approval = version.current_signature(SignatureKind.APPROVAL)
    payload = base64.b64decode(approval.bundle["dsseEnvelope"]["payload"])
    assert body["version"] == version.number and body["version_id"] == version.pk
    assert body["artifact_sha256"] == version.artifact_sha256
    assert body["attestation"] == {"id": approval.pk, "sha256": hashlib.sha256(payload).hexdigest()}
    assert body["role"] == "primary" and len(body["predictions"]) == 2
    assert body["predictions"][0]["score"][0] == pytest.approx(expected_score(), rel=1e-5)
    assert headers["X-Request-Id"]


def test_columns_are_accepted_as_well_as_records(live):
    status, _h, body = live["gw"].post("scoring", {"columns": {k: [v, v] for k, v in
                                                               FIELDS.items()}}, live["key"])
    assert status == 200 and len(body["predictions"]) == 2


@pytest.mark.parametrize(("payload", "named", "says"), [
    ({"records": [{"age": 41.0, "income": 2.5}]}, "children", "missing 'children'"),
    ({"records": [{**FIELDS, "postcode": "N1"}]}, "postcode", "unknown 'postcode'"),
    ({"records": [{**FIELDS, "income": "lots"}]}, "income", "holds text"),
    ({"records": [{**FIELDS, "children": 2.5}]}, "children", "not whole numbers"),
    ({"records": [{**FIELDS, "age": [41]}]}, "age", "number or a string"),
    ({"columns": {"age": [1.0], "income": [2.0]}}, "children", "missing 'children'"),
    ({"rows": [FIELDS]}, "rows", "exactly one of"),
])
def test_bad_input_is_a_400_naming_the_field(live, payload, named, says):
    status, _h, body = live["gw"].post("scoring", payload, live["key"])
    assert status == 400
    assert says in body["detail"] and named in body["fields"]
    assert body["code"] == "invalid"


def test_body_that_is_not_json_and_batches_over_the_cap_are_refused(live, settings):
    assert live["gw"].post("scoring", b"{nope", live["key"])[0] == 400
    settings.GATEWAY_MAX_BATCH_ROWS = 3
    status, _h, body = live["gw"].post("scoring", {"records": [FIELDS] * 4}, live["key"])
    assert status == 400 and "split the batch" in body["detail"]
    settings.GATEWAY_MAX_BODY_BYTES = 50
    status, _h, body = live["gw"].post("scoring", BODY, live["key"])
    assert status == 413 and body["code"] == "too_large"


# --- keys --------------------------------------------------------------------------------------

def test_no_key_a_wrong_key_and_a_revoked_key_are_401(live, deb):
    gw, key = live["gw"], live["key"]
    assert gw.post("scoring", BODY)[0] == 401
    assert gw.post("scoring", BODY, key[:-2] + "xx")[0] == 401
    from serving.appkeys import appkey_revoke
    appkey_revoke(actor=deb, key=AppKey.objects.get(), reason="leaked")
    status, headers, body = gw.refresh().post("scoring", BODY, key)
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert "revoked key no longer works" in body["detail"]


def test_a_key_scoped_to_another_endpoint_is_403(live, endpoint, app_key):
    other = endpoint("other", live["version"])
    other_key = app_key(other)
    status, _h, body = live["gw"].refresh().post("scoring", BODY, other_key)
    assert status == 403 and "may not call endpoint 'scoring'" in body["detail"]
    assert live["gw"].post("other", BODY, other_key)[0] == 200


def test_over_the_rate_limit_is_429_with_retry_after(live, endpoint, app_key):
    limited = app_key(live["endpoint"], rate_limit=3, name="limited")
    gw = live["gw"].refresh()
    # Within one second-window: three pass, the fourth waits (retry the lot if a window ended).
    for _attempt in range(3):
        window = int(time.time())
        statuses = [gw.post("scoring", BODY, limited)[0] for _ in range(4)]
        if int(time.time()) == window:
            break
    assert statuses == [200, 200, 200, 429]
    status, headers, body = gw.post("scoring", BODY, limited)
    if status == 429:
        assert headers["Retry-After"] == "1" and "3 requests per second" in body["detail"]


# --- fail closed: the tamper and policy matrix -------------------------------------------------

def test_one_byte_changed_in_the_stored_artifact_is_refused(live):
    with changed_byte(storage.path_for(live["version"].artifact_sha256)):
        body = refused(live["gw"], live["key"])
    assert body["code"] == "not_servable" and "does not match its SHA-256" in body["detail"]


def test_a_swapped_artifact_is_refused(live, approve):
    """The version row pointed at another stored artifact (as someone writing the table
    would): the signatures are for the old digest."""
    other = approve((0.5, 0.5, 0.5))
    version = live["version"]
    type(version).objects.filter(pk=version.pk).update(artifact_sha256=other.artifact_sha256)
    body = refused(live["gw"], live["key"])
    assert "signature" in body["detail"] and "does not verify" in body["detail"]


def test_another_versions_bundle_is_refused(live, approve):
    other = approve((0.5, 0.5, 0.5))
    version = live["version"]
    stolen = other.current_signature(SignatureKind.ARTIFACT)
    VersionSignature.objects.create(version=version, kind=SignatureKind.ARTIFACT,
                                    key=stolen.key, artifact_sha256=version.artifact_sha256,
                                    bundle=stolen.bundle)
    body = refused(live["gw"], live["key"])
    assert "artifact signature" in body["detail"] and "does not verify" in body["detail"]


def test_a_key_missing_from_the_trust_file_is_refused_even_if_the_database_lists_it(live):
    path = live["gw"].refresher.builder.trust_path
    document = json.loads(path.read_text())
    document["keys"] = [k for k in document["keys"] if k["purpose"] != "approval"]
    path.write_text(json.dumps(document))
    body = refused(live["gw"], live["key"])
    assert "approval attestation" in body["detail"] and "trusted keys" in body["detail"]


def test_a_revoked_signing_key_is_refused(live):
    key = live["version"].current_signature(SignatureKind.ARTIFACT).key
    SigningKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    body = refused(live["gw"], live["key"])
    assert "which is revoked" in body["detail"]


@pytest.mark.parametrize("state", [VersionState.SUSPENDED, VersionState.RETIRED])
def test_a_suspended_or_retired_version_is_refused(live, state):
    version = live["version"]
    type(version).objects.filter(pk=version.pk).update(state=state)
    body = refused(live["gw"], live["key"])
    assert f"is {state}" in body["detail"] and "Nothing is served in its place" in body["detail"]


def test_an_expired_waiver_the_policy_makes_suspending_is_refused_before_the_beat_runs(
        walk, strict_policy, credit_model, endpoint, app_key, gateway):
    """Tier 1 of the strict policy suspends when a waiver expires; the gateway does not wait for
    the beat task that will suspend the version."""
    version = version_for(walk, credit_model, scoring_file, answers=ALL_HIGH)
    waiver = approve_with_waived_evidence(walk, version)
    assert version.state == VersionState.APPROVED
    key = app_key(endpoint("scoring", version))
    gw = gateway()
    assert gw.post("scoring", BODY, key)[0] == 200
    Waiver.objects.filter(pk=waiver.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    body = refused(gw, key)
    assert f"Waiver {waiver.pk}" in body["detail"] and "has expired" in body["detail"]
    assert Waiver.objects.get(pk=waiver.pk).status == WaiverStatus.ACTIVE  # the beat has not run


def test_a_refusal_is_one_folded_audit_event_not_one_per_request(live):
    version = live["version"]
    type(version).objects.filter(pk=version.pk).update(state=VersionState.SUSPENDED)
    gw = live["gw"]
    for _ in range(5):
        refused(gw, live["key"])
    # Recorded through record_security, which counts beside the test's transaction.
    counted = SecurityEventCounter.objects.filter(action="serving.refused")
    assert [(c.principal, c.reason, c.count) for c in counted] == [
        (f"version:{version.pk}", "not_approved", 1)]
    assert counted.get().payload["endpoint"] == "scoring"


def test_nothing_is_served_without_a_trust_file(live):
    live["gw"].refresher.builder.trust_path.unlink()
    body = refused(live["gw"], live["key"])
    assert "gateway_trust_export" in body["detail"]


def test_a_stale_view_serves_nothing(live, settings):
    settings.GATEWAY_STALE_MS = 0
    status, _h, body = live["gw"].post("scoring", BODY, live["key"])
    assert status == 503 and "out of date" in body["detail"]


# --- canary, shadow, log, metrics ---------------------------------------------------------------

def test_canary_routing_is_deterministic_per_routing_key(live, approve):
    canary = approve((0.5, 0.5, 0.5))
    endpoint = live["endpoint"]
    endpoint.canary_version, endpoint.canary_percent = canary, 30
    endpoint.save()
    gw = live["gw"].refresh()
    secret = gw.app.secret
    roles = {}
    for n in range(40):
        status, _h, body = gw.post("scoring", {**BODY, "routing_key": f"customer-{n}"},
                                   live["key"])
        assert status == 200
        roles[n] = (body["role"], body["version_id"])
        again = gw.post("scoring", {**BODY, "routing_key": f"customer-{n}"}, live["key"])[2]
        assert (again["role"], again["version_id"]) == roles[n]
        expect_canary = canary_share(f"customer-{n}", secret) < 30
        assert roles[n] == (("canary", canary.pk) if expect_canary else
                            ("primary", live["version"].pk))
    assert {role for role, _ in roles.values()} == {"canary", "primary"}


def test_shadow_predictions_are_logged_never_returned(live, approve):
    shadow = approve((0.5, 0.5, 0.5))
    endpoint = live["endpoint"]
    endpoint.shadow_version = shadow
    endpoint.save()
    gw = live["gw"].refresh()
    status, headers, body = gw.post("scoring", BODY, live["key"])
    assert status == 200 and body["version_id"] == live["version"].pk
    assert "shadow" not in json.dumps(body)
    deadline = time.monotonic() + 5
    while len(gw.writer.pending) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    gw.writer.flush()
    rows = {row.role: row for row in PredictionLog.objects.filter(
        request_id=headers["X-Request-Id"])}
    assert set(rows) == {"primary", "shadow"}
    assert rows["shadow"].version_id == shadow.pk
    assert rows["shadow"].outputs[0]["score"][0] == pytest.approx(
        expected_score((0.5, 0.5, 0.5)), rel=1e-5)
    assert rows["primary"].outputs == body["predictions"]


def test_the_log_drops_and_hmacs_configured_fields_and_honours_sampling(live, settings):
    settings.GATEWAY_LOG_DROP_FIELDS = ["age"]
    settings.GATEWAY_LOG_HMAC_FIELDS = ["income"]
    from serving.gateway.predlog import Writer
    gw = live["gw"]
    gw.app.log = gw.writer = Writer(background=False)
    gw.post("scoring", BODY, live["key"])
    settings.GATEWAY_LOG_SAMPLE_RATE = 0.0
    gw.post("scoring", BODY, live["key"])
    assert gw.writer.flush() == 1
    logged = PredictionLog.objects.get().inputs[0]
    assert "age" not in logged and logged["children"] == 2
    assert logged["income"].startswith("hmac-sha256:") and "2.5" not in logged["income"]
    assert logged["income"] == gw.writer.redactor.mask(2.5)


def test_old_log_rows_are_purged_after_the_retention_period(live, settings):
    from serving.gateway.predlog import purge
    gw = live["gw"]
    gw.post("scoring", BODY, live["key"])
    gw.writer.flush()
    settings.GATEWAY_LOG_RETENTION_DAYS = 7
    PredictionLog.objects.update(created_at=timezone.now() - dt.timedelta(days=8))
    assert purge() == 1 and not PredictionLog.objects.exists()


def test_metrics_count_requests_latency_and_errors_per_endpoint_and_version(live):
    gw = live["gw"]
    gw.post("scoring", BODY, live["key"])
    gw.post("scoring", {"records": [{}]}, live["key"])
    status, headers, text = gw.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    version = f'{live["version"].model.slug} v{live["version"].number}'
    samples = [s for family in text_string_to_metric_families(text.decode())
               for s in family.samples]

    def value(name, **labels):
        return sum(s.value for s in samples if s.name == name and all(
            s.labels.get(k) == v for k, v in labels.items()))

    assert value("assay_gateway_requests_total", endpoint="scoring", version=version,
                 status="200") >= 1
    assert value("assay_gateway_request_duration_seconds_count", endpoint="scoring",
                 version=version) >= 1
    assert value("assay_gateway_errors_total", endpoint="scoring", version=version,
                 reason="invalid_payload") >= 1


def test_with_a_metrics_token_set_the_metrics_answer_only_a_scraper_that_sends_it(
        live, settings):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    gw = live["gw"]
    assert gw.get("/metrics")[0] == 401
    assert gw.get("/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, text = gw.get("/metrics", {"Authorization": "Bearer scrape-secret-0123456789"})
    assert status == 200 and b"assay_gateway_requests_total" in text
