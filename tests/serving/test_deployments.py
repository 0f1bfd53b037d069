"""Deployments through the API and the services (issue 14): create, canary, shadow, promote,
roll back, suspend and resume; who may; refusing versions that are not servable; endpoints that
say so the moment their version stops being servable; the history, audit and notifications."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core import signing
from core.audit import SYSTEM
from core.models import AuditEvent
from governance import services as governance
from governance.models import Notification, NotificationKind
from registry import services as registry
from registry.models import SignatureKind, VersionState
from serving import services
from serving.models import ChangeAction, Endpoint, EndpointStatus
from tests.conftest import approve_policy

pytestmark = pytest.mark.django_db
URL = "/api/v1/endpoints/"


def create(api, user, version, slug="credit-scoring", **extra):
    return api.as_(user).post(URL, {"slug": slug, "version": version.pk, **extra}, format="json")


def act(api, user, slug, action, body=None):
    return api.as_(user).post(f"{URL}{slug}/{action}/", body or {}, format="json")


def test_a_deployer_creates_an_endpoint_which_is_audited_recorded_and_told(api, devi, dana,
                                                                            approved):
    response = create(api, devi, approved, description="Retail loans")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "credit-scoring" and body["status"] == "active"
    assert body["primary_version"]["number"] == 1 and body["primary_version"]["servable"]
    assert body["serving"] is True and body["problems"] == []
    endpoint = Endpoint.objects.get(slug="credit-scoring")
    event = AuditEvent.objects.get(action="endpoint.create")
    assert event.actor_username == "devi" and event.model_id == approved.model_id
    assert event.payload["after"]["primary"] == str(approved)
    [change] = endpoint.changes.all()
    assert change.action == ChangeAction.CREATE and change.actor == devi
    notice = Notification.objects.get(user=dana, kind=NotificationKind.DEPLOYMENT)
    assert "deployed" in notice.title and notice.url == f"/deployments/{endpoint.slug}/"


def test_canary_promote_rollback_suspend_resume_through_the_api(api, devi, approved,
                                                                next_version):
    create(api, devi, approved)
    r = act(api, devi, "credit-scoring", "set-canary", {"version": next_version.pk,
                                                        "percent": 20})
    assert r.status_code == 200, r.json()
    assert r.json()["canary_version"]["number"] == 2 and r.json()["canary_percent"] == 20
    r = act(api, devi, "credit-scoring", "promote")
    assert r.status_code == 200
    assert r.json()["primary_version"]["number"] == 2
    assert r.json()["canary_version"] is None and r.json()["canary_percent"] == 0
    r = act(api, devi, "credit-scoring", "rollback", {"reason": "Declines doubled."})
    assert r.status_code == 200 and r.json()["primary_version"]["number"] == 1
    # Every promotion is rolled back: nothing left to roll back to.
    r = act(api, devi, "credit-scoring", "rollback", {"reason": "Again."})
    assert r.status_code == 409 and "nothing to roll back to" in r.json()["detail"]
    r = act(api, devi, "credit-scoring", "set-shadow", {"version": next_version.pk})
    assert r.status_code == 200 and r.json()["shadow_version"]["number"] == 2
    r = act(api, devi, "credit-scoring", "clear-shadow")
    assert r.status_code == 200 and r.json()["shadow_version"] is None
    r = act(api, devi, "credit-scoring", "suspend", {"reason": "Incident 42."})
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert r.json()["serving"] is False
    assert r.json()["problems"] == ["The endpoint is suspended: it answers no requests."]
    r = act(api, devi, "credit-scoring", "resume")
    assert r.status_code == 200 and r.json()["status"] == "active"
    history = api.as_(devi).get(f"{URL}credit-scoring/history/").json()["results"]
    assert [h["action"] for h in history] == [
        "resume", "suspend", "clear_shadow", "set_shadow", "rollback", "promote", "set_canary",
        "create"]
    assert history[4]["reason"] == "Declines doubled." and history[4]["actor"] == "devi"
    assert history[4]["previous_primary"] == str(next_version)
    actions = list(AuditEvent.objects.filter(action__startswith="endpoint.")
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["endpoint.create", "endpoint.set_canary", "endpoint.promote",
                       "endpoint.rollback", "endpoint.set_shadow", "endpoint.clear_shadow",
                       "endpoint.suspend", "endpoint.resume"]


def test_rollback_undoes_promotions_newest_first(devi, approved, next_version, walk, dana,
                                                 onnx_file):
    third = registry.version_create(actor=dana, model=approved.model, artifact=onnx_file())
    from tests.serving.conftest import approve_version
    approve_version(walk, third)
    endpoint = services.endpoint_create(actor=devi, slug="credit", version=approved)
    for version in (next_version, third):
        endpoint = services.endpoint_set_canary(actor=devi, endpoint=endpoint, version=version,
                                                percent=5)
        endpoint = services.endpoint_promote(actor=devi, endpoint=endpoint)
    assert services.rollback_target(endpoint) == next_version
    endpoint = services.endpoint_rollback(actor=devi, endpoint=endpoint, reason="v3 drifts")
    assert endpoint.primary_version == next_version
    assert services.rollback_target(endpoint) == approved
    endpoint = services.endpoint_rollback(actor=devi, endpoint=endpoint, reason="v2 too")
    assert endpoint.primary_version == approved
    assert services.rollback_target(endpoint) is None


@pytest.mark.parametrize(("body", "field"), [
    ({"percent": 0}, "percent"), ({"percent": 101}, "percent"), ({"percent": "half"}, "percent"),
    ({"percent": True}, "percent"), ({}, "percent"),
])
def test_a_canary_share_out_of_range_is_a_400_and_changes_nothing(api, devi, approved,
                                                                  next_version, body, field):
    create(api, devi, approved)
    r = act(api, devi, "credit-scoring", "set-canary", {"version": next_version.pk, **body})
    assert r.status_code == 400 and field in r.json()["fields"]
    assert Endpoint.objects.get().canary_version is None


def test_the_canary_cannot_be_the_primary_nor_another_models_version(api, devi, approved, frank,
                                                                     fraud_model, onnx_file):
    create(api, devi, approved)
    r = act(api, devi, "credit-scoring", "set-canary", {"version": approved.pk, "percent": 10})
    assert r.status_code == 400 and "already the primary" in r.json()["detail"]
    other = registry.version_create(actor=frank, model=fraud_model, artifact=onnx_file())
    r = act(api, devi, "credit-scoring", "set-canary", {"version": other.pk, "percent": 10})
    assert r.status_code == 400
    assert "must be a version of retail-scorecard" in r.json()["detail"]
    r = act(api, devi, "credit-scoring", "set-shadow", {"version": other.pk})
    assert r.status_code == 400 and "version" in r.json()["fields"]


@pytest.mark.parametrize(("body", "field"), [
    ({"slug": "has space"}, "slug"), ({"slug": ""}, "slug"), ({"production": "yes"}, "production"),
    ({"version": 999999}, "version"), ({"colour": "red"}, "colour"),
])
def test_bad_endpoint_input_is_a_400_naming_the_field(api, devi, approved, body, field):
    r = api.as_(devi).post(URL, {"slug": "ok", "version": approved.pk, **body}, format="json")
    assert r.status_code == 400 and field in r.json()["fields"], r.json()
    assert not Endpoint.objects.exists()


def test_a_taken_name_is_refused(api, devi, approved):
    create(api, devi, approved)
    r = create(api, devi, approved, slug="Credit-Scoring")
    assert r.status_code == 400 and "exists already" in r.json()["fields"]["slug"][0]


def test_a_version_that_is_not_servable_cannot_be_deployed_and_says_why(api, devi, draft):
    r = create(api, devi, draft)
    assert r.status_code == 409
    assert "not servable" in r.json()["detail"] and "draft, not approved" in r.json()["detail"]
    assert not Endpoint.objects.exists()


def test_a_version_suspended_between_the_check_and_the_write_is_not_deployed(
        api, devi, rhea, approved, monkeypatch):
    """The first check passes; a risk officer suspends the version before the endpoint is
    written; the write, which locks the version's row and checks again, refuses it."""
    check = services._require_deployable

    def check_then_suspended(*args, **kwargs):
        check(*args, **kwargs)
        governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=rhea,
                                      reason="Drift beyond tolerance.")

    monkeypatch.setattr(services, "_require_deployable", check_then_suspended)
    r = create(api, devi, approved)
    assert r.status_code == 409, r.json()
    assert "not servable" in r.json()["detail"] and "suspended" in r.json()["detail"]
    assert not Endpoint.objects.exists()
    assert not AuditEvent.objects.filter(action="endpoint.create").exists()


def test_an_endpoint_says_not_servable_right_after_its_version_is_suspended(api, devi, rhea,
                                                                            approved, client):
    create(api, devi, approved)
    governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=rhea,
                                  reason="Drift beyond tolerance.")
    body = api.as_(devi).get(f"{URL}credit-scoring/").json()
    assert body["serving"] is False and body["primary_version"]["servable"] is False
    assert body["problems"] == ["The primary version is not servable: Version 1 is suspended, "
                                "not approved."]
    client.force_login(devi)
    page = client.get("/deployments/credit-scoring/").content.decode()
    assert "Not serving as configured" in page and "Version 1 is suspended" in page
    listing = client.get("/deployments/").content.decode()
    assert "not servable" in listing
    # Resuming or re-pointing at it is refused with the reason.
    r = act(api, devi, "credit-scoring", "suspend", {"reason": "Version suspended."})
    assert r.status_code == 200
    r = act(api, devi, "credit-scoring", "resume")
    assert r.status_code == 409 and "suspended, not approved" in r.json()["detail"]


def test_an_endpoint_says_not_servable_right_after_its_artifact_key_is_revoked(api, devi,
                                                                              approved):
    create(api, devi, approved)
    keyid = approved.current_signature(SignatureKind.ARTIFACT).key_id
    signing.key_revoke(actor=SYSTEM, keyid=keyid, reason="Leaked.")
    body = api.as_(devi).get(f"{URL}credit-scoring/").json()
    assert body["serving"] is False
    assert "revoked on" in body["problems"][0]


def test_others_may_not_deploy_and_developers_not_to_production(api, dana, rhea, aude, dirk,
                                                                approved):
    for user in (dana, rhea):
        r = create(api, user, approved)
        assert r.status_code == 403 and "Only deployers" in r.json()["detail"]
    assert create(api, aude, approved).status_code == 403  # auditors only read
    r = create(api, dirk, approved)
    assert r.status_code == 403 and "segregation of duties" in r.json()["detail"]
    r = create(api, dirk, approved, slug="credit-sandbox", production=False)
    assert r.status_code == 201
    assert Endpoint.objects.get().slug == "credit-sandbox"


def test_an_endpoint_of_a_model_you_may_not_see_is_a_404(api, devi, frank, approved):
    create(api, devi, approved)
    assert api.as_(frank).get(f"{URL}credit-scoring/").status_code == 404
    assert act(api, frank, "credit-scoring", "suspend", {"reason": "x"}).status_code == 404
    assert api.as_(frank).get(URL).json()["results"] == []


def test_a_reason_is_required_to_suspend_and_roll_back(api, devi, approved):
    create(api, devi, approved)
    r = act(api, devi, "credit-scoring", "suspend", {})
    assert r.status_code == 400 and "reason" in r.json()["fields"]
    assert Endpoint.objects.get().status == EndpointStatus.ACTIVE


def test_the_version_page_lists_the_endpoints_it_is_deployed_to(client, devi, dana, approved,
                                                                 next_version):
    endpoint = services.endpoint_create(actor=devi, slug="credit", version=approved)
    services.endpoint_set_canary(actor=devi, endpoint=endpoint, version=next_version,
                                 percent=10)
    client.force_login(dana)
    page = client.get(reverse("registry:version-detail", args=["retail-scorecard", 2]))
    assert "Deployed to" in page.content.decode()
    assert "as canary (10%)" in page.content.decode()
    page = client.get(reverse("registry:version-detail", args=["retail-scorecard", 1]))
    assert "as primary" in page.content.decode()


def test_a_tier_3_policy_may_let_developers_deploy_to_production(api, adam, dana, rhea, walk,
                                                                 credit_model, onnx_file,
                                                                 make_user, policy):
    """Read through governance's policy code: the bound policy's tier-3 rules."""
    import copy

    from core.models import Role
    from governance.policy import TEMPLATES
    from tests.governance.conftest import ALL_LOW

    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tiers"]["3"]["developers_may_deploy"] = True
    relaxed = governance.policy_version_create(actor=adam, policy_slug="relaxed",
                                               name="Relaxed", definition=definition)
    approve_policy(relaxed)
    governance.intake_record(actor=dana, model=credit_model, is_model=True, answers=ALL_LOW,
                             rationale="An internal ranking with no decisions about people.")
    developer = make_user("dev-ops", Role.DEPLOYER, team="credit")
    credit_model.developers.add(developer)
    version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    walk.to_pending(version)
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    assert create(api, developer, version).status_code == 201
