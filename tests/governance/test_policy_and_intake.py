"""Policies as versioned data, tiering scores, overrides, and bad input over the API (4xx with a
clear message, nothing stored)."""

from __future__ import annotations

import copy

import pytest

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.models import ModelIntake, OverrideStatus, Policy, PolicyVersion
from governance.policy import TEMPLATES, Definition, definition_errors
from tests.governance.conftest import ALL_HIGH, ALL_LOW, MEDIUM, refusals, strict_definition

pytestmark = pytest.mark.django_db


class TestPolicies:
    def test_templates_load_once_with_sr_11_7_current(self, db):
        services.ensure_policy_templates()
        services.ensure_policy_templates()
        # Every shipped revision of both templates, once; SR 11-7's latest current.
        assert PolicyVersion.objects.count() == 4
        current = PolicyVersion.objects.current()
        assert (current.policy.name, current.number) == ("SR 11-7", 2)
        assert current.definition == TEMPLATES["sr-11-7"][2]
        months = {pv.policy.slug: [pv.tier_rules(t).revalidation_months for t in (1, 2, 3)]
                  for pv in PolicyVersion.objects.all()}
        assert months == {"sr-11-7": [12, 12, 12], "sr-26-2": [12, 24, 36]}

    def test_shipped_templates_validate(self):
        for _name, _desc, definition in TEMPLATES.values():
            assert definition_errors(definition) == []

    @pytest.mark.parametrize("mutate, message", [
        (lambda d: d.pop("tiers"), "tiers: must be an object"),
        (lambda d: d["tiers"].pop("3"), "exactly the keys"),
        (lambda d: d["tiers"]["1"].update(revalidation_months=0), "1 to 120"),
        (lambda d: d["tiers"]["2"]["signoffs"].update(auditor=1), "'auditor' cannot sign off"),
        (lambda d: d["questionnaire"]["cutoffs"].update(tier1=1), "'tier1' must be above"),
        (lambda d: d["questionnaire"]["questions"].pop(0), "must ask about exposure"),
        (lambda d: d["tiers"]["1"]["required_evidence"].append(
            {"check": "auc", "metric": "auc", "comparator": "=>", "threshold": 0.7}),
         "comparator"),
        (lambda d: d["tiers"]["2"].update(exclude_model_team="yes"),
         "exclude_model_team: must be true or false"),
    ])
    def test_invalid_definitions_are_refused_and_nothing_is_stored(self, api, policy, adam,
                                                                   mutate, message):
        definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
        mutate(definition)
        response = api.as_(adam).post("/api/v1/policy-versions/", {
            "policy": "sr-11-7", "definition": definition}, format="json")
        assert response.status_code == 400
        body = response.json()
        assert any(message in m for m in body["fields"]["definition"]), body
        assert PolicyVersion.objects.count() == 4

    def test_admins_add_a_version_another_makes_it_current_old_ones_stay(self, api, policy,
                                                                         adam, rhea):
        client = api.as_(adam)
        response = client.post("/api/v1/policy-versions/", {
            "policy": "sr-11-7", "definition": strict_definition(), "notes": "Evidence."},
            format="json")
        assert response.status_code == 201, response.json()
        new = response.json()
        assert new["number"] == 3 and not new["is_current"]
        made = api.as_(rhea).post(f"/api/v1/policy-versions/{new['id']}/make-current/")
        assert made.status_code == 200 and made.json()["is_current"]
        assert PolicyVersion.objects.current().pk == new["id"]
        assert PolicyVersion.objects.filter(policy__slug="sr-11-7").count() == 3
        again = api.as_(rhea).post(f"/api/v1/policy-versions/{new['id']}/make-current/")
        assert again.status_code == 409
        assert AuditEvent.objects.filter(action="policy.make_current").count() == 2

    def test_others_read_policies_but_cannot_change_them(self, api, policy, boris):
        client = api.as_(boris)
        assert client.get("/api/v1/policy-versions/").status_code == 200
        before = refusals("boris")
        response = client.post("/api/v1/policy-versions/", {
            "policy": "x", "name": "X", "definition": strict_definition()}, format="json")
        assert response.status_code == 403
        assert "administrators" in response.json()["detail"]
        assert refusals("boris") == before + 1
        assert not Policy.objects.filter(slug="x").exists()

    def test_validate_checks_without_storing(self, api, policy, adam):
        response = api.as_(adam).post("/api/v1/policy-versions/validate/",
                                      {"definition": {"tiers": {}}}, format="json")
        assert response.status_code == 200 and response.json()["valid"] is False
        assert PolicyVersion.objects.count() == 4


class TestTiering:
    @pytest.mark.parametrize("answers, total, tier", [
        (ALL_LOW, 0, 3), (MEDIUM, 10, 2), (ALL_HIGH, 24, 1)])
    def test_the_questionnaire_scores_and_shows_its_working(self, policy, answers, total, tier):
        scoring = Definition(policy.definition).score(answers)
        assert (scoring.total, scoring.tier) == (total, tier)
        exposure = next(line for line in scoring.lines if line.key == "exposure")
        assert exposure.weight == 3 and exposure.points == exposure.score * 3

    def test_cut_offs_are_inclusive(self, policy):
        # exposure high (6) + impact high (6) + automation high (4) = 16 >= 14: tier 1;
        # exposure medium (3) + impact medium (3) + automation low = 6 < 7: tier 3
        rules = Definition(policy.definition)
        assert rules.score({**ALL_LOW, "exposure": "high", "impact": "high",
                            "automation": "medium"}).tier == 1  # 6+6+2 = 14
        assert rules.score({**ALL_LOW, "exposure": "medium", "impact": "medium"}).tier == 3

    def test_an_intake_over_the_api_scores_and_audits(self, api, policy, dana, credit_model):
        response = api.as_(dana).put(f"/api/v1/intakes/{credit_model.slug}/", {
            "is_model": True, "answers": ALL_HIGH, "rationale": "PD model."}, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["tier"] == 1 and body["scoring"]["total"] == 24
        event = AuditEvent.objects.get(action="intake.record")
        assert event.payload["tier"] == {"before": None, "after": 1}
        assert event.payload["requirements"]["signoffs"] == {"review_board": 1,
                                                             "risk_officer": 1}

    @pytest.mark.parametrize("body, field", [
        ({"is_model": True, "answers": {**ALL_LOW, "exposure": "huge"}}, "answers.exposure"),
        ({"is_model": True, "answers": {"exposure": "low"}}, "answers.impact"),
        ({"is_model": True, "answers": {**ALL_LOW, "colour": "red"}}, "answers.colour"),
        ({"is_model": "yes", "answers": ALL_LOW}, "is_model"),
        ({"is_model": 1, "answers": ALL_LOW}, "is_model"),
        ({"is_model": False}, "rationale"),
        ({"is_model": "perhaps"}, "is_model"),
        ({"is_model": True, "answers": ALL_LOW, "tier": 1}, "tier"),
    ])
    def test_bad_intakes_are_4xx_and_store_nothing(self, api, policy, dana, credit_model, body,
                                                   field):
        response = api.as_(dana).put(f"/api/v1/intakes/{credit_model.slug}/", body,
                                     format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()["fields"]
        assert not ModelIntake.objects.exists()

    def test_another_teams_model_is_404(self, api, policy, frank, credit_model):
        response = api.as_(frank).put(f"/api/v1/intakes/{credit_model.slug}/",
                                      {"is_model": True, "answers": ALL_LOW}, format="json")
        assert response.status_code == 404

    def test_overrides_need_a_justification_and_another_risk_officers_approval(
            self, policy, tiered_model, dana, rhea, make_user):
        with pytest.raises(ValidationFailed, match="Justify"):
            services.tier_override_request(actor=dana, model=tiered_model, tier=3,
                                           justification=" ")
        request = services.tier_override_request(actor=dana, model=tiered_model, tier=3,
                                                 justification="Pilot on 50 loans a month.")
        assert request.status == OverrideStatus.PENDING and tier_in_force(tiered_model) == 2
        with pytest.raises(PermissionRefused, match="risk officer"):
            services.tier_override_decide(actor=dana, model=tiered_model, approve=True)
        services.tier_override_decide(actor=rhea, model=tiered_model, approve=True,
                                      comment="Agreed while volumes stay small.")
        assert tier_in_force(tiered_model) == 3
        event = AuditEvent.objects.get(action="intake.override_approve")
        assert event.payload["tier"] == {"before": 2, "after": 3}
        # four eyes: a risk officer cannot approve their own request
        services.tier_override_request(actor=rhea, model=tiered_model, tier=1,
                                       justification="Volumes grew.")
        with pytest.raises(PermissionRefused, match="another risk officer"):
            services.tier_override_decide(actor=rhea, model=tiered_model, approve=True)

    def test_the_owner_cannot_undo_an_approved_override(self, api, policy, tiered_model, dana,
                                                        rhea, boris):
        """The reviewer's walk: rhea approves dana's override to tier 1; dana asks again. The
        new request waits beside the approved override, which stays in force."""
        slug = tiered_model.slug
        client = api.as_(dana)
        assert client.post(f"/api/v1/intakes/{slug}/override/", {
            "tier": 1, "justification": "Decides every retail loan."}, format="json"
        ).status_code == 200
        approved = api.as_(rhea).post(f"/api/v1/intakes/{slug}/override-decision/",
                                      {"approve": True}, format="json").json()
        assert approved["tier"] == 1 and approved["override"]["decided_by"] == "rhea"

        body = api.as_(dana).post(f"/api/v1/intakes/{slug}/override/",
                                  {"tier": 2, "justification": "x"}, format="json").json()
        assert body["tier"] == 1 and body["override"]["tier"] == 1
        assert body["override_request"]["tier"] == 2
        assert body["override_request"]["status"] == "pending"
        event = AuditEvent.objects.filter(action="intake.override_request").latest("seq")
        assert event.payload["tier"] == {"before": 1, "after": 1}
        # asking again while a request waits is a conflict, and changes nothing
        again = api.as_(dana).post(f"/api/v1/intakes/{slug}/override/",
                                   {"tier": 3, "justification": "x"}, format="json")
        assert again.status_code == 409 and "awaiting a risk officer" in again.json()["detail"]
        # re-answering the questionnaire changes the computed tier, not the override in force
        body = api.as_(dana).put(f"/api/v1/intakes/{slug}/", {
            "is_model": True, "answers": ALL_LOW, "rationale": "Smaller now."}, format="json"
        ).json()
        assert body["computed_tier"] == 3 and body["tier"] == 1
        record = AuditEvent.objects.filter(action="intake.record").latest("seq")
        assert record.payload["tier"] == {"before": 1, "after": 1}
        assert record.payload["computed_tier"] == 3
        # only a risk officer's decision changes it: rejecting keeps it, approving replaces it
        body = api.as_(rhea).post(f"/api/v1/intakes/{slug}/override-decision/",
                                  {"approve": False, "comment": "No."}, format="json").json()
        assert body["tier"] == 1 and body["override_request"] is None
        services.tier_override_request(actor=dana, model=tiered_model, tier=3,
                                       justification="Back to what the questionnaire says.")
        services.tier_override_decide(actor=rhea, model=tiered_model, approve=True)
        intake = ModelIntake.objects.get(model=tiered_model)
        assert intake.tier == 3 and intake.override is None
        assert [o.status for o in intake.overrides.all()] == ["approved", "rejected", "approved"]

    def test_during_validation_the_tier_changes_only_by_an_override_of_two_risk_officers(
            self, walk, draft, dana, rhea, make_user):
        walk.submit(draft)
        with pytest.raises(PermissionRefused, match="only a risk officer"):
            services.intake_record(actor=dana, model=draft.model, is_model=True,
                                   answers=ALL_LOW)
        with pytest.raises(Conflict, match="ask for a tier override"):
            services.intake_record(actor=rhea, model=draft.model, is_model=True,
                                   answers=ALL_HIGH)
        assert ModelIntake.objects.get(model=draft.model).tier == 2
        services.tier_override_request(actor=rhea, model=draft.model, tier=1,
                                       justification="Decides every retail loan.")
        services.tier_override_decide(actor=make_user("rita", "risk_officer"),
                                      model=draft.model, approve=True)
        assert ModelIntake.objects.get(model=draft.model).tier == 1


def tier_in_force(model) -> int | None:
    return ModelIntake.objects.get(model=model).tier


class TestApiBadInput:
    def test_lifecycle_actions_refuse_unknown_fields_and_missing_reasons(self, api, walk,
                                                                         draft, victor):
        walk.submit(draft)
        walk.assign(draft)
        client = api.as_(victor)
        base = f"/api/v1/versions/{draft.pk}/"
        response = client.post(base + "request-changes/", {}, format="json")
        assert response.status_code == 400 and "reason" in response.json()["fields"]
        response = client.post(base + "request-changes/", {"reason": "x", "state": "approved"},
                               format="json")
        assert response.status_code == 400 and "state" in response.json()["fields"]
        response = client.post(base + "review/", {"conclusion": "maybe"}, format="json")
        assert response.status_code == 400
        assert {"conclusion", "limitations"} <= set(response.json()["fields"])
        draft.refresh_from_db()
        assert draft.state == "in_validation"

    def test_an_invalid_transition_answers_409_with_the_reason(self, api, draft, dana):
        response = api.as_(dana).post(f"/api/v1/versions/{draft.pk}/retire/",
                                      {"reason": "old"}, format="json")
        assert response.status_code == 409
        assert "it cannot go to retired" in response.json()["detail"]

    def test_sign_off_without_password_is_400(self, api, walk, draft, boris):
        walk.to_pending(draft)
        response = api.as_(boris).post(f"/api/v1/versions/{draft.pk}/sign-off/",
                                       {"decision": "approve", "comment": "ok"}, format="json")
        assert response.status_code == 400 and "password" in response.json()["fields"]
        assert not draft.signoffs.exists()

    def test_status_lists_blockers_and_actions(self, api, walk, draft, boris):
        walk.to_pending(draft)
        body = api.as_(boris).get(f"/api/v1/versions/{draft.pk}/governance/").json()
        assert body["state"] == "pending_approval" and body["actions"] == ["sign_off"]
        assert [b["kind"] for b in body["blockers"]] == ["signoff", "signoff"]
        assert body["tier"] == 2 and body["policy_bound"] is True

    @pytest.mark.parametrize("body, field, message", [
        ({}, "validator", "Name the validator"),
        ({"validator": "nobody"}, "validator", "No user named nobody."),
        ({"validator": "dana"}, "validator", "dana is not an active validator"),
        ({"validator": "boris"}, "validator", "boris is not an active validator"),
    ])
    def test_assigning_a_validator_names_what_is_wrong(self, api, walk, draft, rhea, boris,
                                                       body, field, message):
        walk.submit(draft)
        before = refusals("rhea")
        response = api.as_(rhea).post(f"/api/v1/versions/{draft.pk}/assign-validator/", body,
                                      format="json")
        assert response.status_code == 400, response.content
        assert message in response.json()["fields"][field][0]
        assert refusals("rhea") == before  # bad input, not a refusal of the caller
        draft.refresh_from_db()
        assert draft.state == "submitted"

    def test_override_decisions_take_only_json_booleans(self, api, tiered_model, dana, rhea):
        services.tier_override_request(actor=dana, model=tiered_model, tier=1,
                                       justification="Decides every retail loan.")
        for approve in ("yes", "true", 1):
            response = api.as_(rhea).post(f"/api/v1/intakes/{tiered_model.slug}/"
                                          "override-decision/", {"approve": approve},
                                          format="json")
            assert response.status_code == 400
            assert "true or false" in response.json()["fields"]["approve"][0]
        assert ModelIntake.objects.get(model=tiered_model).tier == 2

    def test_validators_see_the_open_queue_and_take_from_it(self, api, walk, draft, victor):
        walk.submit(draft)
        queue = api.as_(victor).get("/api/v1/validation-queue/").json()["results"]
        assert [e["version_id"] for e in queue] == [draft.pk]
        response = api.as_(victor).post(f"/api/v1/versions/{draft.pk}/assign-validator/",
                                        {"validator": "victor", "independence_attested": True},
                                        format="json")
        assert response.status_code == 200 and response.json()["validator"] == "victor"
        assert api.as_(victor).get("/api/v1/validation-queue/").json()["results"] == []
