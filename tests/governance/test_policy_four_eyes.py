"""Policies change by four-eyes: an administrator or risk officer drafts a version (in the form or
over the API), the others are told a draft waits, and someone other than the drafter approves
making it current, seeing what differs from the current version first."""

from __future__ import annotations

import copy

import pytest

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent, Role
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


def drafted_by(user, policy) -> PolicyVersion:
    from governance import services

    return services.policy_version_create(actor=user, policy_slug=policy.policy.slug,
                                          definition=strict_definition(), notes="Stricter.")


class TestDecline:
    """A second person declines a draft with a reason (its drafter is told), or the drafter
    withdraws it: kept for the record, never current; wrong person, state or reason is a 4xx."""

    def test_a_second_person_declines_and_the_drafter_is_told_who_when_and_why(
            self, policy, rhea, adam, make_user):
        from governance import services

        make_user("rita", Role.RISK_OFFICER)
        pv = drafted_by(rhea, policy)
        declined = services.policy_version_decline(
            actor=adam, policy_version=pv, reason="  Tier 3 needs no fairness check.  ")
        assert declined.is_declined and not declined.is_draft and not declined.is_withdrawn
        assert declined.declined_by == adam and declined.declined_at is not None
        assert declined.decline_reason == "Tier 3 needs no fairness check."
        assert PolicyVersion.objects.current() == policy

        told = Notification.objects.get(kind=NotificationKind.POLICY_DECLINED)
        assert told.user == rhea and told.url == pv.get_absolute_url()
        assert "declined by adam" in told.title and told.body == declined.decline_reason
        # The others asked to approve it have nothing left to do.
        asked = Notification.objects.filter(kind=NotificationKind.POLICY_DRAFTED)
        assert {n.user.username for n in asked} == {"adam", "rita"}
        assert all(n.read_at is not None for n in asked)
        event = AuditEvent.objects.filter(action="policy.decline").latest("seq")
        assert event.actor_id == adam.pk and event.object_id == str(pv.pk)
        assert event.payload == {"policy": "sr-11-7", "number": pv.number,
                                 "reason": "Tier 3 needs no fairness check."}

        # Declined, it cannot be approved nor declined again.
        with pytest.raises(Conflict, match=r"declined by adam .*cannot become current"):
            services.policy_version_make_current(actor=adam, policy_version=pv)
        with pytest.raises(Conflict, match="already declined by adam"):
            services.policy_version_decline(actor=adam, policy_version=pv, reason="Again.")

    def test_the_drafter_withdraws_their_own_draft_and_no_one_is_told(self, policy, rhea, adam):
        from governance import services

        pv = drafted_by(rhea, policy)
        withdrawn = services.policy_version_decline(actor=rhea, policy_version=pv,
                                                    reason="Drafted on the wrong base.")
        assert withdrawn.is_withdrawn and withdrawn.declined_by == rhea
        assert not Notification.objects.filter(kind=NotificationKind.POLICY_DECLINED).exists()
        assert Notification.objects.get(kind=NotificationKind.POLICY_DRAFTED).read_at is not None
        assert AuditEvent.objects.filter(action="policy.withdraw", actor_id=rhea.pk).count() == 1

    @pytest.mark.parametrize("reason", ["", "   ", None, "x" * 10_001])
    def test_a_reason_is_required_and_bounded(self, policy, rhea, adam, reason):
        from governance import services

        pv = drafted_by(rhea, policy)
        with pytest.raises(ValidationFailed) as raised:
            services.policy_version_decline(actor=adam, policy_version=pv, reason=reason)
        assert raised.value.fields == {"reason": [raised.value.message]}
        assert PolicyVersion.objects.get(pk=pv.pk).is_draft

    def test_only_drafts_are_declined_and_only_by_who_manages_policies(
            self, policy, rhea, adam, boris):
        from governance import services

        with pytest.raises(Conflict, match=r"is the current policy\. Only a draft"):
            services.policy_version_decline(actor=adam, policy_version=policy, reason="No.")
        pv = drafted_by(rhea, policy)
        before = refusals("boris")
        with pytest.raises(PermissionRefused, match="Only administrators and risk officers"):
            services.policy_version_decline(actor=boris, policy_version=pv, reason="No.")
        assert refusals("boris") == before + 1
        assert PolicyVersion.objects.get(pk=pv.pk).is_draft

    def test_over_the_api(self, api, policy, rhea, adam, boris):
        pv = drafted_by(rhea, policy)
        url = f"/api/v1/policy-versions/{pv.pk}/decline/"
        assert api.as_(boris).post(url, {"reason": "No."}, format="json").status_code == 403
        missing = api.as_(adam).post(url, {}, format="json")
        assert missing.status_code == 400 and "reason" in missing.json()["fields"]
        blank = api.as_(adam).post(url, {"reason": "  "}, format="json")
        assert blank.status_code == 400
        unknown = api.as_(adam).post(url, {"reason": "No.", "why": "x"}, format="json")
        assert unknown.status_code == 400

        done = api.as_(adam).post(url, {"reason": "Too strict for tier 3."}, format="json")
        assert done.status_code == 200, done.json()
        body = done.json()
        assert body["is_declined"] is True and body["is_draft"] is False
        assert body["declined_by"] == "adam" and body["decline_reason"] == "Too strict for tier 3."
        assert body["declined_at"] and not body["is_current"]

        again = api.as_(adam).post(url, {"reason": "Again."}, format="json")
        assert again.status_code == 409 and "already declined" in again.json()["detail"]
        approve = api.as_(adam).post(f"/api/v1/policy-versions/{pv.pk}/make-current/")
        assert approve.status_code == 409 and "cannot become current" in approve.json()["detail"]
        current = api.as_(adam).post(f"/api/v1/policy-versions/{policy.pk}/decline/",
                                     {"reason": "No."}, format="json")
        assert current.status_code == 409 and "Only a draft" in current.json()["detail"]
        assert api.as_(adam).post("/api/v1/policy-versions/999999/decline/", {"reason": "No."},
                                  format="json").status_code == 404

    def test_in_the_page(self, client, policy, rhea, adam):
        pv = drafted_by(rhea, policy)
        url = f"/governance/policies/{pv.pk}/decline/"
        client.force_login(adam)
        page = client.get(pv.get_absolute_url()).content.decode()
        assert "Decline this draft…" in page and f"Confirm: decline {pv}" in page
        assert "will never become current" in page and "its drafter, rhea, is notified" in page

        # No reason: the form again, 400, saying so; with htmx, only the form, to swap in.
        empty = client.post(url, {"reason": " "})
        assert empty.status_code == 400
        assert "This field is required." in empty.content.decode()
        assert "<details id=\"policy-decision\" class=\"decline\" open " in empty.content.decode()
        swapped = client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
        assert swapped.status_code == 400
        assert swapped.content.decode().lstrip().startswith('<details id="policy-decision"')
        assert "<h1>" not in swapped.content.decode()
        assert PolicyVersion.objects.get(pk=pv.pk).is_draft

        done = client.post(url, {"reason": "Tier 3 needs <no> fairness check."},
                           HTTP_HX_REQUEST="true")
        assert done.status_code == 200 and done["HX-Redirect"] == pv.get_absolute_url()
        shown = client.get(pv.get_absolute_url()).content.decode()
        assert f"{pv} is declined; its drafter, rhea, is notified with your reason." in shown
        assert "Declined by adam on" in shown and "Why declined" in shown
        assert "Tier 3 needs &lt;no&gt; fairness check." in shown
        assert "Decline this draft…" not in shown and "Approve and make current" not in shown
        listing = client.get("/governance/policies/").content.decode()
        assert '<span class="badge bad">declined</span>' in listing

        # Declined already (someone else was quicker): 409, said on the form.
        again = client.post(url, {"reason": "Me too."})
        assert again.status_code == 409 and "already declined by adam" in again.content.decode()

        client.force_login(rhea)
        inbox = client.get("/governance/inbox/").content.decode()
        assert f"{pv} declined by adam: Tier 3 needs &lt;no&gt; fairness check." in inbox

    def test_the_drafter_sees_withdraw_and_others_who_may_not_see_no_form(
            self, client, policy, rhea, boris):
        pv = drafted_by(rhea, policy)
        client.force_login(rhea)
        page = client.get(pv.get_absolute_url()).content.decode()
        assert "Withdraw this draft…" in page and "Why you withdraw it" in page
        done = client.post(f"/governance/policies/{pv.pk}/decline/", {"reason": "Wrong base."},
                           follow=True)
        assert done.status_code == 200
        assert "is withdrawn; it stays for the record" in done.content.decode()
        assert "Withdrawn by its drafter on" in done.content.decode()

        client.force_login(boris)
        other = drafted_by(rhea, policy)
        assert "Decline this draft" not in client.get(other.get_absolute_url()).content.decode()
        assert client.post(f"/governance/policies/{other.pk}/decline/",
                           {"reason": "No."}).status_code == 403
