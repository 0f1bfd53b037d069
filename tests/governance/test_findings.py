"""Findings: who may move them (a table), the discussion and attachments, the approval gate,
de-duplication of evaluation findings, overdue flags, and bad input answered 4xx with nothing
stored."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.gates import blocking_items
from governance.models import Finding, FindingComment, FindingStatus
from registry import services as registry
from registry import storage
from registry.models import VersionState
from tests.governance.conftest import ALL_LOW, last_refusal, refusals
from tests.governance.part2 import in_validation, raise_high

pytestmark = pytest.mark.django_db
F = FindingStatus


@pytest.fixture
def finding(walk, draft, people):
    in_validation(walk, draft)
    return raise_high(walk, draft)


def _to(finding, status, people):
    """Bring a fresh finding to ``status`` through the rightful people."""
    if status in (F.REMEDIATION_PROPOSED,):
        services.finding_transition(actor=people["dana"], finding=finding,
                                    to=F.REMEDIATION_PROPOSED, text="Re-fit on 2019-2023.")
    finding.refresh_from_db()
    return finding


# (from, to, who, allowed)
MOVES = [
    (F.OPEN, F.REMEDIATION_PROPOSED, "dana", True),       # the owner answers
    (F.OPEN, F.REMEDIATION_PROPOSED, "victor", False),    # not the validator
    (F.OPEN, F.REMEDIATION_PROPOSED, "rhea", False),
    (F.OPEN, F.REMEDIATION_PROPOSED, "aude", False),      # auditors read only
    (F.REMEDIATION_PROPOSED, F.CLOSED, "victor", True),   # the validator closes
    (F.REMEDIATION_PROPOSED, F.CLOSED, "dana", False),    # never the owner
    (F.REMEDIATION_PROPOSED, F.CLOSED, "rhea", False),    # nor a risk officer
    (F.REMEDIATION_PROPOSED, F.CLOSED, "boris", False),
    (F.REMEDIATION_PROPOSED, F.OPEN, "victor", True),     # challenge: sent back
    (F.REMEDIATION_PROPOSED, F.OPEN, "dana", False),
    (F.OPEN, F.ACCEPTED_AS_RISK, "rhea", True),           # independent risk officer
    (F.REMEDIATION_PROPOSED, F.ACCEPTED_AS_RISK, "rhea", True),
    (F.OPEN, F.ACCEPTED_AS_RISK, "dana", False),
    (F.OPEN, F.ACCEPTED_AS_RISK, "victor", False),
    (F.OPEN, F.ACCEPTED_AS_RISK, "boris", False),
]


@pytest.mark.parametrize(("start", "to", "who", "allowed"), MOVES)
def test_who_may_move_a_finding(finding, people, start, to, who, allowed):
    finding = _to(finding, start, people)
    before = refusals(who)
    if allowed:
        services.finding_transition(actor=people[who], finding=finding, to=to, text="Because.")
        finding.refresh_from_db()
        assert finding.status == to
        event = AuditEvent.objects.filter(object_type="governance.finding",
                                          object_id=str(finding.pk)).order_by("-seq").first()
        assert event.actor_username == who and event.payload["to"] == to
        assert finding.comments.last().body == "Because."
    else:
        with pytest.raises(PermissionRefused):
            services.finding_transition(actor=people[who], finding=finding, to=to,
                                        text="Because.")
        finding.refresh_from_db()
        assert finding.status == start
        assert refusals(who) == before + 1


def test_a_risk_officer_who_develops_the_model_cannot_accept_its_risk(finding, make_user,
                                                                       credit_model):
    rory = make_user("rory", "risk_officer", team="credit")
    credit_model.developers.add(rory)
    with pytest.raises(PermissionRefused, match="develop this model"):
        services.finding_transition(actor=rory, finding=finding, to=F.ACCEPTED_AS_RISK,
                                    text="Fine.")
    assert "develop this model" in last_refusal("rory")


def test_impossible_moves_are_conflicts_that_name_the_options(finding, people):
    with pytest.raises(Conflict, match="From open it can become: remediation proposed, "
                                       "accepted as a risk"):
        services.finding_transition(actor=people["victor"], finding=finding, to=F.CLOSED,
                                    text="Done.")
    with pytest.raises(ValidationFailed, match="Describe the remediation"):
        services.finding_transition(actor=people["dana"], finding=finding,
                                    to=F.REMEDIATION_PROPOSED, text="  ")
    finding.refresh_from_db()
    assert finding.status == F.OPEN and not finding.comments.exists()


def test_only_independent_validators_and_risk_officers_raise_findings(walk, draft, people):
    in_validation(walk, draft)
    with pytest.raises(PermissionRefused, match="Only validators and risk officers"):
        services.finding_raise(actor=people["dana"], version=draft, title="Mine",
                               description="d", severity="low")
    rhea_finding = services.finding_raise(actor=people["rhea"], version=draft, title="Docs",
                                          description="Missing data lineage.", severity="low")
    assert rhea_finding.owner == people["dana"]
    assert rhea_finding.due_date == timezone.now().date() + dt.timedelta(days=90)


def test_an_open_high_finding_blocks_approval_until_closed(walk, draft, people):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    assert [b.kind for b in blocking_items(version)].count("finding") == 1
    walk.evidence(version)
    with pytest.raises(Conflict, match=f"High finding F-{finding.pk}"):
        walk.review(version)
    version.refresh_from_db()
    assert version.state == VersionState.IN_VALIDATION
    services.finding_transition(actor=people["dana"], finding=finding,
                                to=F.REMEDIATION_PROPOSED, text="Re-fitted.")
    assert "finding" in [b.kind for b in blocking_items(version)]  # proposed is not closed
    services.finding_transition(actor=people["victor"], finding=finding, to=F.CLOSED,
                                text="Verified the re-fit.")
    walk.review(version)
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL


def test_medium_and_low_findings_do_not_block(walk, draft):
    version = in_validation(walk, draft)
    raise_high(walk, version, severity="medium")
    assert "finding" not in [b.kind for b in blocking_items(version)]


def test_closing_the_last_blocker_completes_a_met_quorum(walk, draft, people):
    version = walk.to_pending(draft)
    finding = raise_high(walk, version)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.PENDING_APPROVAL  # quorum met, finding blocks
    services.finding_transition(actor=people["rhea"], finding=finding,
                                to=F.ACCEPTED_AS_RISK, text="Within appetite; monitor.")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED


def test_evaluation_findings_are_raised_once_per_check_and_version(walk, draft):
    version = in_validation(walk, draft)
    kw = {"version": version, "check": "fairness", "severity": "high",
          "title": "Fairness gap", "description": "Gap 0.2 > 0.1", "figures": {"gap": 0.2}}
    first = services.finding_raise_from_check(**kw)
    again = services.finding_raise_from_check(**{**kw, "figures": {"gap": 0.3}})
    assert first.pk == again.pk and first.source == "evaluation" and first.raised_by is None
    assert Finding.objects.count() == 1
    assert AuditEvent.objects.filter(action="finding.raise").count() == 1
    other = services.finding_raise_from_check(**{**kw, "check": "performance"})
    assert other.pk != first.pk
    with pytest.raises(ValidationFailed, match="finite numbers"):
        services.finding_raise_from_check(**{**kw, "check": "x", "figures": {"a": float("nan")}})
    assert Finding.objects.count() == 2


def test_overdue_findings_are_flagged(walk, draft, api, people):
    version = in_validation(walk, draft)
    earlier = timezone.now() - dt.timedelta(days=40)
    old = raise_high(walk, version, now=earlier)
    assert old.due_date == earlier.date() + dt.timedelta(days=30)
    assert old.is_overdue()
    fresh = raise_high(walk, version, title="Recent")
    rows = api.as_(people["dana"]).get("/api/v1/findings/?overdue=1").json()["results"]
    assert [r["id"] for r in rows] == [old.pk]
    assert rows[0]["overdue"] is True
    assert not fresh.is_overdue()


def test_discussion_and_attachments_through_the_api(finding, api, people):
    c = api.as_(people["victor"])
    challenge = c.post(f"/api/v1/findings/{finding.pk}/comments/",
                       {"kind": "challenge", "body": "Why not a challenger model?"})
    assert challenge.status_code == 201, challenge.json()
    c = api.as_(people["dana"])
    reply = c.post(f"/api/v1/findings/{finding.pk}/comments/",
                   {"kind": "response", "body": "Benchmarked; see the attachment.",
                    "reply_to": challenge.json()["id"]})
    assert reply.status_code == 201 and reply.json()["reply_to"] == challenge.json()["id"]
    content = b"vintage,auc\n2022,0.61\n"
    upload = io.BytesIO(content)
    upload.name = "backtest.csv"
    attached = c.post(f"/api/v1/findings/{finding.pk}/attachments/", {"file": upload},
                      format="multipart")
    assert attached.status_code == 201, attached.json()
    sha = attached.json()["sha256"]
    assert storage.exists(sha) and storage.open_stored(sha).read() == content
    detail = c.get(f"/api/v1/findings/{finding.pk}/").json()
    assert [m["kind"] for m in detail["comments"]] == ["challenge", "response"]
    assert detail["attachments"][0]["filename"] == "backtest.csv"
    attachment_id = attached.json()["id"]
    download = api.as_(people["aude"]).get(
        f"/api/v1/findings/{finding.pk}/attachments/{attachment_id}/")
    assert b"".join(download.streaming_content) == content
    assert download["Content-Disposition"].startswith("attachment")
    assert api.as_(people["frank"]).get(
        f"/api/v1/findings/{finding.pk}/attachments/{attachment_id}/").status_code == 404
    client = api.as_(people["dana"])
    page = client.get(f"/governance/findings/{finding.pk}/").content.decode()
    link = f"/governance/findings/{finding.pk}/attachments/{attachment_id}/"
    assert link in page
    assert b"".join(client.get(link).streaming_content) == content
    # auditors read but do not write
    denied = api.as_(people["aude"]).post(f"/api/v1/findings/{finding.pk}/comments/",
                                          {"body": "hm"})
    assert denied.status_code == 403
    assert FindingComment.objects.count() == 2


def test_api_lifecycle_and_visibility(walk, draft, api, people):
    in_validation(walk, draft)
    c = api.as_(people["victor"])
    made = c.post("/api/v1/findings/", {"version": draft.pk, "title": "Leakage",
                                        "description": "Target leaks through feature 7.",
                                        "severity": "high"})
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    assert made.json()["owner"] == "dana" and made.json()["blocks_approval"] is True
    assert api.as_(people["frank"]).get(f"/api/v1/findings/{pk}/").status_code == 404
    assert api.as_(people["frank"]).post("/api/v1/findings/", {
        "version": draft.pk, "title": "t", "description": "d", "severity": "low"}
    ).status_code == 400  # as for an id that does not exist (test_an_id_you_may_not_see...)
    r = api.as_(people["dana"]).post(f"/api/v1/findings/{pk}/propose-remediation/",
                                     {"text": "Dropped feature 7."})
    assert r.status_code == 200 and r.json()["status"] == "remediation_proposed"
    assert api.as_(people["dana"]).post(f"/api/v1/findings/{pk}/close/",
                                        {"text": "x"}).status_code == 403
    r = api.as_(people["victor"]).post(f"/api/v1/findings/{pk}/close/", {"text": "Verified."})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert api.as_(people["victor"]).post(f"/api/v1/findings/{pk}/reopen/",
                                          {"text": "x"}).status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "", "description": "d", "severity": "high"}, "title"),
    ({"title": "t", "description": "d", "severity": "critical"}, "severity"),
    ({"title": "t", "description": "d", "severity": "high", "due_date": "2001-01-01"},
     "due_date"),
    ({"title": "t", "description": "d", "severity": "high", "due_date": "soon"}, "due_date"),
    ({"title": "t", "description": "d", "severity": "high", "due_date": "2999-01-01"},
     "due_date"),
    ({"title": "t", "description": "d", "severity": "high", "owner": "frank"}, "owner"),
    ({"title": "t", "description": "d", "severity": "high", "status": "closed"}, "status"),
    ({"title": "t", "severity": "high"}, "description"),
])
def test_bad_finding_input_is_400_and_stores_nothing(walk, draft, api, people, body, field):
    in_validation(walk, draft)
    response = api.as_(people["victor"]).post("/api/v1/findings/", {"version": draft.pk, **body})
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()
    assert response.json()["detail"]
    assert not Finding.objects.exists()


def test_bad_transition_input_is_400(finding, api, people):
    c = api.as_(people["dana"])
    assert c.post(f"/api/v1/findings/{finding.pk}/propose-remediation/", {}).status_code == 400
    assert c.post(f"/api/v1/findings/{finding.pk}/comments/",
                  {"body": "x", "reply_to": 999999}).status_code == 400
    assert c.post(f"/api/v1/findings/{finding.pk}/attachments/", {},
                  format="multipart").status_code == 400
    finding.refresh_from_db()
    assert finding.status == F.OPEN and not finding.comments.exists()


def test_an_id_you_may_not_see_answers_like_one_that_does_not_exist(walk, draft, api, people):
    """Raising a finding, granting a waiver or concluding a review for another team's version
    answers exactly as for a version id that does not exist: nothing to probe."""
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    missing = version.pk + 1000
    bodies = {
        "/api/v1/findings/": {"title": "t", "description": "d", "severity": "low"},
        "/api/v1/waivers/": {"reason": "r", "compensating_controls": "c",
                             "limits_of_use": "l", "expires_at": "2099-01-01T00:00:00Z"},
        "/api/v1/periodic-reviews/": {"performance": "p", "changes": "c", "limitations": "l",
                                      "conclusion": "continue"},
    }
    c = api.as_(people["frank"])
    for url, body in bodies.items():
        seen = c.post(url, {**body, "version": version.pk})
        unseen = c.post(url, {**body, "version": missing})
        assert seen.status_code == unseen.status_code == 400, (url, seen.json())
        assert seen.json()["detail"].replace(str(version.pk), "N") == \
            unseen.json()["detail"].replace(str(missing), "N"), url
        assert list(seen.json()["fields"]) == list(unseen.json()["fields"]) == ["version"], url
    # A finding of a version you may not see, named in a waiver, is likewise unknown.
    waiver = c.post("/api/v1/waivers/", {**bodies["/api/v1/waivers/"],
                                           "version": version.pk, "finding": finding.pk})
    assert "finding" in waiver.json()["fields"]


def test_a_due_date_more_than_three_years_ahead_is_refused(walk, draft, people):
    version = in_validation(walk, draft)
    today = timezone.localdate()
    with pytest.raises(ValidationFailed, match="at most 3 years") as refused:
        raise_high(walk, version, due_date=today + dt.timedelta(days=3 * 366 + 1))
    assert "due_date" in refused.value.fields
    assert raise_high(walk, version, due_date=today + dt.timedelta(days=3 * 365)).pk


LONG = "x" * 10_001


def test_text_over_the_limit_is_400_naming_the_field_and_stores_nothing(
        finding, api, client, people):
    """One limit (governance.services.common.TEXT_MAX), enforced by the services, so the API
    and the pages answer alike."""
    version = finding.version
    rhea, victor, dana = (api.as_(people[n]) for n in ("rhea", "victor", "dana"))
    later = (timezone.now() + dt.timedelta(days=5)).isoformat()
    cases = [
        (victor, "/api/v1/findings/", {"version": version.pk, "title": "t",
                                       "description": LONG, "severity": "low"}, "description"),
        (dana, f"/api/v1/findings/{finding.pk}/comments/", {"body": LONG}, "body"),
        (dana, f"/api/v1/findings/{finding.pk}/propose-remediation/", {"text": LONG}, "text"),
        (rhea, "/api/v1/waivers/", {"version": version.pk, "finding": finding.pk,
                                    "reason": "r", "compensating_controls": LONG,
                                    "limits_of_use": "l", "expires_at": later},
         "compensating_controls"),
    ]
    events = AuditEvent.objects.count()
    for who, url, body, field in cases:
        response = who.post(url, body)
        assert response.status_code == 400, (url, response.json())
        assert field in response.json()["fields"], (url, response.json())
        # The serializer refuses it first (the schema's maxLength), in the services' words.
        assert "10,000" in response.json()["fields"][field][0], response.json()
    assert AuditEvent.objects.count() == events
    assert Finding.objects.count() == 1 and FindingComment.objects.count() == 0
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    # The page that raises a finding says the same.
    client.force_login(people["victor"])
    page = client.post(f"/models/{version.model.slug}/versions/{version.number}/findings/new/",
                       {"title": "t", "description": LONG, "severity": "low"})
    assert page.status_code == 400 and "10,000" in page.content.decode()
    assert Finding.objects.count() == 1


def test_reply_to_resolves_only_within_the_finding(walk, finding, fraud_model, api, people,
                                                   onnx_file):
    """A comment id of another team's finding answers exactly like an id that does not exist:
    400 on ``reply_to``, nothing stored, nothing revealed."""
    frank = people["frank"]
    services.intake_record(actor=frank, model=fraud_model, is_model=True,
                           answers=ALL_LOW)
    other = registry.version_create(actor=frank, model=fraud_model, artifact=onnx_file())
    services.version_submit(actor=frank, version=other)
    services.validator_assign(actor=people["rhea"], version=other, validator=people["victor"])
    foreign = services.finding_comment_add(actor=frank, finding=raise_high(walk, other),
                                           body="Ours.")
    c = api.as_(people["dana"])
    unknown = c.post(f"/api/v1/findings/{finding.pk}/comments/",
                     {"body": "x", "reply_to": foreign.pk + 1000}, format="json")
    elsewhere = c.post(f"/api/v1/findings/{finding.pk}/comments/",
                       {"body": "x", "reply_to": foreign.pk}, format="json")
    assert elsewhere.status_code == unknown.status_code == 400
    assert elsewhere.json() == unknown.json()
    assert "does not exist" in elsewhere.json()["fields"]["reply_to"][0]
    assert not finding.comments.exists()
    with pytest.raises(ValidationFailed, match="does not exist"):
        services.finding_comment_add(actor=people["dana"], finding=finding, body="x",
                                     reply_to=foreign)
