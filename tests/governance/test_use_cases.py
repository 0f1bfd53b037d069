"""Use cases: one model used for several purposes gets a tier per use case, scored by the
intake's questionnaire; the most critical tier governs. Adding one that raises the tier re-tiers
the model (audited; owner and validators notified); the model page says which use governs."""

from __future__ import annotations

import pytest

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.gates import case_for
from governance.models import ModelIntake, Notification, NotificationKind, UseCase
from governance.worklists import tier_expression
from registry.models import RegisteredModel
from tests.governance.conftest import ALL_HIGH, ALL_LOW, MEDIUM

pytestmark = pytest.mark.django_db


def _add(model, actor, answers, name="Collections prioritisation", **kw) -> UseCase:
    return services.use_case_add(actor=actor, model=model, name=name,
                                 description="Orders the collections queue by risk.",
                                 business_line=kw.pop("business_line", "Collections"),
                                 answers=answers, **kw)


def _tier(model) -> int | None:
    return ModelIntake.objects.get(model=model).tier


def test_a_more_critical_use_case_governs_and_re_tiers_the_model(tiered_model, people):
    assert _tier(tiered_model) == 2
    use = _add(tiered_model, people["dana"], ALL_HIGH)
    assert use.tier == 1 and use.scoring["total"] == 24
    intake = ModelIntake.objects.get(model=tiered_model)
    assert intake.tier == 1 and intake.primary_tier == 2 and intake.governed_by_use_case
    event = AuditEvent.objects.get(action="use_case.add")
    assert event.payload["tier"] == {"before": 2, "after": 1}
    assert event.payload["requirements"]["tier"] == 1
    assert Notification.objects.filter(kind=NotificationKind.TIER_RAISED,
                                       user=people["dana"]).exists()


def test_a_less_critical_use_case_changes_nothing_and_notifies_no_one(tiered_model, people):
    _add(tiered_model, people["dana"], ALL_LOW)
    intake = ModelIntake.objects.get(model=tiered_model)
    assert intake.tier == 2 and not intake.governed_by_use_case
    assert not Notification.objects.filter(kind=NotificationKind.TIER_RAISED).exists()


def test_the_next_submission_takes_the_governing_tier(tiered_model, draft, walk, people):
    _add(tiered_model, people["dana"], ALL_HIGH)
    walk.submit(draft)
    assert case_for(draft).tier == 1


def test_the_validator_of_a_decided_version_is_told(tiered_model, draft, walk, people):
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    draft.refresh_from_db()
    assert draft.state == "approved"
    _add(tiered_model, people["dana"], ALL_HIGH)
    told = set(Notification.objects.filter(kind=NotificationKind.TIER_RAISED)
               .values_list("user__username", flat=True))
    assert told == {"dana", "victor"}
    assert case_for(draft).tier == 2  # decided at tier 2, it keeps it


def test_the_tier_of_a_version_in_flight_does_not_change_this_way(tiered_model, draft, walk,
                                                                 people):
    walk.submit(draft)
    with pytest.raises(Conflict, match="tier override"):
        _add(tiered_model, people["rhea"], ALL_HIGH)
    assert not UseCase.objects.exists()
    assert _tier(tiered_model) == 2


def test_removing_the_governing_use_case_lowers_the_tier_again(tiered_model, people):
    use = _add(tiered_model, people["dana"], ALL_HIGH)
    tier = services.use_case_remove(actor=people["dana"], use_case=use)
    assert tier == {"before": 1, "after": 2} and _tier(tiered_model) == 2
    assert AuditEvent.objects.get(action="use_case.remove").payload["name"] == use.name


def test_new_intake_answers_keep_a_more_critical_use_case_governing(tiered_model, people):
    _add(tiered_model, people["dana"], ALL_HIGH)
    services.intake_record(actor=people["dana"], model=tiered_model, is_model=True,
                           answers=ALL_LOW)
    intake = ModelIntake.objects.get(model=tiered_model)
    assert intake.computed_tier == 3 and intake.tier == 1


def test_the_tier_in_sql_matches_the_tier_in_force(tiered_model, people):
    _add(tiered_model, people["dana"], ALL_HIGH)
    row = RegisteredModel.objects.annotate(t=tier_expression()).get(pk=tiered_model.pk)
    assert row.t == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": ""}, "name"),
    ({"description": " "}, "description"),
    ({"answers": {**MEDIUM, "impact": "apocalyptic"}}, "answers.impact"),
    ({"answers": {"exposure": "low"}}, "answers.impact"),
])
def test_bad_use_case_input_names_the_field_and_stores_nothing(tiered_model, people, kwargs,
                                                               field):
    data = {"name": "Pricing", "description": "Sets the rate.", "answers": MEDIUM, **kwargs}
    with pytest.raises(ValidationFailed) as err:
        services.use_case_add(actor=people["dana"], model=tiered_model, **data)
    assert field in err.value.fields
    assert not UseCase.objects.exists()


def test_a_duplicate_name_is_refused(tiered_model, people):
    _add(tiered_model, people["dana"], ALL_LOW)
    with pytest.raises(ValidationFailed, match="already"):
        _add(tiered_model, people["dana"], MEDIUM)


def test_use_cases_need_a_completed_intake_of_a_model(policy, credit_model, people):
    with pytest.raises(Conflict, match="intake"):
        _add(credit_model, people["dana"], MEDIUM)


def test_other_teams_and_auditors_may_not_add_use_cases(tiered_model, people):
    for who in ("frank", "aude", "victor"):
        with pytest.raises(PermissionRefused):
            _add(tiered_model, people[who], MEDIUM)


def test_api_adds_lists_and_removes_use_cases(tiered_model, api, people):
    c = api.as_(people["dana"])
    r = c.post(f"/api/v1/intakes/{tiered_model.slug}/use-cases/", {
        "name": "Limit setting", "description": "Sets card limits.", "business_line": "Cards",
        "answers": ALL_HIGH}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["tier"] == 1 and body["primary_tier"] == 2 and body["governed_by_use_case"]
    assert body["use_cases"][0]["name"] == "Limit setting" and body["use_cases"][0]["tier"] == 1
    bad = c.post(f"/api/v1/intakes/{tiered_model.slug}/use-cases/", {
        "name": "x", "description": "y", "answers": {**MEDIUM, "impact": "huge"}}, format="json")
    assert bad.status_code == 400 and "answers.impact" in bad.json()["fields"]
    use_id = body["use_cases"][0]["id"]
    assert api.as_(people["frank"]).delete(
        f"/api/v1/intakes/{tiered_model.slug}/use-cases/{use_id}/").status_code == 404
    c = api.as_(people["aude"])
    assert c.delete(f"/api/v1/intakes/{tiered_model.slug}/use-cases/{use_id}/"
                    ).status_code == 403
    c = api.as_(people["dana"])
    r = c.delete(f"/api/v1/intakes/{tiered_model.slug}/use-cases/{use_id}/")
    assert r.status_code == 200 and r.json()["tier"] == 2 and r.json()["use_cases"] == []
    assert c.delete(f"/api/v1/intakes/{tiered_model.slug}/use-cases/{use_id}/"
                    ).status_code == 404


def test_pages_list_use_cases_and_say_which_governs(tiered_model, client, people):
    client.force_login(people["dana"])
    url = f"/models/{tiered_model.slug}/intake/use-cases/"
    bad = client.post(url, {"name": "Pricing", "description": "Sets the rate."})
    assert bad.status_code == 400 and not UseCase.objects.exists()
    r = client.post(url, {"name": "Pricing", "description": "Sets the rate.",
                          "business_line": "Cards", **{f"q_{k}": v for k, v in ALL_HIGH.items()}})
    assert r.status_code == 302
    intake_page = client.get(f"/models/{tiered_model.slug}/intake/").content.decode()
    assert "set by its most critical use case" in intake_page and "Pricing" in intake_page
    model_page = client.get(f"/models/{tiered_model.slug}/").content.decode()
    assert "Use cases (the most critical tier governs)" in model_page
    assert "Pricing" in model_page and "governs" in model_page
