"""Outcomes posted by applications, counted once per window into mergeable sums: live
fairness across the sensitive attributes supplied (thresholded by the tier policy's disparity
limits, alerting like any statistic, on the page and through the API), and regression
performance back-tested against the validated figure."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone

from governance.models import Finding, FindingSource, Notification, NotificationKind
from monitoring import services
from monitoring.models import MonitoringWindow
from tests.monitoring.conftest import log_predictions, population, scores_of


def later(seconds: float = 30) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_live_fairness_breaches_the_policys_disparity_limit(approve, validated, endpoint, api,
                                                              people):
    version = approve()
    validated(version)
    endpoint("scoring", version)
    frame = population(400, seed=21)
    ids = log_predictions(version, frame)
    scores = scores_of(frame)
    low = set(np.argsort(scores)[:60].tolist())
    # Applicants in group "b" are the 60 the model scores lowest (about half of them below the
    # decision threshold): a large gap in selection rates.
    outcomes = [{"request_id": rid, "outcome": int(score > 0.6),
                 "sensitive": {"group": "b" if i in low else "a"}}
                for i, (rid, score) in enumerate(zip(ids, scores, strict=True))]
    client = api.as_(people["dana"])
    for start in range(0, 400, 200):
        assert client.post("/api/v1/monitoring/outcomes/", {
            "endpoint": "scoring", "outcomes": outcomes[start:start + 200]},
            format="json").status_code == 201
    plan = version.monitoring_plan
    # The tier's policy requires dp_ratio >= 0.8 and eo_difference <= 0.1 of the bias check.
    assert services.fairness_limits(plan) == {
        "dp_ratio_shortfall": {"limit": 0.19999999999999996, "severe": None},
        "eo_difference": {"limit": 0.1, "severe": None}}
    check = services.plan_check(plan_id=plan.pk, now=later())
    assert check.details["performance"] == {**check.details["performance"], "outcomes": 400,
                                            "joined": 400}
    groups = {g["value"]: g for g in check.details["fairness"]["group"]["groups"]}
    assert groups["b"]["count"] == 60 and groups["a"]["count"] == 340
    assert groups["a"]["selection_rate"] == 1.0 and 0 < groups["b"]["selection_rate"] < 0.8
    assert groups["a"]["selection_rate"] > groups["b"]["selection_rate"]
    assert check.statistics["dp_ratio_shortfall"] > 0.2
    breached = {b["statistic"] for b in check.breaches}
    assert "dp_ratio_shortfall" in breached
    finding = Finding.objects.get(source=FindingSource.MONITORING,
                                  source_key="monitoring:dp_ratio_shortfall")
    assert "dp_ratio_shortfall" in finding.title
    alerted = set(Notification.objects.filter(kind=NotificationKind.MONITORING_ALERT,
                                              title__contains="dp_ratio_shortfall")
                  .values_list("user__username", flat=True))
    assert alerted == {"dana", "victor"}

    # The window holds the outcomes' sums once: the next check reads no outcome again.
    window = MonitoringWindow.objects.filter(plan=plan).latest("end")
    assert window.outcomes["received"] == 400 and window.outcomes["n"] == 400
    again = services.plan_check(plan_id=plan.pk, now=later(60))
    assert MonitoringWindow.objects.filter(plan=plan).latest("end").outcomes is None
    assert again.details["performance"]["joined"] == 400  # merged from the earlier window
    assert again.statistics["dp_ratio_shortfall"] == check.statistics["dp_ratio_shortfall"]

    api_plan = client.get(f"/api/v1/monitoring/plans/{plan.pk}/").json()
    assert api_plan["latest_check"]["details"]["fairness"]["group"]["disparities"][
        "dp_ratio_shortfall"] > 0.2
    html = client.get(f"/monitoring/plans/{plan.pk}/").content.decode()
    assert "Fairness on live outcomes" in html and "By group" in html
    assert "Dp ratio shortfall over time" in html


def test_regression_performance_is_back_tested_from_the_windows(approve, validated, endpoint,
                                                                  api, people, settings):
    # Checks at the real time, each window ending now: the outcomes posted between two checks
    # are recorded in the second one's window.
    settings.MONITORING_LOG_LAG_S = 0
    version = approve()
    version.model.task = "regression"
    version.model.save(update_fields=["task"])
    validated(version)
    endpoint("scoring", version)
    frame = population(300, seed=22)
    ids = log_predictions(version, frame)
    scores = scores_of(frame)
    plan = version.monitoring_plan
    first = services.plan_check(plan_id=plan.pk)
    assert first.statistics["performance_drop"] is None  # no outcome yet
    assert "dp_ratio_shortfall" not in first.statistics and "mae_difference" in first.statistics
    plan.refresh_from_db()
    plan.reference["validated"] = {"rmse": 0.1, "mae": 0.08}
    plan.save(update_fields=["reference"])
    client = api.as_(people["dana"])
    # Actual values 0.3 above the predictions in region "n", 0.1 in region "s".
    outcomes = [{"request_id": rid, "outcome": score + (0.3 if i % 2 else 0.1),
                 "sensitive": {"region": "n" if i % 2 else "s"}}
                for i, (rid, score) in enumerate(zip(ids, scores, strict=True))]
    client.post("/api/v1/monitoring/outcomes/", {"endpoint": "scoring",
                                                  "outcomes": outcomes[:150]}, format="json")
    second = services.plan_check(plan_id=plan.pk)
    client.post("/api/v1/monitoring/outcomes/", {"endpoint": "scoring",
                                                  "outcomes": outcomes[150:]}, format="json")
    third = services.plan_check(plan_id=plan.pk)
    assert second.details["performance"]["joined"] == 150
    assert third.details["performance"]["joined"] == 300  # two windows merged
    live = third.details["performance"]["live"]
    assert abs(live["mae"] - 0.2) < 1e-9
    assert abs(live["rmse"] - np.sqrt((0.3 ** 2 + 0.1 ** 2) / 2)) < 1e-9
    assert third.details["performance"]["metric"] == "rmse"
    assert abs(third.statistics["performance_drop"] - (live["rmse"] - 0.1) / 0.1) < 1e-9
    assert "performance_drop" in {b["statistic"] for b in third.breaches}
    assert abs(third.statistics["mae_difference"] - 0.2) < 1e-9
    version.governance.refresh_from_db()
    assert version.governance.revalidation_required_at is not None  # a severe breach
