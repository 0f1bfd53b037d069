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
