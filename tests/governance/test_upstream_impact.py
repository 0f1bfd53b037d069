"""Upstream changes flag every model downstream, however far, as each one's own policy says: a
finding at tiers 1 and 2 (the shipped defaults: high in 30 days, medium in 60), the periodic
review brought forward at tier 3 (within 90 days), the owner told when a model has no approved
version. Suspending, retiring or approving a major change of the upstream model triggers it;
reinstating, a minor change, or an old version leaving while a newer one serves do not.

The graph: credit (upstream) ← limits ← collections, and limits ← pricing (never versioned)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.models import AuditEvent
from governance import gates, services
from governance.models import (
    Finding,
    FindingSource,
    Notification,
    NotificationKind,
    VersionGovernance,
)
from registry import services as registry
from registry.models import ModelVersion, RegisteredModel, VersionState
from tests.governance.conftest import ALL_LOW, MEDIUM
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


def approve(walk, version: ModelVersion) -> ModelVersion:
    walk.to_pending(version)
    roles = gates.case_for(version).required_roles
    if "review_board" in roles:
        walk.sign(version, "boris")
    if "risk_officer" in roles:
        walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED
    return version


def downstream_of(upstream: RegisteredModel, name: str, dana, teams) -> RegisteredModel:
    return registry.model_create(actor=dana, team=teams["credit"], upstream_models=[upstream],
                                 **model_fields(name=name))


@pytest.fixture
def graph(walk, tiered_model, draft, dana, teams, onnx_file):
    """credit v1 approved; limits (tier 2) and collections (tier 3) each with an approved v1;
    pricing with no version."""
    approve(walk, draft)
    limits = downstream_of(tiered_model, "Credit limit setter", dana, teams)
    collections = downstream_of(limits, "Collections strategy", dana, teams)
    pricing = downstream_of(limits, "Loan pricing", dana, teams)
    versions = {}
    for model, answers in ((limits, MEDIUM), (collections, ALL_LOW)):
        services.intake_record(actor=dana, model=model, is_model=True, answers=answers)
        versions[model.slug] = approve(walk, registry.version_create(
            actor=dana, model=model, artifact=onnx_file()))
    return {"credit": draft, "limits": versions[limits.slug],
            "collections": versions[collections.slug], "pricing": pricing}


def upstream_findings(version: ModelVersion):
    return Finding.objects.filter(version=version, source=FindingSource.UPSTREAM_CHANGE)


def test_suspending_an_upstream_model_flags_every_model_downstream_per_its_policy(
        graph, rhea, dana):
    today = timezone.localdate()
    services.version_transition(version=graph["credit"], to=VersionState.SUSPENDED, actor=rhea,
                                reason="Bureau feed corrupted since Monday.")

    # limits (tier 2, direct): a medium finding due in 60 days, owned by and told to dana.
    finding = upstream_findings(graph["limits"]).get()
    assert (finding.severity, finding.owner, finding.due_date) == (
        "medium", dana, today + dt.timedelta(days=60))
    assert "Bureau feed corrupted" in finding.description
    assert Notification.objects.filter(user=dana, kind=NotificationKind.FINDING_RAISED,
                                       object_id=str(finding.pk)).exists()

    # collections (tier 3, two links away): its periodic review is due within 90 days.
    gov = VersionGovernance.objects.get(version=graph["collections"])
    assert gov.next_review_due == today + dt.timedelta(days=90)
    assert not upstream_findings(graph["collections"]).exists()
    told = Notification.objects.get(user=dana, kind=NotificationKind.UPSTREAM_CHANGED,
                                    object_id=str(graph["collections"].pk))
    assert "through Credit limit setter" in told.title

    # pricing has no approved version: its owner is told all the same.
    assert Notification.objects.filter(user=dana, kind=NotificationKind.UPSTREAM_CHANGED,
                                       object_id=str(graph["pricing"].pk)).exists()

    events = AuditEvent.objects.filter(action="model.upstream_changed")
    assert sorted((e.payload["flag"], e.payload["distance"]) for e in events) == [
        ("finding", 1), ("none", 2), ("review", 2)]
    assert all(e.payload["upstream"] == "retail-scorecard" and e.payload["event"] == "suspended"
               for e in events)


def test_reinstating_flags_nothing_and_retiring_flags_again(graph, rhea):
    credit = graph["credit"]
    services.version_transition(version=credit, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Feed broken.")
    services.version_transition(version=credit, to=VersionState.APPROVED, actor=rhea,
                                reason="Feed repaired.")
    assert upstream_findings(graph["limits"]).count() == 1
    assert AuditEvent.objects.filter(action="model.upstream_changed").count() == 3

    services.version_transition(version=credit, to=VersionState.RETIRED, actor=rhea,
                                reason="Replaced by the new bureau model.")
    findings = upstream_findings(graph["limits"]).order_by("pk")
    assert findings.count() == 2
    assert "retired" in findings.last().title


def test_a_major_change_approved_upstream_flags_downstream_and_a_minor_one_does_not(
        graph, walk, dana, victor, onnx_file, rhea):
    credit = graph["credit"].model
    major = registry.version_create(actor=dana, model=credit, artifact=onnx_file(),
                                    change_class="major", changelog="New bureau attributes.")
    approve(walk, major)
    finding = upstream_findings(graph["limits"]).get()
    assert "changed materially" in finding.description

    minor = registry.version_create(actor=dana, model=credit, artifact=onnx_file(),
                                    change_class="minor", changelog="Refit on 2026 data.")
    walk.submit(minor)
    walk.assign(minor)
    services.version_classify_change(actor=victor, version=minor, change_class="minor")
    walk.evidence(minor)
    walk.review(minor)
    walk.sign(minor, "boris")
    walk.sign(minor, "rhea")
    minor.refresh_from_db()
    assert minor.state == VersionState.APPROVED
    assert upstream_findings(graph["limits"]).count() == 1

    # v1 retiring while v2 and v3 serve changes nothing downstream.
    services.version_transition(version=graph["credit"], to=VersionState.RETIRED, actor=rhea,
                                reason="Superseded.")
    assert upstream_findings(graph["limits"]).count() == 1


def test_the_policy_decides_what_an_upstream_change_does(graph, rhea, adam):
    """A policy saying tier 2 brings the review forward by 10 days and tier 3 raises a low
    finding: what the downstream versions' bound policy says applies."""
    from tests.conftest import approve_policy

    policy = graph["limits"].governance.policy_version
    definition = dict(policy.definition)
    definition["tiers"] = {k: dict(v) for k, v in definition["tiers"].items()}
    definition["tiers"]["2"]["upstream_change"] = {"flag": "review", "due_days": 10}
    definition["tiers"]["3"]["upstream_change"] = {"flag": "finding", "severity": "low",
                                                   "due_days": 5}
    pv = services.policy_version_create(actor=adam, policy_slug=policy.policy.slug,
                                        name=policy.policy.name, definition=definition)
    approve_policy(pv)
    # Bound policies are kept: rebind the two downstream versions to the new one, as if they
    # had been submitted under it.
    VersionGovernance.objects.filter(version__in=[graph["limits"], graph["collections"]]
                                     ).update(policy_version=pv)

    services.version_transition(version=graph["credit"], to=VersionState.SUSPENDED, actor=rhea,
                                reason="Feed broken.")
    today = timezone.localdate()
    assert VersionGovernance.objects.get(version=graph["limits"]).next_review_due == \
        today + dt.timedelta(days=10)
    low = upstream_findings(graph["collections"]).get()
    assert (low.severity, low.due_date) == ("low", today + dt.timedelta(days=5))


def test_impact_lists_who_would_be_affected_before_anything_happens(graph, api, dana, frank):
    body = api.as_(dana).get(f"/api/v1/models/{graph['credit'].model.slug}/impact/").json()
    assert [(a["name"], a["distance"], a["flag"], a["severity"], a["due_days"])
            for a in body["affected"]] == [
        ("Credit limit setter", 1, "finding", "medium", 60),
        ("Collections strategy", 2, "review", None, 90),
        ("Loan pricing", 2, None, None, None),
    ]
    assert body["hidden"] == 0
    # Another team's data scientist cannot see the model at all.
    assert api.as_(frank).get(f"/api/v1/models/{graph['credit'].model.slug}/impact/"
                              ).status_code == 404


def test_impact_counts_models_the_viewer_may_not_see_without_naming_them(
        graph, api, adam, frank, teams):
    fraud = registry.model_create(actor=frank, team=teams["fraud"],
                                  **model_fields(name="Fraud on limits", decision_type="fraud"))
    registry.model_update(actor=adam, model=fraud, upstream_models=[graph["limits"].model])
    body = api.as_(frank).get(f"/api/v1/models/{fraud.slug}/impact/").json()
    assert body == {"model": fraud.slug, "affected": [], "hidden": 0}
    limits = graph["limits"].model
    limits.assignees.add(frank)  # frank may now see limits, not what lies around it
    body = api.as_(frank).get(f"/api/v1/models/{limits.slug}/impact/").json()
    assert [a["name"] for a in body["affected"]] == ["Fraud on limits"]
    assert body["hidden"] == 2


def test_the_dependencies_tab_shows_the_graph_and_the_impact(graph, client, dana):
    client.force_login(dana)
    page = client.get(f"/models/{graph['limits'].model.slug}/dependencies/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html
    for name in ("Retail scorecard", "Collections strategy", "Loan pricing"):
        assert name in html
    assert "The periodic review due within 90 days; its owner is told" in html
