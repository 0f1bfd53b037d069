"""The register of tools that are not models: registered from an intake that said "not a model",
with the current policy's workflow for its criticality (controls checklist, review every N
months by whom the policy names); reviews, due-review notices, pages, API and the inventory of
record."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.models import Notification, NotificationKind, Tool
from governance.policy import DEFAULT_TOOL_RULES, TEMPLATES, add_months, definition_errors
from governance.policy_edit import definition_changes
from governance.worklists import board
from registry.models import EntryKind, RegisteredModel
from tests.conftest import approve_policy
from tests.governance.conftest import MEDIUM

pytestmark = pytest.mark.django_db
HIGH_CONTROLS = DEFAULT_TOOL_RULES["high"]["controls"]


@pytest.fixture
def non_model(policy, credit_model, dana) -> RegisteredModel:
    services.intake_record(actor=dana, model=credit_model, is_model=False,
                           rationale="A lookup table of overlays, no estimation.")
    credit_model.refresh_from_db()
    return credit_model


@pytest.fixture
def tool(non_model, dana) -> Tool:
    return services.tool_register(actor=dana, model=non_model, kind="spreadsheet",
                                  criticality="high", usage="Finance, monthly close.",
                                  controls={HIGH_CONTROLS[0]: True})


# --- the policy's "tools" section --------------------------------------------------------------

def test_a_definition_without_tools_gets_the_default_workflow(policy):
    rules = policy.rules.tool_rules("high")
    assert rules.review_months == 12 and rules.reviewer == "risk_officer"
    assert rules.controls == tuple(HIGH_CONTROLS)
    assert policy.rules.tool_rules("low").review_months == 24


@pytest.mark.parametrize(("tools", "where"), [
    ("yearly", "tools:"),
    ({"high": {}, "medium": {}}, "tools:"),
    ({**DEFAULT_TOOL_RULES, "low": {**DEFAULT_TOOL_RULES["low"], "review_months": 0}},
     "tools.low.review_months"),
    ({**DEFAULT_TOOL_RULES, "high": {**DEFAULT_TOOL_RULES["high"], "reviewer": "anyone"}},
     "tools.high.reviewer"),
    ({**DEFAULT_TOOL_RULES, "medium": {**DEFAULT_TOOL_RULES["medium"], "controls": [""]}},
     "tools.medium.controls"),
    ({**DEFAULT_TOOL_RULES, "medium": {**DEFAULT_TOOL_RULES["medium"], "colour": "red"}},
     "tools.medium: unknown keys colour"),
])
def test_a_bad_tools_section_is_refused_saying_where(tools, where):
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tools"] = tools
    errors = definition_errors(definition)
    assert any(e.startswith(where) for e in errors), errors


def test_a_policy_with_its_own_tools_section_sets_the_workflow(policy, adam, non_model, dana):
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tools"] = copy.deepcopy(DEFAULT_TOOL_RULES)
    definition["tools"]["medium"] = {"review_months": 6, "reviewer": "validator",
                                     "controls": ["Reconciled monthly"]}
    assert definition_errors(definition) == []
    pv = approve_policy(services.policy_version_create(
        actor=adam, policy_slug="tools", name="Tools", definition=definition))
    tool = services.tool_register(actor=dana, model=non_model, kind="euc",
                                  criticality="medium", usage="Daily.")
    assert tool.policy_version == pv
    assert tool.next_review_due == add_months(timezone.localdate(), 6)
    assert tool.controls == [{"control": "Reconciled monthly", "in_place": False}]


# --- registering ----------------------------------------------------------------------------

def test_registering_records_the_checklist_due_date_and_an_audit_event(tool, non_model):
    assert tool.controls[0] == {"control": HIGH_CONTROLS[0], "in_place": True}
    assert [c["in_place"] for c in tool.controls[1:]] == [False] * (len(HIGH_CONTROLS) - 1)
    assert tool.next_review_due == add_months(timezone.localdate(), 12)
    event = AuditEvent.objects.get(action="tool.register")
    assert event.payload["criticality"] == "high" and event.model_id == non_model.pk
    assert non_model.kind == EntryKind.TOOL


def test_only_an_entry_recorded_as_not_a_model_is_registered(tiered_model, dana):
    with pytest.raises(Conflict, match="not a model"):
        services.tool_register(actor=dana, model=tiered_model, kind="euc", criticality="low",
                               usage="x")
    assert not Tool.objects.exists()


def test_registering_twice_is_a_conflict(tool, non_model, dana):
    with pytest.raises(Conflict, match="already"):
        services.tool_register(actor=dana, model=non_model, kind="euc", criticality="low",
                               usage="x")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"kind": "abacus"}, "kind"),
    ({"criticality": "extreme"}, "criticality"),
    ({"usage": "  "}, "usage"),
    ({"controls": {"Prayed over": True}}, "controls"),
    ({"controls": {HIGH_CONTROLS[0]: "yes"}}, "controls"),
    ({"controls": ["a"]}, "controls"),
])
def test_bad_registration_input_names_the_field_and_stores_nothing(non_model, dana, kwargs,
                                                                   field):
    data = {"kind": "spreadsheet", "criticality": "high", "usage": "Monthly.", **kwargs}
    with pytest.raises(ValidationFailed) as err:
        services.tool_register(actor=dana, model=non_model, **data)
    assert field in (err.value.fields or {}) or err.value.field == field
    assert not Tool.objects.exists()


def test_other_teams_and_auditors_may_not_register(non_model, people):
    for who in ("frank", "aude", "victor"):
        with pytest.raises(PermissionRefused):
            services.tool_register(actor=people[who], model=non_model, kind="euc",
                                   criticality="low", usage="x")


def test_a_registered_tool_cannot_be_reclassified_as_a_model_while_in_use(tool, non_model,
                                                                         dana):
    with pytest.raises(Conflict, match="tool"):
        services.intake_record(actor=dana, model=non_model, is_model=True, answers=MEDIUM)
    non_model.refresh_from_db()
    assert non_model.kind == EntryKind.TOOL


# --- reviews ------------------------------------------------------------------------------------

def test_the_reviewer_the_policy_names_concludes_the_review(tool, people):
    # high criticality: a risk officer who is not the owner reviews
    with pytest.raises(PermissionRefused):
        services.tool_review(actor=people["dana"], tool=tool, still_in_use=True, notes="ok")
    with pytest.raises(PermissionRefused):
        services.tool_review(actor=people["victor"], tool=tool, still_in_use=True, notes="ok")
    later = timezone.now() + dt.timedelta(days=300)
    review = services.tool_review(actor=people["rhea"], tool=tool, still_in_use=True,
                                  notes="Used as registered; access list checked.",
                                  controls=dict.fromkeys(HIGH_CONTROLS, True), now=later)
    tool.refresh_from_db()
    assert review.due_on == add_months(timezone.localdate(), 12)
    assert tool.next_review_due == add_months(later.date(), 12)
    assert tool.controls_missing == []
    assert AuditEvent.objects.filter(action="tool.review").count() == 1


def test_owner_review_at_medium_criticality(non_model, people):
    tool = services.tool_register(actor=people["dana"], model=non_model, kind="euc",
                                  criticality="medium", usage="Weekly.")
    with pytest.raises(PermissionRefused):
        services.tool_review(actor=people["rhea"], tool=tool, still_in_use=True, notes="x")
    services.tool_review(actor=people["dana"], tool=tool, still_in_use=True, notes="Same use.")


def test_a_review_saying_no_longer_used_retires_the_tool(tool, non_model, people):
    services.tool_review(actor=people["rhea"], tool=tool, still_in_use=False,
                         notes="Replaced by the ledger's own overlay screen.")
    tool.refresh_from_db()
    assert tool.retired_at is not None
    with pytest.raises(Conflict, match="retired"):
        services.tool_review(actor=people["rhea"], tool=tool, still_in_use=True, notes="x")
    # retired, it may become a model after all
    services.intake_record(actor=people["dana"], model=non_model, is_model=True, answers=MEDIUM)
    non_model.refresh_from_db()
    assert non_model.kind == EntryKind.MODEL


def test_bad_review_input_is_refused(tool, people):
    with pytest.raises(ValidationFailed):
        services.tool_review(actor=people["rhea"], tool=tool, still_in_use="maybe", notes="x")
    with pytest.raises(ValidationFailed):
        services.tool_review(actor=people["rhea"], tool=tool, still_in_use=True, notes="")
    assert not tool.reviews.exists()


# --- changing the criticality --------------------------------------------------------------------

LOW_CONTROLS = DEFAULT_TOOL_RULES["low"]["controls"]


def test_lowering_the_criticality_derives_the_workflow_again_and_is_audited(tool, people):
    registered = tool.registered_at.date()
    changed = services.tool_criticality_change(
        actor=people["dana"], tool=tool, criticality="low",
        reason="Only a reference copy now; the ledger computes the overlays.")
    assert changed.criticality == "low"
    # Low: reviewed every 24 months by its owner, from its registration (no review yet).
    assert changed.next_review_due == add_months(registered, 24)
    assert services.tool_rules_of(changed).reviewer == "owner"
    # The low checklist's controls keep the answers the high one had.
    assert changed.controls == [{"control": LOW_CONTROLS[0], "in_place": True},
                                {"control": LOW_CONTROLS[1], "in_place": False}]
    event = AuditEvent.objects.get(action="tool.criticality_change")
    assert event.actor_username == "dana" and event.payload["reason"].startswith("Only a")
    assert event.payload["before"]["criticality"] == "high"
    assert event.payload["before"]["rules"]["reviewer"] == "risk_officer"
    assert event.payload["after"]["criticality"] == "low"
    assert event.payload["after"]["next_review_due"] == add_months(registered, 24).isoformat()
    assert len(event.payload["before"]["controls"]) == len(HIGH_CONTROLS)


def test_raising_the_criticality_can_make_a_review_due_at_once_and_tells_the_reviewers(
        non_model, people):
    long_ago = timezone.now() - dt.timedelta(days=550)  # 18 months ago
    tool = services.tool_register(actor=people["dana"], model=non_model, kind="euc",
                                  criticality="low", usage="Quarterly.", now=long_ago)
    assert not tool.is_review_overdue()  # every 24 months
    services.tool_criticality_change(actor=people["rhea"], tool=tool, criticality="high",
                                     reason="Now feeds the provisioning numbers.")
    tool.refresh_from_db()
    # High: every 12 months, so the review fell due six months ago.
    assert tool.next_review_due == add_months(long_ago.date(), 12) and tool.is_review_overdue()
    assert [c["in_place"] for c in tool.controls] == [False] * len(HIGH_CONTROLS)
    told = Notification.objects.filter(kind=NotificationKind.TOOL_REVIEW_OVERDUE)
    # The owner and the risk officers the high workflow names act next.
    assert {n.user.username for n in told} == {"dana", "rhea"}
    assert all(n.url == f"/governance/tools/{non_model.slug}/" for n in told)


def test_a_review_notice_that_no_longer_holds_is_settled(tool, people):
    services.tools_scan(now=timezone.now() + dt.timedelta(days=350))  # due within 30 days
    assert Notification.objects.filter(kind=NotificationKind.TOOL_REVIEW_DUE,
                                       read_at=None).count() >= 2
    services.tool_criticality_change(actor=people["rhea"], tool=tool, criticality="low",
                                     reason="Reference copy only.")
    assert not Notification.objects.filter(kind__startswith="tool_review", read_at=None).exists()


def test_who_may_change_the_criticality_is_who_may_register(tool, people):
    for who in ("frank", "aude", "victor", "boris"):
        with pytest.raises(PermissionRefused):
            services.tool_criticality_change(actor=people[who], tool=tool, criticality="low",
                                             reason="x")
    tool.refresh_from_db()
    assert tool.criticality == "high"
    services.tool_criticality_change(actor=people["rhea"], tool=tool, criticality="medium",
                                     reason="Used by two teams only.")
    services.tool_criticality_change(actor=people["dana"], tool=tool, criticality="low",
                                     reason="Now a reference copy.")
    assert AuditEvent.objects.filter(action="tool.criticality_change").count() == 2


@pytest.mark.parametrize(("kwargs", "field", "says"), [
    ({"criticality": "extreme"}, "criticality", "high, medium, low"),
    ({"criticality": "high"}, "criticality", "already"),
    ({"reason": "  "}, "reason", "why"),
    ({"controls": {"Painted blue": True}}, "controls", "Painted blue"),
])
def test_bad_criticality_changes_are_refused_naming_the_field(tool, people, kwargs, field,
                                                              says):
    data = {"criticality": "low", "reason": "Reference copy.", **kwargs}
    with pytest.raises(ValidationFailed) as err:
        services.tool_criticality_change(actor=people["dana"], tool=tool, **data)
    assert field in err.value.fields and says in err.value.message
    tool.refresh_from_db()
    assert tool.criticality == "high"
    assert not AuditEvent.objects.filter(action="tool.criticality_change").exists()


def test_a_retired_tool_s_criticality_cannot_change(tool, people):
    services.tool_review(actor=people["rhea"], tool=tool, still_in_use=False, notes="Replaced.")
    with pytest.raises(Conflict, match="retired"):
        services.tool_criticality_change(actor=people["dana"], tool=tool, criticality="low",
                                         reason="x")


def test_api_changes_the_criticality(tool, api, people):
    url = f"/api/v1/tools/{tool.model.slug}/criticality/"
    r = api.as_(people["dana"]).post(url, {"criticality": "medium",
                                           "reason": "Used by one team now."}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["criticality"] == "medium"
    assert r.json()["next_review_due"] == add_months(tool.registered_at.date(), 12).isoformat()
    bad = api.as_(people["dana"]).post(url, {"criticality": "extreme", "reason": "x"},
                                       format="json")
    assert bad.status_code == 400
    assert "high, medium, low" in bad.json()["fields"]["criticality"][0]
    assert api.as_(people["dana"]).post(url, {"criticality": "low"}, format="json"
                                        ).status_code == 400  # no reason
    assert api.as_(people["aude"]).post(url, {"criticality": "low", "reason": "x"},
                                        format="json").status_code == 403
    assert api.as_(people["frank"]).post(url, {"criticality": "low", "reason": "x"},
                                         format="json").status_code == 404
    tool.refresh_from_db()
    assert tool.criticality == "medium"


def test_the_tool_page_changes_the_criticality(tool, client, people):
    page_url = f"/governance/tools/{tool.model.slug}/"
    url = page_url + "criticality/"
    client.force_login(people["dana"])
    assert "Change its criticality" in client.get(page_url).content.decode()
    bad = client.post(url, {"criticality": "extreme", "reason": "x"})
    assert bad.status_code == 400 and "Change its criticality" in bad.content.decode()
    no_reason = client.post(url, {"criticality": "low", "reason": ""})
    assert no_reason.status_code == 400 and "why the criticality changes" in \
        no_reason.content.decode()
    r = client.post(url, {"criticality": "low", "reason": "Reference copy only."})
    assert r.status_code == 302 and r["Location"] == page_url
    page = client.get(page_url).content.decode()
    assert "low criticality" in page and "Every 24 months by its owner" in page
    client.force_login(people["aude"])
    assert "Change its criticality" not in client.get(page_url).content.decode()
    assert client.post(url, {"criticality": "high", "reason": "x"}).status_code == 403
    tool.refresh_from_db()
    assert tool.criticality == "low"


# --- due-review notices (the scheduled scan) ------------------------------------------------------

def test_the_scan_notifies_reviews_coming_due_and_overdue_once(tool, people):
    assert services.tools_scan() == 0  # due in 12 months
    soon = timezone.now() + dt.timedelta(days=350)
    sent = services.tools_scan(now=soon)
    notified = set(Notification.objects.filter(kind=NotificationKind.TOOL_REVIEW_DUE)
                   .values_list("user__username", flat=True))
    assert sent == len(notified) and {"dana", "rhea"} <= notified
    assert services.tools_scan(now=soon) == 0  # once per review date
    late = timezone.now() + dt.timedelta(days=400)
    assert services.tools_scan(now=late) >= 2
    assert Notification.objects.filter(kind=NotificationKind.TOOL_REVIEW_OVERDUE,
                                       user=people["dana"]).exists()
    # the review settles the notices
    services.tool_review(actor=people["rhea"], tool=tool, still_in_use=True, notes="Done.")
    assert not Notification.objects.filter(kind__startswith="tool_review", read_at=None).exists()


def test_the_beat_task_runs_the_tool_scan(tool, monkeypatch):
    from governance import tasks

    monkeypatch.setattr(services, "tools_scan", lambda: 7)
    assert tasks.scan_due_dates()["tools"] == 7


# --- the inventory of record ------------------------------------------------------------------------

def test_tools_stay_in_the_inventory_and_are_counted_on_the_board(tool, api, people):
    r = api.as_(people["dana"]).get("/api/v1/models/", {"kind": "tool"})
    assert [m["slug"] for m in r.json()["results"]] == [tool.model.slug]
    assert r.json()["results"][0]["kind"] == "tool"
    assert api.as_(people["dana"]).get("/api/v1/models/", {"kind": "model"}).json()[
        "results"] == []
    bad = api.as_(people["dana"]).get("/api/v1/models/", {"kind": "gadget"})
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]
    facts = board()
    assert facts.tools == {"in_use": 1, "review_overdue": 0, "retired": 0}
    assert {"tier": None, "status": "draft", "kind": "tool", "count": 1} in \
        facts.by_tier_and_status


def test_the_inventory_page_marks_tools(tool, client, people):
    client.force_login(people["dana"])
    page = client.get("/models/", {"kind": "tool"}).content.decode()
    assert tool.model.name in page and "non-model tool" in page


# --- API ---------------------------------------------------------------------------------------------

def test_api_registers_lists_reviews_and_scopes(non_model, api, people):
    c = api.as_(people["dana"])
    r = c.post("/api/v1/tools/", {"model": non_model.slug, "kind": "rules_engine",
                                  "criticality": "low", "usage": "Routing of applications.",
                                  "controls": {DEFAULT_TOOL_RULES["low"]["controls"][0]: True}},
               format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["rules"]["reviewer"] == "owner" and body["rules"]["review_months"] == 24
    assert body["controls"][0]["in_place"] is True and body["owner"] == "dana"
    assert [t["model"] for t in c.get("/api/v1/tools/").json()["results"]] == [non_model.slug]
    assert api.as_(people["frank"]).get(f"/api/v1/tools/{non_model.slug}/").status_code == 404
    assert api.as_(people["frank"]).get("/api/v1/tools/").json()["results"] == []
    c = api.as_(people["dana"])
    r = c.post(f"/api/v1/tools/{non_model.slug}/review/",
               {"still_in_use": True, "notes": "Unchanged."}, format="json")
    assert r.status_code == 200, r.json()
    assert len(r.json()["reviews"]) == 1
    assert api.as_(people["aude"]).post(f"/api/v1/tools/{non_model.slug}/review/", {
        "still_in_use": True, "notes": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "abacus"}, "kind"),
    ({"criticality": "extreme"}, "criticality"),
    ({"usage": ""}, "usage"),
    ({"controls": {"x": "yes"}}, "controls"),
    ({"model": "no-such-model"}, "model"),
    ({"next_review_due": "2030-01-01"}, "next_review_due"),
])
def test_api_bad_registration_is_400_and_stores_nothing(non_model, api, people, body, field):
    data = {"model": non_model.slug, "kind": "euc", "criticality": "low", "usage": "u", **body}
    r = api.as_(people["dana"]).post("/api/v1/tools/", data, format="json")
    assert r.status_code == 400, r.json()
    assert field in r.json()["fields"], r.json()
    assert not Tool.objects.exists()


def test_api_controls_not_in_the_policy_are_400(non_model, api, people):
    r = api.as_(people["dana"]).post("/api/v1/tools/", {
        "model": non_model.slug, "kind": "euc", "criticality": "low", "usage": "u",
        "controls": {"Blessed by the CFO": True}}, format="json")
    assert r.status_code == 400 and "controls" in r.json()["fields"]


# --- pages --------------------------------------------------------------------------------------------

def test_register_from_the_intake_page_then_review_on_the_tool_page(non_model, client, people):
    client.force_login(people["dana"])
    intake = client.get(f"/models/{non_model.slug}/intake/").content.decode()
    assert "Register it as a tool" in intake
    url = f"/models/{non_model.slug}/tool/register/"
    form = client.get(url, {"criticality": "low"}).content.decode()
    assert DEFAULT_TOOL_RULES["low"]["controls"][0] in form
    partial = client.get(url, {"criticality": "high"}, HTTP_HX_REQUEST="true").content.decode()
    assert HIGH_CONTROLS[-1] in partial and "<html" not in partial
    bad = client.post(url, {"kind": "euc", "criticality": "low", "usage": ""})
    assert bad.status_code == 400 and not Tool.objects.exists()
    r = client.post(url, {"kind": "euc", "criticality": "medium", "usage": "Weekly pricing.",
                          "control": [DEFAULT_TOOL_RULES["medium"]["controls"][1]]})
    assert r.status_code == 302, r.content.decode()[:2000]
    page = client.get(r["Location"]).content.decode()
    assert "Conclude the periodic review" in page and "missing" in page
    r = client.post(f"/governance/tools/{non_model.slug}/review/",
                    {"still_in_use": "yes", "notes": "All good.",
                     "control": DEFAULT_TOOL_RULES["medium"]["controls"]})
    assert r.status_code == 302
    assert Tool.objects.get().controls_missing == []
    listing = client.get("/governance/tools/").content.decode()
    assert non_model.name in listing
    client.force_login(people["frank"])
    assert client.get(f"/governance/tools/{non_model.slug}/").status_code == 404
    assert client.get(url).status_code == 404


def test_auditors_see_the_register_but_get_no_forms(tool, client, people):
    client.force_login(people["aude"])
    page = client.get(f"/governance/tools/{tool.model.slug}/").content.decode()
    assert "Conclude the periodic review" not in page
    assert client.get(f"/models/{tool.model.slug}/tool/register/").status_code == 403


# --- demo data --------------------------------------------------------------------------------------

def test_the_demo_loads_one_non_model_tool(policy, db):
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("load_demo_tools", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("load_demo_tools", stdout=open("/dev/null", "w"))  # noqa: SIM115 (idempotent)
    tool = Tool.objects.get()
    assert tool.model.kind == EntryKind.TOOL and tool.criticality == "high"


def test_the_policy_page_and_its_comparison_show_the_tool_workflow(policy, adam, client):
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tools"] = copy.deepcopy(DEFAULT_TOOL_RULES)
    definition["tools"]["low"]["review_months"] = 36
    definition["tools"]["low"]["controls"].append("Listed in the EUC inventory")
    pv = services.policy_version_create(actor=adam, policy_slug="sr-11-7",
                                        definition=definition)
    changes = {(c.where, c.before, c.after)
               for c in definition_changes(policy.definition, pv.definition)}
    assert changes == {("Tools of low criticality: reviewed every (months)", "24", "36"),
                       ("Tools of low criticality: control", "added",
                        "Listed in the EUC inventory")}
    client.force_login(adam)
    page = client.get(f"/governance/policies/{pv.pk}/").content.decode()
    assert "Tools that are not models" in page and "every 36 months by its owner" in page
