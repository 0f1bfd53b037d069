"""Policies change by four-eyes: an administrator or risk officer drafts a version (in the form or
over the API), the others are told a draft waits, and someone other than the drafter approves
making it current, seeing what differs from the current version first."""

from __future__ import annotations

import copy

import pytest

from core.models import AuditEvent
from governance.forms import PolicyDraftForm
from governance.models import Notification, NotificationKind, PolicyVersion
from governance.policy import TEMPLATES
from governance.policy_edit import (
    LineError,
    definition_changes,
    requirement_from_line,
    requirement_line,
)
from tests.governance.conftest import refusals, strict_definition

pytestmark = pytest.mark.django_db


def form_data(base: PolicyVersion, **changes: object) -> dict[str, object]:
    """What the draft form posts when a person changes only ``changes``."""
    form = PolicyDraftForm(base=base.definition)
    data = {name: form[name].value() for name in form.fields}
    data = {k: "" if v is None else v for k, v in data.items()}
    return {**data, "notes": "Tighter tier 1.", "base": base.pk, **changes}


class TestRequirementLines:
    @pytest.mark.parametrize("item", [
        {"check": "model_card"},
        {"check": "performance", "metric": "roc_auc", "comparator": ">=", "threshold": 0.7},
        {"check": "bias", "metric": "demographic_parity_difference", "comparator": "<=",
         "threshold": 0.1, "level": "warn", "external_allowed": True,
         "tasks": ["binary_classification"]},
    ])
    def test_a_requirement_reads_back_from_its_line(self, item):
        assert requirement_from_line(requirement_line(item)) == item

    @pytest.mark.parametrize(("line", "message"), [
        ("performance roc_auc >= high", "not a number"),
        ("performance roc_auc >= 0.7 sometimes", "'sometimes' is not understood"),
        ("performance tasks=images", "tasks are"),
    ])
    def test_an_unreadable_line_says_what_is_wrong(self, line, message):
        with pytest.raises(LineError, match=message):
            requirement_from_line(line)

    def test_the_differences_are_named_in_words(self):
        before = copy.deepcopy(TEMPLATES["sr-11-7"][2])
        after = copy.deepcopy(before)
        after["tiers"]["1"]["revalidation_months"] = 6
        after["tiers"]["1"]["signoffs"] = {"review_board": 2, "risk_officer": 1}
        after["tiers"]["1"]["required_evidence"].append({"check": "model_card"})
        after["questionnaire"]["cutoffs"]["tier1"] = 15
        changes = {(c.where, c.before, c.after) for c in definition_changes(before, after)}
        assert ("Tier 1: revalidation every (months)", "12", "6") in changes
        assert ("Tier 1: required evidence", "added", "model_card") in changes
        assert ("Cut-off: minimum points for tier 1",
                str(before["questionnaire"]["cutoffs"]["tier1"]), "15") in changes
        assert any(w == "Tier 1: sign-off quorum" and a.startswith("2 review board")
                   for w, _, a in changes)
        assert definition_changes(before, copy.deepcopy(before)) == []


class TestOverTheApi:
    def test_the_drafter_is_refused_a_second_person_approves_and_the_drafter_is_told(
            self, api, policy, adam, rhea):
        drafted = api.as_(rhea).post("/api/v1/policy-versions/", {
            "policy": "sr-11-7", "definition": strict_definition(), "notes": "Stricter."},
            format="json")
        assert drafted.status_code == 201, drafted.json()
        pv = PolicyVersion.objects.get(pk=drafted.json()["id"])
        assert drafted.json()["is_draft"] is True
        waiting = Notification.objects.get(kind=NotificationKind.POLICY_DRAFTED)
        assert waiting.user == adam and waiting.url == f"/governance/policies/{pv.pk}/"

        before = refusals("rhea")
        own = api.as_(rhea).post(f"/api/v1/policy-versions/{pv.pk}/make-current/")
        assert own.status_code == 403
        assert "four-eyes" in own.json()["detail"]
        assert refusals("rhea") == before + 1
        assert PolicyVersion.objects.current() == policy

        approved = api.as_(adam).post(f"/api/v1/policy-versions/{pv.pk}/make-current/")
        assert approved.status_code == 200
        assert approved.json()["approved_by"] == "adam" and approved.json()["is_current"]
        told = Notification.objects.get(kind=NotificationKind.POLICY_APPROVED)
        assert told.user == rhea and "approved by adam" in told.title
        event = AuditEvent.objects.filter(action="policy.make_current").latest("seq")
        assert event.actor_id == adam.pk and event.payload["number"] == pv.number

    def test_people_who_do_not_manage_policies_cannot_approve(self, api, policy, adam, boris):
        pv = PolicyVersion.objects.create(policy=policy.policy, number=99,
                                          definition=strict_definition(), created_by=adam)
        response = api.as_(boris).post(f"/api/v1/policy-versions/{pv.pk}/make-current/")
        assert response.status_code == 403
        assert PolicyVersion.objects.current() == policy


class TestInTheBrowserForms:
    def test_a_risk_officer_drafts_sees_the_differences_and_another_approves(
            self, client, policy, rhea, adam):
        client.force_login(rhea)
        page = client.get("/governance/policies/new/").content.decode()
        assert "Tier 1: revalidate every (months)" in page
        assert "performance roc_auc &gt;= 0.7" in page or "performance roc_auc >= 0.7" in page
        evidence = form_data(policy)["t1_evidence"] + "\nmodel_card"
        response = client.post("/governance/policies/new/", form_data(
            policy, t1_months=6, t1_review_board=2, t1_evidence=evidence))
        assert response.status_code == 302
        pv = PolicyVersion.objects.get(created_by=rhea)
        assert response["Location"] == f"/governance/policies/{pv.pk}/"
        assert pv.definition["tiers"]["1"]["revalidation_months"] == 6
        assert pv.definition["tiers"]["1"]["signoffs"]["review_board"] == 2
        assert pv.definition["tiers"]["2"] == policy.definition["tiers"]["2"]

        own = client.get(pv.get_absolute_url()).content.decode()
        assert "another administrator or risk officer must approve it" in own
        assert "Approve and make current" not in own
        refused = client.post(f"/governance/policies/{pv.pk}/make-current/")
        assert refused.status_code == 403
        assert not PolicyVersion.objects.get(pk=pv.pk).is_current

        client.force_login(adam)
        inbox = client.get("/governance/inbox/").content.decode()
        assert f"{pv} drafted by rhea waits for your approval" in inbox
        review = client.get(pv.get_absolute_url()).content.decode()
        assert "What differs from the current version" in review
        assert "Tier 1: revalidation every (months)" in review and ">6<" in review
        assert "model_card" in review and "Approve and make current" in review
        assert Notification.objects.get(user=adam).read_at is not None
        done = client.post(f"/governance/policies/{pv.pk}/make-current/", follow=True)
        assert done.status_code == 200
        assert "is now the current policy; its drafter is notified" in done.content.decode()
        assert PolicyVersion.objects.current() == pv
        assert Notification.objects.get(user=rhea).kind == NotificationKind.POLICY_APPROVED

    @pytest.mark.parametrize(("changes", "field", "message"), [
        ({"t1_evidence": "performance roc_auc >= high"}, "t1_evidence", "not a number"),
        ({"t2_months": 0}, "t2_months", "1 to 120"),
        ({"cutoff_tier1": 1, "cutoff_tier2": 5}, "cutoff_tier2", "'tier1' must be above"),
        ({"t3_review_board": "", "t3_risk_officer": "", "t3_validator": ""},
         "t3_review_board", "name at least one role"),
        ({"notes": ""}, "notes", "required"),
    ])
    def test_bad_input_keeps_the_form_says_what_is_wrong_and_stores_nothing(
            self, client, policy, rhea, changes, field, message):
        client.force_login(rhea)
        before = PolicyVersion.objects.count()
        data = form_data(policy, **{"notes": "Keep me.", "t1_months": 7, **changes})
        response = client.post("/governance/policies/new/", data)
        assert response.status_code == 400
        form = response.context["form"]
        assert any(message in e for e in form.errors[field]), form.errors
        page = response.content.decode()
        assert 'value="7"' in page
        if "notes" not in changes:
            assert "Keep me." in page
        assert PolicyVersion.objects.count() == before

    def test_only_administrators_and_risk_officers_see_the_draft_form(
            self, client, policy, dana):
        client.force_login(dana)
        assert client.get("/governance/policies/new/").status_code == 403
        assert "Draft a new version" not in client.get("/governance/policies/").content.decode()
