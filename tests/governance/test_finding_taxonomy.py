"""The finding taxonomy (category, root cause, SR 11-7 area): set when raising, corrected by the
validator, audited, shown and filtered in the list, the API and the CSV; and ageing (days open,
buckets, the summary on the findings page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.errors import PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.models import Finding
from governance.models.findings import ageing_bucket
from tests.governance.part2 import in_validation, raise_high

pytestmark = pytest.mark.django_db


@pytest.fixture
def finding(walk, draft, people):
    in_validation(walk, draft)
    return raise_high(walk, draft, category="data", root_cause="data_quality",
                      sr117_area="conceptual_soundness")


def _age(finding: Finding, days: int) -> Finding:
    Finding.objects.filter(pk=finding.pk).update(
        raised_at=timezone.now() - dt.timedelta(days=days))
    finding.refresh_from_db()
    return finding


def test_taxonomy_is_set_when_raising_and_recorded_in_the_raise_event(finding):
    assert (finding.category, finding.root_cause, finding.sr117_area) == (
        "data", "data_quality", "conceptual_soundness")
    event = AuditEvent.objects.get(action="finding.raise", object_id=str(finding.pk))
    assert event.payload["category"] == "data"
    assert event.payload["sr117_area"] == "conceptual_soundness"


def test_taxonomy_is_optional_when_raising(walk, draft, people):
    in_validation(walk, draft)
    plain = raise_high(walk, draft)
    assert (plain.category, plain.root_cause, plain.sr117_area) == ("", "", "")


def test_the_validator_reclassifies_and_the_change_is_audited(finding, people):
    services.finding_classify(actor=people["victor"], finding=finding, category="methodology",
                              root_cause="design", sr117_area="outcomes_analysis")
    finding.refresh_from_db()
    assert finding.category == "methodology" and finding.sr117_area == "outcomes_analysis"
    event = AuditEvent.objects.get(action="finding.classify")
    assert event.payload["before"]["category"] == "data"
    assert event.payload["after"]["root_cause"] == "design"


def test_the_model_owner_and_auditors_may_not_classify(finding, people):
    for who in ("dana", "aude"):
        with pytest.raises(PermissionRefused):
            services.finding_classify(actor=people[who], finding=finding, category="other")
    finding.refresh_from_db()
    assert finding.category == "data"


def test_an_unknown_category_is_refused_naming_the_field(finding, people):
    with pytest.raises(ValidationFailed) as err:
        services.finding_classify(actor=people["victor"], finding=finding, category="bogus",
                                  root_cause="", sr117_area="")
    assert "category" in err.value.fields
    finding.refresh_from_db()
    assert finding.category == "data"


@pytest.mark.parametrize(("days", "bucket"), [(0, "0-30"), (30, "0-30"), (31, "31-90"),
                                              (90, "31-90"), (91, "91-180"), (180, "91-180"),
                                              (181, "181+"), (900, "181+")])
def test_ageing_buckets_have_inclusive_edges(days, bucket):
    assert ageing_bucket(days) == bucket


def test_days_open_stop_at_resolution(finding, people):
    _age(finding, 40)
    assert finding.days_open() == 40 and finding.ageing == "31-90"
    services.finding_transition(actor=people["rhea"], finding=finding, to="accepted_as_risk",
                                text="Accepted: overlay in place.")
    Finding.objects.filter(pk=finding.pk).update(
        resolved_at=finding.raised_at + dt.timedelta(days=10))
    finding.refresh_from_db()
    assert finding.days_open() == 10


def test_ageing_filter_and_summary_count_by_bucket(walk, draft, people):
    in_validation(walk, draft)
    young = raise_high(walk, draft, title="Young")
    old = _age(raise_high(walk, draft, title="Old", severity="low"), 200)
    today = timezone.localdate()
    assert list(Finding.objects.aged("181+", today)) == [old]
    assert list(Finding.objects.aged("0-30", today)) == [young]
    summary = {row["key"]: row for row in Finding.objects.ageing_summary(today)}
    assert summary["0-30"]["count"] == 1 and summary["0-30"]["high"] == 1
    assert summary["181+"]["count"] == 1 and summary["181+"]["high"] == 0
    assert summary["31-90"]["count"] == 0


def test_api_shows_filters_and_classifies(finding, walk, draft, api, people):
    unclassified = raise_high(walk, draft, title="Unclassified", severity="medium")
    c = api.as_(people["victor"])
    rows = c.get("/api/v1/findings/", {"category": "data"}).json()["results"]
    assert [r["id"] for r in rows] == [finding.pk]
    assert rows[0]["sr117_area"] == "conceptual_soundness"
    assert rows[0]["days_open"] == 0 and rows[0]["ageing"] == "0-30"
    rows = c.get("/api/v1/findings/", {"category": "none"}).json()["results"]
    assert [r["id"] for r in rows] == [unclassified.pk]
    r = c.post(f"/api/v1/findings/{unclassified.pk}/classify/",
               {"category": "performance", "root_cause": "environment",
                "sr117_area": "ongoing_monitoring"})
    assert r.status_code == 200, r.json()
    assert r.json()["root_cause"] == "environment"
    assert api.as_(people["dana"]).post(f"/api/v1/findings/{unclassified.pk}/classify/", {
        "category": "other", "root_cause": "", "sr117_area": ""}).status_code == 403
    bad = c.post(f"/api/v1/findings/{unclassified.pk}/classify/",
                 {"category": "nonsense", "root_cause": "", "sr117_area": ""})
    assert bad.status_code == 400 and "category" in bad.json()["fields"]
    assert api.as_(people["frank"]).post(f"/api/v1/findings/{unclassified.pk}/classify/", {
        "category": "other", "root_cause": "", "sr117_area": ""}).status_code == 404


def test_raising_through_the_api_takes_the_taxonomy(walk, draft, api, people):
    in_validation(walk, draft)
    r = api.as_(people["victor"]).post("/api/v1/findings/", {
        "version": draft.pk, "title": "No challenger", "description": "No benchmark model.",
        "severity": "medium", "category": "methodology", "sr117_area": "outcomes_analysis"})
    assert r.status_code == 201, r.json()
    assert r.json()["category"] == "methodology" and r.json()["root_cause"] == ""
    r = api.as_(people["victor"]).post("/api/v1/findings/", {
        "version": draft.pk, "title": "x", "description": "y", "severity": "low",
        "root_cause": "gremlins"})
    assert r.status_code == 400 and "root_cause" in r.json()["fields"]


def test_the_findings_page_shows_taxonomy_ageing_and_filters(finding, walk, draft, client,
                                                            people):
    _age(raise_high(walk, draft, title="Stale one", severity="medium"), 100)
    client.force_login(people["victor"])
    page = client.get("/governance/findings/").content.decode()
    assert "Ageing of unresolved findings" in page
    assert "Validation: conceptual soundness" in page and "Data quality or availability" in page
    page = client.get("/governance/findings/", {"ageing": "91-180"}).content.decode()
    assert "Stale one" in page and "Unstable back-test" not in page
    page = client.get("/governance/findings/", {"sr117_area": "none"}).content.decode()
    assert "Stale one" in page and "Unstable back-test" not in page


def test_the_validator_classifies_on_the_finding_page(finding, client, people):
    client.force_login(people["victor"])
    url = f"/governance/findings/{finding.pk}/"
    assert "Classify the finding" in client.get(url).content.decode()
    r = client.post(url + "classify/", {"category": "implementation", "root_cause": "coding",
                                        "sr117_area": "implementation"})
    assert r.status_code == 302
    finding.refresh_from_db()
    assert finding.root_cause == "coding"
    bad = client.post(url + "classify/", {"category": "nope"})
    assert bad.status_code == 400
    client.force_login(people["dana"])
    assert "Classify the finding" not in client.get(url).content.decode()
    assert client.post(url + "classify/", {"category": "other"}).status_code == 403
