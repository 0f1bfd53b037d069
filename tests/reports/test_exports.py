"""Exports: the findings, waivers and audit-event CSVs filtered as on their pages and safe
against formula injection; the worker path (queued in the request's transaction, progress,
the stored file and its digest, the requester notified, the download audited, a lost task sent
again); who may export what; the Exports page and the reports API."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.utils import timezone

from core.errors import PermissionRefused
from core.models import AuditEvent
from governance import services as governance
from governance.models import FindingStatus, Notification, Waiver
from reports import jobs
from reports.exports import safe_cell
from reports.models import ExportState, GeneratedReport
from tests.reports.conftest import export_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_validation(draft, walk, people):
    """The credit model's v1 in validation with two findings victor raised: a medium one whose
    title a spreadsheet would run as a formula, and a low one closed as an accepted risk."""
    walk.submit(draft)
    walk.assign(draft)
    governance.finding_raise(actor=people["victor"], version=draft, severity="medium",
                             title="=1+2 drift in income", description="PSI 0.2.")
    low = governance.finding_raise(actor=people["victor"], version=draft, severity="low",
                                   title="Thin file", description="41 applicants.")
    low.status = FindingStatus.ACCEPTED_AS_RISK  # as the accept_risk move leaves it
    low.resolved_at = timezone.now()
    low.save()
    return draft


def rows(job) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_bytes(job).decode())))


@pytest.mark.parametrize(("value", "written"), [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"), (3, 3), (-2, -2),
    (None, ""),
])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(value, written):
    assert safe_cell(value) == written


def test_the_findings_csv_holds_what_the_findings_page_shows(in_validation, aude, client):
    client.force_login(aude)
    for status in ("unresolved", "accepted_as_risk", "all"):
        page = client.get(f"/governance/findings/?status={status}").context["findings"]
        job = jobs.export_request(actor=aude, kind="findings_csv", params={"status": status})
        assert [r["finding"] for r in rows(job)] == [f"F-{f.pk}" for f in page], status
    [medium] = rows(jobs.export_request(actor=aude, kind="findings_csv", params={}))
    assert medium["title"] == "'=1+2 drift in income" and medium["severity"] == "medium"
    assert medium["model"] == in_validation.model.slug and medium["owner"] == "dana"


def test_the_findings_csv_takes_the_page_s_whole_filter_and_records_it(in_validation, aude,
                                                                       people, api, client):
    """A taxonomy filter narrows the CSV exactly as it narrows the findings page and the API;
    the filter is recorded with the export and in its audit event."""
    victor = people["victor"]
    data = governance.finding_raise(actor=victor, version=in_validation, severity="high",
                                    title="Income field truncated", description="At 99,999.",
                                    category="data", root_cause="data_quality",
                                    sr117_area="conceptual_soundness")
    governance.finding_raise(actor=victor, version=in_validation, severity="high",
                             title="No challenger model", description="No benchmark.",
                             category="methodology", sr117_area="conceptual_soundness")
    query = {"status": "all", "sr117_area": "conceptual_soundness", "category": "data"}
    client.force_login(aude)
    page = client.get("/governance/findings/", query)
    assert [f.pk for f in page.context["findings"]] == [data.pk]
    listed = api.as_(aude).get("/api/v1/findings/", query).json()["results"]
    assert [r["id"] for r in listed] == [data.pk]
    job = jobs.export_request(actor=aude, kind="findings_csv", params=query)
    assert [(r["finding"], r["category"], r["root_cause"]) for r in rows(job)] == [
        (f"F-{data.pk}", "data", "data_quality")]
    assert job.params == query and job.rows == 1
    event = AuditEvent.objects.get(action="reports.export_requested", object_id=str(job.pk))
    assert event.payload["params"] == query
    # Not classified yet ("none"): the two findings raised without a taxonomy.
    unclassified = rows(jobs.export_request(actor=aude, kind="findings_csv", params={
        "status": "all", "category": "none"}))
    assert sorted(r["title"] for r in unclassified) == ["'=1+2 drift in income", "Thin file"]


def test_the_findings_page_s_export_form_carries_its_current_filter(in_validation, dana,
                                                                     client):
    client.force_login(dana)
    page = client.get("/governance/findings/", {"status": "all", "category": "none",
                                                "ageing": "0-30", "severity": "low"})
    form = page.content.decode().split('aria-label="Export these findings"')[1].split(
        "</form>")[0]
    for name, value in (("kind", "findings_csv"), ("status", "all"), ("category", "none"),
                        ("ageing", "0-30"), ("severity", "low")):
        assert f'name="{name}" value="{value}"' in form, name
    assert 'name="root_cause"' not in form  # not set, so not carried
    posted = client.post("/reports/exports/", {"kind": "findings_csv", "status": "all",
                                               "category": "none", "ageing": "0-30",
                                               "severity": "low"})
    job = GeneratedReport.objects.get(requested_by=dana)
    assert posted.status_code == 302 and job.rows == 1
    assert [r["title"] for r in rows(job)] == ["Thin file"]


@pytest.mark.parametrize(("query", "field"), [
    ({"category": "bogus"}, "category"), ({"root_cause": "gremlins"}, "root_cause"),
    ({"sr117_area": "everywhere"}, "sr117_area"), ({"ageing": "ancient"}, "ageing"),
    ({"status": "lost"}, "status"), ({"severity": "dire"}, "severity"),
    ({"overdue": "maybe"}, "overdue"), ({"version": "v1"}, "version"),
])
def test_a_bad_findings_filter_is_a_400_naming_it_on_the_page_the_api_and_the_export(
        query, field, in_validation, aude, api, client):
    client.force_login(aude)
    page = client.get("/governance/findings/", query)
    assert page.status_code == 400 and f"{field}: " in page.content.decode()
    assert "Export these findings" not in page.content.decode()
    listed = api.as_(aude).get("/api/v1/findings/", query)
    assert listed.status_code == 400 and field in listed.json()["fields"], listed.json()
    exported = api.as_(aude).post("/api/v1/reports/exports/", {
        "kind": "findings_csv", "params": query}, format="json")
    assert exported.status_code == 400 and field in exported.json()["fields"]
    assert repr(query[field]) in exported.json()["fields"][field][0]  # says what was wrong
    on_page = client.post("/reports/exports/", {"kind": "findings_csv", **query})
    assert on_page.status_code == 400
    assert "The findings filter is invalid" in on_page.content.decode()
    assert not GeneratedReport.objects.exists()


def test_findings_and_waivers_of_models_one_may_not_see_are_not_exported(in_validation, frank,
                                                                         people):
    Waiver.objects.create(version=in_validation, check_name="fairness", reason="Collecting.",
                          compensating_controls="Manual review.", limits_of_use="-2 segments",
                          approved_by=people["rhea"],
                          expires_at=timezone.now() + dt.timedelta(days=30))
    assert rows(jobs.export_request(actor=frank, kind="findings_csv",
                                    params={"status": "all"})) == []
    assert rows(jobs.export_request(actor=frank, kind="waivers_csv", params={})) == []
    [waiver] = rows(jobs.export_request(actor=people["aude"], kind="waivers_csv", params={}))
    assert (waiver["covers"], waiver["limits_of_use"], waiver["in_force"]) == (
        "check 'fairness'", "'-2 segments", "yes")


def test_the_audit_csv_is_filtered_by_the_trail_page_s_own_filter(in_validation, aude,
                                                                  client):
    params = {"action": "finding.", "actor": "victor"}
    job = jobs.export_request(actor=aude, kind="audit_csv", params=params)
    exported = rows(job)
    expected = AuditEvent.objects.filter(action__startswith="finding.",
                                         actor_username="victor").order_by("seq")
    assert [int(r["seq"]) for r in exported] == [e.seq for e in expected]
    assert {r["action"] for r in exported} == {"finding.raise"}
    assert exported[0]["chain_hash"] == expected[0].chain_hash
    client.force_login(aude)
    page = client.get("/audit/", params).context["page"]["events"]
    assert sorted(e.event.seq for e in page) == [int(r["seq"]) for r in exported]
    with pytest.raises(Exception, match="no-such-model"):
        jobs.export_request(actor=aude, kind="audit_csv", params={"model": "no-such-model"})


def test_above_the_threshold_a_worker_makes_the_export_with_progress_and_tells_the_requester(
        in_validation, aude, settings, queued_exports, client,
        django_capture_on_commit_callbacks):
    settings.REPORTS_WORKER_ABOVE_ROWS = 3
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.export_request(actor=aude, kind="audit_csv", params={})
    # The intent is stored with its audit event before the task is sent, once it committed.
    assert job.on_worker and job.state == ExportState.QUEUED and job.rows > 3
    assert queued_exports.ids == [job.pk]
    assert AuditEvent.objects.filter(action="reports.export_requested",
                                     object_id=str(job.pk)).exists()
    client.force_login(aude)
    waiting = client.get(f"/reports/exports/{job.pk}/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in waiting.content.decode()
    assert "Waiting for a worker" in waiting.content.decode()
    assert client.get(f"/reports/exports/{job.pk}/download/").status_code == 409
    assert queued_exports.run() == ["done"]
    job.refresh_from_db()
    assert (job.state, job.percent, job.attempts) == (ExportState.DONE, 100, 1)
    content = export_bytes(job)
    assert hashlib.sha256(content).hexdigest() == job.sha256 and len(content) == job.size
    [note] = Notification.objects.filter(user=aude, kind="report_ready")
    assert note.url == f"/reports/exports/{job.pk}/" and "Audit events (CSV)" in note.title
    done = client.get(f"/reports/exports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and f"/reports/exports/{job.pk}/download/" in done
    download = client.get(f"/reports/exports/{job.pk}/download/")
    assert download.status_code == 200 and download["X-Content-SHA256"] == job.sha256
    assert b"".join(download.streaming_content) == content
    event = AuditEvent.objects.filter(action="reports.downloaded").latest("seq")
    assert event.payload == {"kind": "audit_csv", "format": "csv", "export_id": job.pk,
                             "sha256": job.sha256}
    # A task delivered twice does nothing the second time.
    assert jobs.export_run(export_id=job.pk) == "done"


def test_an_export_still_queued_is_sent_again_and_a_dead_worker_s_is_taken_over(
        in_validation, aude, settings, queued_exports):
    settings.REPORTS_WORKER_ABOVE_ROWS = 0
    job = jobs.export_request(actor=aude, kind="findings_csv", params={})
    queued_exports.ids.clear()  # the broker lost it
    assert jobs.export_reap() == {"resent": 0, "failed": 0}  # not yet overdue
    GeneratedReport.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - dt.timedelta(seconds=settings.REPORTS_REQUEUE_AFTER_S + 1))
    assert jobs.export_reap() == {"resent": 1, "failed": 0} and queued_exports.ids == [job.pk]
    # Its worker died mid-way: the lease runs out and another worker takes it over.
    GeneratedReport.objects.filter(pk=job.pk).update(
        state=ExportState.RUNNING, attempts=1,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert jobs.export_reap()["resent"] == 1
    assert queued_exports.run()[-1] == "done"
    job.refresh_from_db()
    assert job.state == ExportState.DONE and job.attempts == 2
    # Out of attempts: failed as worker lost, not looping.
    GeneratedReport.objects.filter(pk=job.pk).update(
        state=ExportState.RUNNING, attempts=settings.REPORTS_MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert jobs.export_reap() == {"resent": 0, "failed": 1}
    job.refresh_from_db()
    assert job.state == ExportState.FAILED and "Worker lost" in job.error


# Who may export what: (user, kind) -> status of POST /api/v1/reports/exports/.
MATRIX = {
    "dana": {"inventory_csv": 201, "findings_csv": 201, "waivers_csv": 201, "board_pdf": 403,
             "audit_csv": 403},
    "victor": {"inventory_csv": 201, "board_pdf": 403, "audit_csv": 403},
    "boris": {"findings_csv": 201, "board_pdf": 201, "audit_csv": 403},
    "rhea": {"board_pdf": 201, "audit_csv": 201},
    "aude": {"inventory_csv": 201, "findings_csv": 201, "waivers_csv": 201, "board_pdf": 201,
             "audit_csv": 201},
    "adam": {"board_pdf": 201, "audit_csv": 201},
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_who_may_export_what(who, people, api, monkeypatch):
    # Only the permission is at stake here: the board report's layout is tested elsewhere.
    monkeypatch.setattr("reports.exports.render_pdf", _tiny_pdf)
    client = api.as_(people[who])
    period = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
    for kind, expected in MATRIX[who].items():
        response = client.post("/api/v1/reports/exports/", {
            "kind": kind, "params": period if kind == "board_pdf" else {}}, format="json")
        assert response.status_code == expected, (who, kind, response.content)
        if expected == 403:
            assert "Only" in response.json()["detail"]


def _tiny_pdf(template, context):
    from reports.pdf import Pdf

    return Pdf(content=b"%PDF-1.7 test", sha256=hashlib.sha256(b"%PDF-1.7 test").hexdigest(),
               pages=1, seconds=0.0)


def test_the_api_asks_polls_and_downloads_and_hides_others_exports(in_validation, api, aude,
                                                                   dana):
    client = api.as_(aude)
    created = client.post("/api/v1/reports/exports/", {
        "kind": "findings_csv", "params": {"status": "all"}}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "done" and body["progress"] == 100 and body["rows"] == 2
    polled = client.get(f"/api/v1/reports/exports/{body['id']}/").json()
    assert polled["sha256"] == body["sha256"] and polled["download"]
    download = client.get(polled["download"])
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == body["sha256"]
    assert [e["id"] for e in client.get("/api/v1/reports/exports/").json()["results"]] == [
        body["id"]]
    # Someone else's export does not exist for dana.
    other = api.as_(dana)
    assert other.get(f"/api/v1/reports/exports/{body['id']}/").status_code == 404
    assert other.get(f"/api/v1/reports/exports/{body['id']}/download/").status_code == 404
    assert other.get("/api/v1/reports/exports/").json()["results"] == []


@pytest.mark.parametrize(("payload", "field"), [
    ({"kind": "everything"}, "kind"),
    ({"kind": "findings_csv", "params": {"status": "lost"}}, "status"),
    ({"kind": "findings_csv", "format": "xlsx"}, "format"),
    ({"kind": "audit_csv", "params": {"date_from": "yesterday"}}, "date_from"),
    ({"kind": "evidence_pack", "params": {}}, "model"),
    ({"kind": "evidence_pack", "params": {"model": "no-such-model"}}, "model"),
])
def test_bad_input_is_a_400_naming_what_to_fix(payload, field, api, aude):
    response = api.as_(aude).post("/api/v1/reports/exports/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert not GeneratedReport.objects.exists()


def test_a_download_by_someone_whose_role_was_taken_away_is_refused(in_validation, rhea):
    job = jobs.export_request(actor=rhea, kind="audit_csv", params={})
    rhea.role_grants.all().delete()
    rhea = type(rhea).objects.get(pk=rhea.pk)
    with pytest.raises(PermissionRefused):
        jobs.export_download_record(actor=rhea, job=job)


def test_the_exports_page_lists_what_one_may_export_and_the_header_links_it(
        in_validation, client, people):
    client.force_login(people["aude"])
    page = client.get("/reports/exports/").content.decode()
    assert 'href="/reports/exports/"' in page  # the header's Exports link
    for label in ("Inventory report (PDF)", "Inventory (CSV)", "Board report for a period",
                  "Findings (CSV)", "Waivers (CSV)", "Audit events (CSV)"):
        assert label in page
    slug = in_validation.model.slug
    documents = client.get(f"/reports/exports/?model={slug}").content.decode()
    assert f"/reports/{slug}/v1/model-card.pdf" in documents
    assert f"/reports/{slug}/v1/validation-report.pdf" in documents
    assert "certificate.pdf" not in documents  # only decided versions have one
    client.force_login(people["dana"])
    page = client.get("/reports/exports/").content.decode()
    assert 'href="/reports/exports/"' not in page.split("<main")[0]
    assert "Audit events (CSV)" not in page and "Board report" not in page
    assert "Findings (CSV)" in page
    posted = client.post("/reports/exports/", {"kind": "findings_csv", "status": "all"})
    job = GeneratedReport.objects.get(requested_by=people["dana"])
    assert posted.status_code == 302 and posted["Location"] == f"/reports/exports/{job.pk}/"
    assert client.post("/reports/exports/", {"kind": "audit_csv"}).status_code == 403
