"""Sign-offs carry optional conditions (issue 14): given on the form or through the API, shown on
the workflow and version pages, and listed in the signed approval attestation with each
sign-off's role, time and decision. The admin shows the signatures read-only."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from core.models import AuditEvent
from governance import services
from registry.models import SignatureKind, VersionSignature, VersionState
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attestation(version) -> dict:
    bundle = version.current_signature(SignatureKind.APPROVAL).bundle
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["predicate"]


def test_conditions_given_through_the_api_are_signed_into_the_attestation(walk, draft, api,
                                                                          boris, client, dana):
    version = walk.to_pending(draft)
    response = api.as_(boris).post(
        f"/api/v1/versions/{version.pk}/sign-off/",
        {"decision": "approve", "comment": "Sound.", "password": PASSWORD,
         "conditions": "Refer declines above 50k to a credit officer."}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["conditions"] == "Refer declines above 50k to a credit officer."
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    said = attestation(version)
    assert [(s["signer"], s["role"], s["decision"], s["conditions"]) for s in said["signoffs"]] \
        == [("boris", "review_board", "approve", "Refer declines above 50k to a credit officer."),
            ("rhea", "risk_officer", "approve", "")]
    assert all(s["signed_at"] and s["invalidated_at"] is None for s in said["signoffs"])
    event = AuditEvent.objects.get(action="signoff.record", actor_username="boris")
    assert event.payload["conditions"] == "Refer declines above 50k to a credit officer."
    client.force_login(dana)
    page = client.get(reverse("registry:version-detail",
                              args=[version.model.slug, version.number])).content.decode()
    assert "conditions: Refer declines above 50k to a credit officer." in page
    workflow = api.as_(dana).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert workflow["signoffs"][0]["conditions"] == "Refer declines above 50k to a credit officer."


def test_conditions_on_the_sign_off_form(walk, draft, client, boris):
    version = walk.to_pending(draft)
    client.force_login(boris)
    url = reverse("governance:sign", args=[version.model.slug, version.number])
    response = client.post(url, {"decision": "approve", "comment": "Fine.",
                                 "conditions": "Monitor monthly.", "password": PASSWORD})
    assert response.status_code == 302
    assert version.signoffs.get().conditions == "Monitor monthly."


def test_a_rejection_with_conditions_is_a_400_and_signs_nothing(walk, draft, api, boris):
    version = walk.to_pending(draft)
    response = api.as_(boris).post(
        f"/api/v1/versions/{version.pk}/sign-off/",
        {"decision": "reject", "comment": "No.", "password": PASSWORD, "conditions": "x"},
        format="json")
    assert response.status_code == 400 and "conditions" in response.json()["fields"]
    assert not version.signoffs.exists()


def test_the_attestation_lists_the_waivers_controls_and_limits(walk, draft):
    """Checked against issue 14's list: model and version, policy version, tier, sign-offs (who,
    role, when, decision, conditions), evidence (check, status, result and dataset digests),
    waivers with expiry, and the chain head."""
    version = walk.to_pending(draft)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    said = attestation(version)
    assert {"model", "version", "policy_version", "tier", "signoffs", "evidence", "waivers",
            "audit_chain_head"} <= set(said)
    assert {"signer", "role", "signed_at", "decision", "conditions"} <= set(said["signoffs"][0])
    assert {"check", "status", "result_digest", "dataset_digests"} <= set(said["evidence"][0])


def test_the_signature_admin_is_read_only(client, walk, draft, adam, aude):
    version = walk.to_pending(draft)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    signature = VersionSignature.objects.filter(version=version).first()
    for user in (adam, aude):
        client.force_login(user)
        listing = client.get("/admin/registry/versionsignature/")
        assert listing.status_code == 200 and "In force" in listing.content.decode()
        change = client.get(f"/admin/registry/versionsignature/{signature.pk}/change/")
        assert change.status_code == 200
        assert 'name="_save"' not in change.content.decode()
        assert client.get("/admin/registry/versionsignature/add/").status_code == 403
        assert client.post(f"/admin/registry/versionsignature/{signature.pk}/delete/",
                           {"post": "yes"}).status_code == 403
    assert VersionSignature.objects.filter(pk=signature.pk).exists()


def test_services_take_conditions(walk, draft, boris):
    version = walk.to_pending(draft)
    signoff = services.signoff_record(actor=boris, version=version, decision="approve",
                                      comment="ok", password=PASSWORD, conditions="  Annual.  ")
    assert signoff.conditions == "Annual."
