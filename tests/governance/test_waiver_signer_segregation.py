"""Issue 18: segregation of duties across steps. The risk officer who granted a waiver on a
version cannot be the one who puts it into service: not its final signer (a tier-3 version
needs a single risk officer's sign-off, so waiving and signing would approve it alone), and not
who reinstates it once suspended. The pages and the API say why the button is missing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import PermissionRefused
from governance import services
from governance.gates import case_for
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.conftest import PASSWORD
from tests.governance.conftest import ALL_LOW, counting_evidence

pytestmark = pytest.mark.django_db
S = VersionState


@pytest.fixture
def rita(make_user):
    return make_user("rita", "risk_officer")


def sign(user, version):
    return services.signoff_record(actor=user, version=version, decision="approve",
                                   comment=f"{user.username} approves", password=PASSWORD)


def state_of(version) -> str:
    return ModelVersion.objects.get(pk=version.pk).state


@pytest.fixture
def tier_three_waived_by_rhea(walk, strict_policy, credit_model, rhea, onnx_file):
    """A tier-3 version (one risk officer signs) whose failing fairness check rhea waived."""
    services.intake_record(actor=rhea, model=credit_model, is_model=True, answers=ALL_LOW)
    version = registry.version_create(actor=walk.p["dana"], model=credit_model,
                                      artifact=onnx_file())
    walk.submit(version)
    walk.assign(version)
    counting_evidence(version, "performance", figures={"auc": 0.8},
                      launched_by=walk.p["victor"])
    counting_evidence(version, "fairness", status="failed", launched_by=walk.p["victor"])
    services.waiver_grant(actor=rhea, version=version, check="fairness", reason="Known gap.",
                          compensating_controls="Manual review of declines.",
                          limits_of_use="Pilot branches only.",
                          expires_at=timezone.now() + dt.timedelta(days=30))
    walk.review(version)
    assert case_for(version).required_roles == {"risk_officer": 1}
    assert state_of(version) == S.PENDING_APPROVAL
    return version


def test_the_risk_officer_who_waived_cannot_be_the_single_signer_of_a_tier_three_version(
        tier_three_waived_by_rhea, rhea, rita):
    version = tier_three_waived_by_rhea
    with pytest.raises(PermissionRefused, match="granted a waiver on this version"):
        sign(rhea, version)
    assert state_of(version) == S.PENDING_APPROVAL
    sign(rita, version)
    assert state_of(version) == S.APPROVED


def test_the_workflow_page_and_the_api_say_why_the_waiver_granter_may_not_sign(
        tier_three_waived_by_rhea, rhea, rita, client, api):
    version = tier_three_waived_by_rhea
    client.force_login(rhea)
    page = client.get(reverse("governance:workflow", args=[version.model.slug, version.number]))
    body = page.content.decode()
    assert 'id="sign-off-refused"' in body and "granted a waiver on this version" in body
    assert reverse("governance:sign", args=[version.model.slug, version.number]) not in body
    status = api.as_(rhea).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert "sign_off" not in status["actions"]
    assert "granted a waiver" in status["sign_off_refused"]
    other = api.as_(rita).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert "sign_off" in other["actions"] and other["sign_off_refused"] is None


def test_the_waiver_granter_cannot_reinstate_the_suspended_version_alone(
        tier_three_waived_by_rhea, walk, rhea, rita):
    version = tier_three_waived_by_rhea
    sign(rita, version)
    services.version_transition(version=version, to=S.SUSPENDED, actor=rita,
                                reason="Complaint about declines.")
    version.refresh_from_db()
    assert "reinstate" not in services.available_actions(rhea, version)
    with pytest.raises(PermissionRefused, match="another risk officer must reinstate"):
        services.version_transition(version=version, to=S.APPROVED, actor=rhea,
                                    reason="Looks fine to me.")
    assert state_of(version) == S.SUSPENDED
    services.version_transition(version=version, to=S.APPROVED, actor=rita,
                                reason="Complaint answered.")
    assert state_of(version) == S.APPROVED
