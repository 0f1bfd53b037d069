"""The inventory report (PDF and CSV) and the board report for a period (PDF), read back: the
CSV parsed, the PDFs through pdftotext (names and figures) and one page through pdftoppm."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from PIL import Image

from core.errors import ValidationFailed
from core.models import AuditEvent
from governance import services as governance
from governance.models import Finding, FindingSource, VersionGovernance, Waiver
from monitoring.models import MonitoringPlan, PlanStatus
from registry import services as registry
from registry.models import VersionState
from reports import board, jobs
from reports.models import ExportState
from tests.registry.conftest import model_fields
from tests.reports.conftest import export_bytes, pdf_text, tool

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(walk, draft, people, teams, onnx_file):
    """Retail scorecard (credit, tier 2): v1 approved with a medium finding and a low one raised
    100 days ago (past due), its periodic review overdue, a waiver in force; v2 a draft. And a
    fraud model, not tiered, whose name a spreadsheet would run as a formula."""
    now = timezone.now()
    v1 = walk.to_pending(draft)
    governance.finding_raise(actor=people["victor"], version=v1, severity="medium",
                             title="Bureau features drift", description="PSI 0.2 on income.")
    governance.finding_raise(actor=people["victor"], version=v1, severity="low",
                             title="Thin file applicants", description="41 applicants.",
                             now=now - dt.timedelta(days=100))
    walk.sign(v1, "boris")
    walk.sign(v1, "rhea")
    v1.refresh_from_db()
    assert v1.state == VersionState.APPROVED
    # Monitoring asked for a revalidation five days ago: the periodic review is due then (an
    # event in the audit trail, which the board report replays).
    with transaction.atomic():
        governance.version_require_revalidation(version=v1, reason="PSI 0.3 on income.",
                                                now=now - dt.timedelta(days=5))
    Waiver.objects.create(version=v1, check_name="fairness", reason="Data is being collected.",
                          compensating_controls="Monthly manual review.",
                          limits_of_use="Existing customers only.", approved_by=people["rhea"],
                          expires_at=now + dt.timedelta(days=5))
    v2 = registry.version_create(actor=people["dana"], model=v1.model, artifact=onnx_file(),
                                 changelog="Second version.")
    fraud = registry.model_create(actor=people["frank"], team=teams["fraud"], **model_fields(
        name='=HYPERLINK("http://evil.example")', decision_type="fraud",
        business_line="Cards"))
    return {"v1": v1, "v2": v2, "fraud": fraud, "now": now}


def csv_rows(job) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_bytes(job).decode())))


def test_the_inventory_csv_gives_the_version_in_use_not_merely_the_newest(world, aude):
    job = jobs.export_request(actor=aude, kind="inventory_csv", params={})
    assert job.state == ExportState.DONE and not job.on_worker and job.rows == 2
    rows = {r["model"]: r for r in csv_rows(job)}
    credit = rows[world["v1"].model.slug]
    assert (credit["tier"], credit["version_in_use"], credit["version_in_use_state"],
            credit["newest_version"], credit["newest_state"]) == ("2", "1", "approved", "2",
                                                                  "draft")
    assert credit["owner"] == "dana" and credit["last_validation"]
    assert credit["next_review"] == str(world["now"].date() - dt.timedelta(days=5))
    assert (credit["open_high"], credit["open_medium"], credit["open_low"],
            credit["overdue_findings"], credit["waivers_in_force"]) == ("0", "1", "1", "1", "1")
    assert "periodic review due" in credit["overdue"] and "1 finding(s) past due" in \
        credit["overdue"]
    fraud = rows[world["fraud"].slug]
    # Formula injection: the cell is text to a spreadsheet, not a formula.
    assert fraud["name"] == '\'=HYPERLINK("http://evil.example")'
    assert (fraud["tier"], fraud["version_in_use"], fraud["business_line"]) == ("", "", "Cards")


def test_the_inventory_export_is_filtered_exactly_as_the_inventory_page(world, aude, dana,
                                                                        client):
    only_fraud = jobs.export_request(actor=aude, kind="inventory_csv", params={"team": "fraud"})
    assert [r["model"] for r in csv_rows(only_fraud)] == [world["fraud"].slug]
    # The page's own status filter: the version in use counts ("approved" finds v1's model).
    approved = jobs.export_request(actor=aude, kind="inventory_csv",
                                   params={"status": "approved", "page": "3"})
    assert [r["model"] for r in csv_rows(approved)] == [world["v1"].model.slug]
    assert approved.params == {"status": "approved"}
    # Data scientists export what they see: dana does not see the fraud team's model.
    mine = jobs.export_request(actor=dana, kind="inventory_csv", params={})
    assert [r["model"] for r in csv_rows(mine)] == [world["v1"].model.slug]
    with pytest.raises(ValidationFailed, match="Unknown status 'bogus'"):
        jobs.export_request(actor=aude, kind="inventory_csv", params={"status": "bogus"})
    client.force_login(aude)
    page = client.post("/reports/exports/", {"kind": "inventory_csv", "status": "bogus"})
    assert page.status_code == 400 and "Unknown status" in page.content.decode()


def test_the_inventory_pdf_reads_back_with_its_models_figures_and_renders(world, aude,
                                                                          tmp_path):
    job = jobs.export_request(actor=aude, kind="inventory_pdf", params={})
    assert job.state == ExportState.DONE and job.content_type == "application/pdf"
    content = export_bytes(job)
    text = pdf_text(content, tmp_path)
    assert "Model inventory report" in text and "Retail scorecard" in text
    assert "v1 approved" in text and "v2 draft" in text and "Tier 2" in text
    assert "periodic review due" in text and "0/1/1" in text and "1 (20" in text
    # The cell wraps in the table: its two halves, and the model's slug below them.
    assert '=HYPERLINK("http://' in text and 'evil.example")' in text and "not tiered" in text
    assert "Models 2" in text
    path = tmp_path / "inventory.pdf"
    path.write_bytes(content)
    subprocess.run([tool("pdftoppm"), "-png", "-r", "40", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True)
    [png] = list(tmp_path.glob("page*.png"))
    with Image.open(png) as image:
        assert image.width > image.height  # landscape
        assert len(set(image.convert("L").getdata())) > 2  # something is drawn


def test_the_board_report_prints_the_period_figures_and_charts(world, rhea, tmp_path):
    today = world["now"].date()
    params = {"date_from": str(today - dt.timedelta(days=120)), "date_to": str(today)}
    job = jobs.export_request(actor=rhea, kind="board_pdf", params=params)
    assert job.state == ExportState.DONE and job.pages >= 3
    text = pdf_text(export_bytes(job), tmp_path)
    assert f"Board report: {params['date_from']} to {params['date_to']}" in text
    assert "Approvals 1" in text and "Rejections 0" in text and "Overdue reviews 1" in text
    # Tier mix: at the start neither model existed; at the end one in tier 2, one untiered.
    assert "Tier 2 0 1 +1" in text and "Not tiered 0 1 +1" in text
    assert "Approved Retail scorecard v1 rhea" in text
    assert "Opened in the period 0 1 1" in text  # high, medium, low
    assert "91 to 180 days 1" in text and "0 to 30 days 1" in text
    assert "Cards 1 0" in text and "(no business line) team Credit 1 1" in text
    assert "Models without a business line are grouped by their team." in text
    assert "Tier mix" in text and "Governance activity per week" in text
    assert "Granted in the period" in text and "retail-scorecard v1 check 'fairness' rhea" in text
    expiring = text.split("expiring within the following weeks")[1]
    assert expiring.startswith(f" Model Covers Expires retail-scorecard v1 check 'fairness' "
                               f"{today + dt.timedelta(days=5)}")


def test_overdue_reviews_of_a_past_period_are_replayed_from_backdated_events(walk, draft, people,
                                                                            rhea, tmp_path):
    """Approved 200 days ago; monitoring made its review due 150 days ago; the review was done
    100 days ago. A period ending 140 days ago had it overdue, though its record now says the
    next review is a year away."""
    now = timezone.now()

    def at(days: int) -> Any:
        return mock.patch("django.utils.timezone.now", return_value=now - dt.timedelta(days))

    with at(200):
        version = walk.to_pending(draft)
        walk.sign(version, "boris")
        walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    due = (now - dt.timedelta(days=150)).date()
    with at(150), transaction.atomic():
        governance.version_require_revalidation(version=version, reason="PSI 0.3.",
                                                now=now - dt.timedelta(days=150))
    with at(100):
        governance.periodic_review_conclude(
            actor=people["victor"], version=version, performance="AUC held at 0.79.",
            changes="None.", limitations="Thin files.", conclusion="continue")
    case = VersionGovernance.objects.get(version=version)
    assert case.next_review_due > now.date()  # as the records are now: not overdue

    def period(start: int, end: int) -> board.Period:
        return board.Period((now - dt.timedelta(start)).date(), (now - dt.timedelta(end)).date())

    [late] = board.overdue_reviews_at(period(160, 140))
    assert (late.model, late.number, late.due, late.validator) == (
        version.model.name, 1, due, "victor")
    assert board.overdue_reviews_at(period(190, 155)) == []  # not yet due then
    assert board.overdue_reviews_at(period(90, 0)) == []  # reviewed 100 days ago
    assert board.overdue_reviews_at(period(160, 101)) != []  # the review came the day after
    params = period(160, 140).as_params()
    job = jobs.export_request(actor=rhea, kind="board_pdf", params=params)
    text = pdf_text(export_bytes(job), tmp_path)
    assert "Overdue reviews 1" in text
    assert f"{version.model.name} v1 {due} victor" in text


def test_the_board_report_gives_each_deployed_models_monitoring_status(world, rhea, tmp_path):
    v1 = world["v1"]
    plan = MonitoringPlan.objects.get(version=v1)
    rows = {(r.model, r.number): r for r in board.monitoring_rows()}
    assert set(rows) == {(v1.model.name, 1)}  # v2 is a draft, the fraud model has no version
    assert rows[v1.model.name, 1].state == "revalidation required"
    assert rows[v1.model.name, 1].open_findings == 0
    with transaction.atomic():
        governance.finding_raise_from_monitoring(
            version=v1, statistic="psi", severity="medium", title="Monitoring: psi = 0.3",
            description="PSI 0.3 over the last 30 days.", figures={"value": 0.3})
    VersionGovernance.objects.filter(version=v1).update(revalidation_required_at=None)
    MonitoringPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.BREACH)
    [row] = board.monitoring_rows()
    assert (row.state, row.open_findings) == ("breached", 1)
    MonitoringPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.OK)
    assert board.monitoring_rows()[0].state == "ok"
    Finding.objects.filter(version=v1, source=FindingSource.MONITORING).update(status="closed")
    assert board.monitoring_rows()[0].open_findings == 0
    Finding.objects.filter(version=v1, source=FindingSource.MONITORING).update(status="open")
    v1.__class__.objects.filter(pk=v1.pk).update(state=VersionState.SUSPENDED)
    assert board.monitoring_rows()[0].state == "suspended"
    today = world["now"].date()
    job = jobs.export_request(actor=rhea, kind="board_pdf", params={
        "date_from": str(today - dt.timedelta(days=30)), "date_to": str(today)})
    text = pdf_text(export_bytes(job), tmp_path)
    assert "7. Monitoring of deployed models" in text
    assert f"{v1.model.name} v1 suspended — 1" in text


def test_tier_mix_is_replayed_from_the_audit_trail(world):
    created = world["v1"].model.created_at
    assert board.tiers_at(created - dt.timedelta(seconds=1)) == {}
    later = AuditEvent.objects.filter(action="intake.record").get().occurred_at
    assert board.tiers_at(later + dt.timedelta(seconds=1))["Tier 2"] == 1


@pytest.mark.parametrize(("params", "message"), [
    ({}, "Give date_from as a date"),
    ({"date_from": "2026-02-30", "date_to": "2026-03-01"}, "'2026-02-30' is not a date"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "starts (2026-03-02) after it ends"),
    ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "keep it to three years"),
    ({"date_from": "2999-01-01", "date_to": "2999-02-01"}, "starts in the future"),
])
def test_a_bad_period_is_refused_with_what_to_fix(rhea, api, params, message):
    response = api.as_(rhea).post("/api/v1/reports/exports/", {"kind": "board_pdf",
                                                               "params": params}, format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not AuditEvent.objects.filter(action="reports.export_requested").exists()
