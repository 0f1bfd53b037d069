"""Monitoring through the API and the pages: outcomes and overrides posted by applications
(bad input answered 400 naming the field, nothing stored), live performance back-tested
against the validated figure, override rates, the owner's change agreed by the validator,
plans scoped to who may see them, and the plan's page with its control charts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core.models import AuditEvent
from governance.models import Notification
from monitoring import services
from monitoring.models import MonitoringPlan, Outcome, Override, PlanChange
from tests.governance.conftest import refusals
from tests.monitoring.conftest import log_predictions, population


def test_outcomes_and_overrides_feed_live_performance_and_override_rate(
        approve, validated, endpoint, api, people):
    version = approve()
    validated(version)
    endpoint("scoring", version)
    ids = log_predictions(version, population(200, seed=11))
    client = api.as_(people["dana"])

    bad = client.post("/api/v1/monitoring/outcomes/", {"endpoint": "scoring", "outcomes": [
        {"request_id": ids[0], "outcome": 1}, {"request_id": "", "outcome": {"x": 1}}]},
        format="json")
    assert bad.status_code == 400, bad.json()
    assert set(bad.json()["fields"]) == {"outcomes[1].request_id"}
    assert not Outcome.objects.exists()
    unknown = client.post("/api/v1/monitoring/outcomes/", {"endpoint": "nope", "outcomes": [
        {"request_id": ids[0], "outcome": 1}]}, format="json")
    assert unknown.status_code == 400 and "endpoint" in unknown.json()["fields"]

    # The applications' real outcomes are the opposite of what the model says: it has decayed.
    outcomes = [{"request_id": rid, "outcome": int(i % 2)} for i, rid in enumerate(ids)]
    posted = client.post("/api/v1/monitoring/outcomes/",
                         {"endpoint": "scoring", "outcomes": outcomes}, format="json")
    assert posted.status_code == 201 and posted.json() == {"received": 200, "new": 200}
    again = client.post("/api/v1/monitoring/outcomes/",
                        {"endpoint": "scoring", "outcomes": outcomes[:5]}, format="json")
    assert again.json() == {"received": 5, "new": 0}
    overrides = [{"request_id": rid, "reason": "policy_exception"} for rid in ids[:60]]
    posted = client.post("/api/v1/monitoring/overrides/",
                         {"endpoint": "scoring", "overrides": overrides}, format="json")
    assert posted.status_code == 201 and Override.objects.count() == 60
    assert AuditEvent.objects.filter(action="monitoring.outcomes_record").count() == 2
    # Auditors read; they record nothing.
    refused = api.as_(people["aude"]).post("/api/v1/monitoring/overrides/", {
        "endpoint": "scoring", "overrides": overrides[:1]}, format="json")
    assert refused.status_code == 403

    check = services.plan_check(plan_id=version.monitoring_plan.pk,
                                now=timezone.now() + dt.timedelta(seconds=30))
    assert check.details["performance"]["joined"] == 200
    assert check.statistics["performance_drop"] is not None
    assert check.statistics["override_rate"] == 60 / 200
    assert check.details["override_reasons"] == {"policy_exception": 60}
    assert {b["statistic"] for b in check.breaches} >= {"override_rate"}

    plan = client.get(f"/api/v1/monitoring/plans/{version.monitoring_plan.pk}/").json()
    assert plan["latest_check"]["statistics"]["override_rate"] == 0.3
    listed = api.as_(people["frank"]).get("/api/v1/monitoring/plans/").json()
    assert listed["results"] == []  # another team's model
    assert api.as_(people["frank"]).get(
        f"/api/v1/monitoring/plans/{version.monitoring_plan.pk}/").status_code == 404

    client = api.as_(people["dana"])  # the client was frank's above
    page = client.get(f"/monitoring/plans/{version.monitoring_plan.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Override rate over time" in html and "<svg" in html
    assert client.get("/monitoring/endpoints/scoring/").status_code == 200
    assert "Monitoring" in client.get("/").content.decode()


def test_the_owner_proposes_and_the_validator_agrees(approve, api, people):
    version = approve()
    plan = MonitoringPlan.objects.get(version=version)
    rules = {**plan.rules, "frequency_minutes": 30}
    url = f"/api/v1/monitoring/plans/{plan.pk}/propose/"
    assert api.as_(people["victor"]).post(url, {"rules": rules, "reason": "x"},
                                          format="json").status_code == 403
    invalid = api.as_(people["dana"]).post(url, {"rules": {**rules, "suspend": "no"},
                                                 "reason": "Faster."}, format="json")
    assert invalid.status_code == 400 and "rules.suspend" in invalid.json()["detail"]
    proposed = api.as_(people["dana"]).post(url, {"rules": rules, "reason": "Faster."},
                                            format="json")
    assert proposed.status_code == 201, proposed.json()
    change = PlanChange.objects.get()
    assert Notification.objects.filter(kind="monitoring_plan", user=people["victor"]).exists()
    plan.refresh_from_db()
    assert plan.rules["frequency_minutes"] == 360  # not before the validator agrees
    decide = f"/api/v1/monitoring/plan-changes/{change.pk}/agree/"
    assert api.as_(people["dana"]).post(decide, {}, format="json").status_code == 403
    agreed = api.as_(people["victor"]).post(decide, {"note": "Fine."}, format="json")
    assert agreed.status_code == 200 and agreed.json()["status"] == "agreed"
    plan.refresh_from_db()
    assert plan.rules["frequency_minutes"] == 30
    assert AuditEvent.objects.filter(action__in=["monitoring.change_propose",
                                                 "monitoring.change_agree"]).count() == 2
    assert Notification.objects.filter(kind="monitoring_plan", user=people["dana"]).exists()
    twice = api.as_(people["victor"]).post(decide, {}, format="json")
    assert twice.status_code == 409


def test_applications_post_outcomes_and_overrides_with_their_app_key(
        approve, validated, endpoint, app_key, people, deb):
    """An application posts outcomes and overrides with the key it calls the gateway with,
    for the endpoints the key is scoped to; a key for another endpoint is refused (403, recorded),
    a wrong or revoked key is not authenticated (401), each with a message saying what to do."""
    from rest_framework.test import APIClient

    from serving import appkeys
    from serving.models import AppKey

    version = approve()
    validated(version)
    scoring = endpoint("scoring", version)
    other = endpoint("other", version)
    ids = log_predictions(version, population(40, seed=12))
    key = app_key(scoring, name="loan-origination")
    other_key = app_key(other, name="collections")

    def post(what: str, token: str, items: list, slug: str = "scoring"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post(f"/api/v1/monitoring/{what}/", {"endpoint": slug, what: items},
                           format="json")

    outcomes = [{"request_id": rid, "outcome": 1, "sensitive": {"sex": "f"}} for rid in ids]
    posted = post("outcomes", key, outcomes)
    assert posted.status_code == 201, posted.json()
    assert posted.json() == {"received": 40, "new": 40}
    stored = Outcome.objects.get(request_id=ids[0])
    assert stored.recorded_by is None and stored.recorded_by_key.name == "loan-origination"
    event = AuditEvent.objects.filter(action="monitoring.outcomes_record").latest("pk")
    assert event.actor_id is None
    assert event.payload["app_key"]["name"] == "loan-origination"
    overrides = post("overrides", key, [{"request_id": ids[0], "reason": "customer_documents"}])
    assert overrides.status_code == 201
    assert Override.objects.get().recorded_by_key.name == "loan-origination"
    # Bad input from an application is a 400 naming the field, as for a person.
    bad = post("outcomes", key, [{"request_id": "", "outcome": 1}])
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"outcomes[0].request_id"}

    # A key scoped to another endpoint: 403, saying how to get the scope, and recorded.
    refused = post("outcomes", other_key, outcomes[:1])
    assert refused.status_code == 403
    assert "not scoped to endpoint 'scoring'" in refused.json()["detail"]
    assert "ask a deployer" in refused.json()["detail"]
    assert refusals(f"app:{other_key.split('_')[2]}") == 1
    assert post("overrides", other_key, [{"request_id": ids[1], "reason": "x"}]) \
        .status_code == 403
    # A key that is not one, a wrong secret, a revoked key: 401 with the header to send.
    for token in ("assay_app_nope", key[:-3] + "xyz"):
        wrong = post("outcomes", token, outcomes[:1])
        assert wrong.status_code == 401
        assert "Bearer assay_app_" in wrong.json()["detail"]
    appkeys.appkey_revoke(actor=deb, key=AppKey.objects.get(name="loan-origination"))
    revoked = post("outcomes", key, outcomes[:1])
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    # Without any credentials: 401/403 as for every API call; nothing more was stored.
    assert APIClient().post("/api/v1/monitoring/outcomes/", {
        "endpoint": "scoring", "outcomes": outcomes[:1]}, format="json").status_code in (401, 403)
    assert Outcome.objects.count() == 40
    # The outcomes posted by the application feed the checks like a person's.
    check = services.plan_check(plan_id=version.monitoring_plan.pk,
                                now=timezone.now() + dt.timedelta(seconds=30))
    assert check.details["performance"]["outcomes"] == 40
