"""Policies per business line and legal entity: several policies current at once, each over its
scope; a model takes the best-fitting one (governance.policy_scope); overlapping scopes are
refused; decided versions keep the policy they were decided under and say which; and a policy
made current re-schedules approved models' periodic reviews under its cadence, after a preview.

SR 11-7 (the shipped default) reviews every tier every 12 months; SR 26-2 every 12/24/36
months by tier. The credit model answers MEDIUM: tier 2.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.gates import case_for
from governance.models import Notification, NotificationKind, PolicyVersion, VersionGovernance
from governance.policy import TEMPLATES, add_months
from governance.policy_scope import Scope, best_fit, overlap, scope_errors
from governance.status import version_status
from registry import services as registry
from registry.models import RegisteredModel, VersionState
from tests.conftest import approve_policy
from tests.governance.conftest import MEDIUM
from tests.governance.test_reviews import approve

SR_26_2 = TEMPLATES["sr-26-2"][-1]


# --- the scope rules, no database --------------------------------------------------------------

def test_a_scope_covers_its_names_whatever_their_case_and_spacing():
    retail = Scope(business_lines=("Retail Banking",))
    assert retail.covers(" retail  banking ", "")
    assert not retail.covers("Cards", "")
    assert Scope().covers("anything", "anywhere")
    both = Scope(("Retail",), ("Assay Bank UK",))
    assert both.covers("retail", "assay bank uk")
    assert not both.covers("retail", "Assay Bank DE")


def test_the_best_fit_is_both_then_legal_entity_then_business_line_then_the_default():
    scopes = [(Scope(), "default"), (Scope(("Retail",)), "line"),
              (Scope((), ("UK",)), "entity"), (Scope(("Retail",), ("UK",)), "both")]
    assert best_fit(scopes, "Retail", "UK") == "both"
    assert best_fit(scopes, "Cards", "UK") == "entity"
    assert best_fit(scopes, "Retail", "DE") == "line"
    assert best_fit(scopes, "Cards", "DE") == "default"
    assert best_fit(scopes[1:], "Cards", "DE") is None


def test_scopes_of_one_rank_overlap_on_a_shared_name_only():
    assert overlap(Scope(("Retail", "Cards")), Scope(("cards",))) == ["business line Cards"]
    assert overlap(Scope(("Retail",)), Scope(("Cards",))) == []
    assert overlap(Scope(), Scope()) == ["every model"]
    # Different ranks never overlap: the more specific wins.
    assert overlap(Scope(("Retail",)), Scope((), ("UK",))) == []
    assert overlap(Scope(("Retail",), ("UK",)), Scope(("Retail",), ("DE",))) == []
    assert overlap(Scope(("Retail",), ("UK",)), Scope(("Retail",), ("UK", "DE"))) == [
        "business line Retail", "legal entity UK"]


def test_scope_lists_are_tidied_and_bad_ones_explained():
    assert scope_errors("Retail, Cards\n retail ", "business lines") == (["Retail", "Cards"], [])
    assert scope_errors(None, "business lines") == ([], [])
    assert scope_errors([1, 2], "legal entities")[1] == [
        "List the legal entities as names (text), one a line or separated by commas."]
    assert "at most 100 characters" in scope_errors(["x" * 101], "business lines")[1][0]


# --- current policies and the one resolver -------------------------------------------------------

def scoped(actor, slug: str, *, lines=(), entities=(), definition=None, name="") -> PolicyVersion:
    """A new version of policy ``slug`` over the scope, approved by a second administrator."""
    pv = services.policy_version_create(
        actor=actor, policy_slug=slug, name=name or slug.replace("-", " ").title(),
        definition=copy.deepcopy(definition or SR_26_2), business_lines=list(lines),
        legal_entities=list(entities))
    return approve_policy(pv)


def set_scope_of(model: RegisteredModel, actor, **fields) -> RegisteredModel:
    """Change the model's business line or legal entity (as its editor does), in place."""
    registry.model_update(actor=actor, model=model, **fields)
    model.refresh_from_db()
    return model


@pytest.mark.django_db
def test_a_model_takes_the_current_policy_of_its_scope_and_the_default_otherwise(
        policy, adam, dana, credit_model, fraud_model):
    retail = scoped(adam, "retail", lines=["Retail"])
    set_scope_of(credit_model, dana, business_line="retail")
    assert PolicyVersion.objects.current_for(credit_model) == retail
    assert PolicyVersion.objects.current_for(fraud_model) == policy
    # Both stay current: one per policy, over its own scope.
    assert {pv.pk for pv in PolicyVersion.objects.all_current()} == {policy.pk, retail.pk}
    uk = scoped(adam, "uk", entities=["Assay Bank UK"])
    set_scope_of(credit_model, dana, legal_entity="Assay Bank UK")
    assert PolicyVersion.objects.current_for(credit_model) == uk
    retail_uk = scoped(adam, "retail-uk", lines=["Retail"], entities=["Assay Bank UK"])
    assert PolicyVersion.objects.current_for(credit_model) == retail_uk


@pytest.mark.django_db
def test_intake_scores_and_submission_binds_under_the_models_policy(
        policy, adam, dana, credit_model, onnx_file):
    retail = scoped(adam, "retail", lines=["Retail"])
    set_scope_of(credit_model, dana, business_line="Retail")
    intake = services.intake_record(actor=dana, model=credit_model, is_model=True,
                                    answers=MEDIUM)
    assert intake.policy_version == retail
    version = registry.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    assert case_for(version).policy_version == retail
    services.version_submit(actor=dana, version=version)
    assert VersionGovernance.objects.get(version=version).policy_version == retail


@pytest.mark.django_db
def test_overlapping_scopes_are_refused_when_making_a_policy_current(policy, adam):
    scoped(adam, "retail", lines=["Retail", "Cards"])
    clash = services.policy_version_create(actor=adam, policy_slug="cards", name="Cards",
                                           definition=copy.deepcopy(SR_26_2),
                                           business_lines=["cards"])
    with pytest.raises(Conflict) as refused:
        approve_policy(clash)
    assert "Retail v1 already governs business line cards" in refused.value.message
    assert "draft a version with a scope that does not overlap" in refused.value.message
    clash.refresh_from_db()
    assert not clash.is_current


@pytest.mark.django_db
def test_a_policy_with_the_same_scope_replaces_the_current_one(policy, adam):
    retail = scoped(adam, "retail", lines=["Retail"])
    successor = scoped(adam, "retail-2026", lines=["retail"])
    retail.refresh_from_db()
    assert successor.is_current and not retail.is_current
    assert policy in PolicyVersion.objects.all_current()
    event = AuditEvent.objects.filter(action="policy.make_current").order_by("-seq").first()
    assert event.payload["previous"] == "Retail v1"
    assert event.payload["business_lines"] == ["retail"]


@pytest.mark.django_db
def test_a_new_version_of_a_policy_replaces_its_current_version_whatever_its_scope(
        policy, adam):
    scoped(adam, "retail", lines=["Retail"])
    wider = scoped(adam, "retail", lines=["Retail", "Cards"])
    assert wider.number == 2
    assert [pv.number for pv in PolicyVersion.objects.filter(policy__slug="retail",
                                                             is_current=True)] == [2]


@pytest.mark.django_db
def test_a_model_no_current_policy_covers_is_told_so(policy, adam, dana, credit_model,
                                                      onnx_file):
    # The default itself becomes scoped: nothing covers the other business lines any more.
    narrowed = scoped(adam, policy.policy.slug, lines=["Retail"],
                      definition=policy.definition)
    assert narrowed.policy == policy.policy
    set_scope_of(credit_model, dana, business_line="Cards")
    assert PolicyVersion.objects.current_for(credit_model) is None
    with pytest.raises(Conflict) as refused:
        services.intake_record(actor=dana, model=credit_model, is_model=True, answers=MEDIUM)
    assert "No current governance policy covers Retail scorecard (business line Cards)" in (
        refused.value.message)


@pytest.mark.django_db
def test_a_bad_scope_is_refused_when_drafting(policy, adam):
    with pytest.raises(ValidationFailed) as refused:
        services.policy_version_create(actor=adam, policy_slug="x", name="X",
                                       definition=copy.deepcopy(SR_26_2),
                                       business_lines={"Retail": True})
    assert refused.value.fields == {"business_lines": [
        "List the business lines as names (text), one a line or separated by commas."]}


# --- decided versions keep their policy; re-scheduling reviews ----------------------------------

@pytest.fixture
def approved_retail(walk, policy, dana, draft):
    """The credit model (tier 2, business line Retail) approved under SR 11-7: reviewed every
    12 months."""
    set_scope_of(draft.model, dana, business_line="Retail")
    gov = approve(walk, draft)
    assert gov.policy_version == policy
    return draft, gov


@pytest.mark.django_db
def test_a_decided_version_keeps_its_policy_and_says_which_governs_its_line_now(
        approved_retail, policy, adam, dana):
    version, _gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    status = version_status(version, dana)
    assert status["policy_version"] == str(policy)
    assert status["current_policy_version"] == str(retail)
    assert status["policy_note"] == (f"Decided under {policy}; the current policy for this "
                                     "business line is Retail v1.")
    assert VersionGovernance.objects.get(version=version).policy_version == policy


@pytest.mark.django_db
def test_the_preview_lists_old_and_new_review_dates_and_stores_nothing(approved_retail, adam):
    version, gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    [move] = services.review_moves(retail)
    decided = timezone.localdate(gov.decided_at)
    assert (move.version, move.tier, move.months) == (version, 2, 24)
    assert move.old_due == gov.next_review_due == add_months(decided, 12)
    assert move.new_due == add_months(decided, 24)
    assert move.decided_under == gov.policy_version
    gov.refresh_from_db()
    assert gov.next_review_due == add_months(decided, 12)
    assert gov.review_policy_version is None


@pytest.mark.django_db
def test_applying_moves_the_dates_in_one_audited_action_and_tells_the_owners(
        approved_retail, adam, rhea, dana, django_capture_on_commit_callbacks):
    version, gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    preview = services.review_moves(retail)
    moves = services.policy_reviews_reschedule(
        actor=rhea, policy_version=retail, fingerprint=services.moves_fingerprint(preview))
    gov.refresh_from_db()
    decided = timezone.localdate(gov.decided_at)
    assert gov.next_review_due == add_months(decided, 24) == moves[0].new_due
    assert gov.review_policy_version == retail
    assert gov.policy_version != retail  # still decided under SR 11-7
    summary = AuditEvent.objects.get(action="policy.reviews_reschedule")
    assert summary.actor_username == "rhea"
    assert summary.payload["moves"][0]["old_due"] == add_months(decided, 12).isoformat()
    per_version = AuditEvent.objects.get(action="version.review_reschedule")
    assert per_version.object_id == str(version.pk)
    assert per_version.model_id == version.model_id
    told = Notification.objects.get(kind=NotificationKind.REVIEW_RESCHEDULED)
    assert told.user == dana
    assert f"moved from {add_months(decided, 12)} to {add_months(decided, 24)}" in told.title
    # Nothing left to move: applying again is refused.
    assert services.review_moves(retail) == []
    with pytest.raises(Conflict, match="nothing to re-schedule"):
        services.policy_reviews_reschedule(actor=rhea, policy_version=retail)


@pytest.mark.django_db
def test_the_next_periodic_review_follows_the_new_cadence(approved_retail, adam, rhea, victor):
    version, _gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    services.policy_reviews_reschedule(actor=rhea, policy_version=retail)
    now = timezone.now()
    review = services.periodic_review_conclude(
        actor=victor, version=version, performance="Stable.", changes="None.",
        limitations="As before.", conclusion="continue", now=now)
    assert review.next_review_due == add_months(now.date(), 24)


@pytest.mark.django_db
def test_a_preview_that_changed_meanwhile_is_not_applied(approved_retail, adam, rhea):
    _version, gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    stale = services.moves_fingerprint(services.review_moves(retail))
    VersionGovernance.objects.filter(pk=gov.pk).update(
        decided_at=gov.decided_at - dt.timedelta(days=40))
    with pytest.raises(Conflict, match="changed since your preview"):
        services.policy_reviews_reschedule(actor=rhea, policy_version=retail,
                                           fingerprint=stale)
    gov.refresh_from_db()
    assert gov.review_policy_version is None


@pytest.mark.django_db
def test_a_date_the_new_cadence_puts_in_the_past_becomes_today(approved_retail, adam):
    _version, gov = approved_retail
    monthly = copy.deepcopy(SR_26_2)
    monthly["tiers"]["2"]["revalidation_months"] = 1
    VersionGovernance.objects.filter(pk=gov.pk).update(
        decided_at=timezone.now() - dt.timedelta(days=90))
    retail = scoped(adam, "retail", lines=["Retail"], definition=monthly)
    [move] = services.review_moves(retail)
    assert move.new_due == timezone.localdate()


@pytest.mark.django_db
def test_only_administrators_and_risk_officers_reschedule(approved_retail, adam, victor, dana):
    retail = scoped(adam, "retail", lines=["Retail"])
    for who in (victor, dana):
        with pytest.raises(PermissionRefused):
            services.policy_reviews_reschedule(actor=who, policy_version=retail)


@pytest.mark.django_db
def test_models_outside_the_scope_are_not_moved(approved_retail, adam, dana):
    version, _gov = approved_retail
    cards = scoped(adam, "cards", lines=["Cards"])
    assert services.review_moves(cards) == []
    set_scope_of(version.model, dana, business_line="Cards")
    assert [m.version for m in services.review_moves(cards)] == [version]


# --- the API -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_api_drafts_a_scoped_policy_and_lists_its_scope(api, policy, adam):
    answer = api.as_(adam).post("/api/v1/policy-versions/", {
        "policy": "retail", "name": "Retail", "definition": SR_26_2,
        "business_lines": ["Retail"], "legal_entities": ["Assay Bank UK"]}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["business_lines"] == ["Retail"]
    assert body["legal_entities"] == ["Assay Bank UK"]
    assert body["scope"] == "business line Retail; legal entity Assay Bank UK"
    bad = api.as_(adam).post("/api/v1/policy-versions/", {
        "policy": "cards", "name": "Cards", "definition": SR_26_2,
        "business_lines": "x" * 101}, format="json")
    assert bad.status_code == 400
    assert "business_lines" in bad.json()["fields"]


@pytest.mark.django_db
def test_api_refuses_an_overlapping_make_current_with_409(api, policy, adam, rhea):
    scoped(adam, "retail", lines=["Retail"])
    clash = services.policy_version_create(actor=adam, policy_slug="retail-bis",
                                           name="Retail bis", definition=copy.deepcopy(SR_26_2),
                                           business_lines=["Retail", "Cards"])
    answer = api.as_(rhea).post(f"/api/v1/policy-versions/{clash.pk}/make-current/")
    assert answer.status_code == 409
    assert "already governs business line Retail" in answer.json()["detail"]


@pytest.mark.django_db
def test_api_answers_the_policy_that_governs_a_model(api, policy, adam, dana, frank,
                                                     credit_model):
    retail = scoped(adam, "retail", lines=["Retail"])
    set_scope_of(credit_model, dana, business_line="Retail")
    answer = api.as_(dana).get("/api/v1/policy-versions/for-model/",
                               {"model": credit_model.slug})
    assert answer.status_code == 200
    assert answer.json()["policy_version"]["id"] == retail.pk
    assert answer.json()["business_line"] == "Retail"
    # Another team's model is not there for frank; no slug is a 400.
    assert api.as_(frank).get("/api/v1/policy-versions/for-model/",
                              {"model": credit_model.slug}).status_code == 404
    assert api.as_(frank).get("/api/v1/policy-versions/for-model/").status_code == 400


@pytest.mark.django_db
def test_api_previews_then_applies_the_rescheduling(api, approved_retail, adam, rhea, dana):
    version, gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    preview = api.as_(dana).get(f"/api/v1/policy-versions/{retail.pk}/reschedule-preview/")
    assert preview.status_code == 200
    [move] = preview.json()["moves"]
    assert (move["model"], move["number"], move["months"]) == (version.model.slug, 1, 24)
    url = f"/api/v1/policy-versions/{retail.pk}/reschedule-reviews/"
    assert api.as_(dana).post(url, {}, format="json").status_code == 403
    assert api.as_(rhea).post(url, {"fingerprint": "stale"}, format="json").status_code == 409
    done = api.as_(rhea).post(url, {"fingerprint": preview.json()["fingerprint"]},
                              format="json")
    assert done.status_code == 200
    gov.refresh_from_db()
    assert gov.next_review_due.isoformat() == move["new_due"]
    status = api.as_(dana).get(f"/api/v1/versions/{version.pk}/governance/").json()
    assert status["review_policy_version"] == "Retail v1"
    assert status["policy_note"].endswith("its periodic reviews follow Retail v1's cadence.")


@pytest.mark.django_db
def test_api_model_has_a_legal_entity(api, dana, teams):
    answer = api.as_(dana).post("/api/v1/models/", {
        "name": "UK mortgages", "team": "credit", "purpose": "Mortgage approvals.",
        "decision_type": "credit", "task": "binary_classification",
        "legal_entity": "Assay Bank UK"}, format="json")
    assert answer.status_code == 201, answer.json()
    assert RegisteredModel.objects.get(slug=answer.json()["slug"]).legal_entity == "Assay Bank UK"
    too_long = api.as_(dana).post("/api/v1/models/", {
        "name": "DE mortgages", "team": "credit", "purpose": "Mortgage approvals.",
        "decision_type": "credit", "task": "binary_classification",
        "legal_entity": "x" * 101}, format="json")
    assert too_long.status_code == 400
    assert "legal_entity" in too_long.json()["fields"]


# --- the pages -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_policies_page_shows_each_current_policy_and_its_scope(client, policy, adam, aude):
    scoped(adam, "retail", lines=["Retail"], entities=["Assay Bank UK"])
    client.force_login(aude)
    page = client.get(reverse("governance:policies")).content.decode()
    assert "Current policies" in page
    assert "Business line Retail; legal entity Assay Bank UK" in page
    assert "Every model no other current policy covers (the default)" in page


@pytest.mark.django_db
def test_drafting_a_new_scoped_policy_in_the_form(client, policy, adam):
    client.force_login(adam)
    form = client.get(reverse("governance:policy-draft")).context["form"]
    data = {name: field.initial for name, field in form.fields.items()
            if field.initial is not None}
    data.update(base=policy.pk, notes="Retail follows SR 26-2's cadence.",
                new_policy_name="SR 11-7 Retail", business_lines="Retail\nCards",
                legal_entities="")
    answer = client.post(reverse("governance:policy-draft"), data)
    assert answer.status_code == 302
    pv = PolicyVersion.objects.get(policy__slug="sr-11-7-retail")
    assert (pv.policy.name, pv.business_lines, pv.number) == ("SR 11-7 Retail",
                                                             ["Retail", "Cards"], 1)
    again = client.post(reverse("governance:policy-draft"), data)
    assert again.status_code == 400
    assert "exists already" in again.content.decode()


@pytest.mark.django_db
def test_the_version_page_shows_an_overlap_before_anyone_approves(client, policy, adam, rhea):
    scoped(adam, "retail", lines=["Retail"])
    clash = services.policy_version_create(actor=adam, policy_slug="cards", name="Cards",
                                           definition=copy.deepcopy(SR_26_2),
                                           business_lines=["Retail", "Cards"])
    client.force_login(rhea)
    page = client.get(clash.get_absolute_url()).content.decode()
    assert "cannot become current as it stands" in page
    assert "Retail v1 already governs business line Retail" in page
    assert "Approve and make current" not in page


@pytest.mark.django_db
def test_the_version_page_previews_and_applies_the_rescheduling(client, approved_retail,
                                                                adam, rhea):
    version, gov = approved_retail
    retail = scoped(adam, "retail", lines=["Retail"])
    client.force_login(rhea)
    page = client.get(retail.get_absolute_url())
    moves = page.context["moves"]
    assert [m.version for m in moves] == [version]
    html = page.content.decode()
    assert "Re-schedule 1 periodic review" in html
    assert moves[0].new_due.strftime("%Y-%m-%d") in html
    answer = client.post(reverse("governance:policy-reschedule-reviews", args=[retail.pk]),
                         {"fingerprint": page.context["moves_fingerprint"]})
    assert answer.status_code == 302
    gov.refresh_from_db()
    assert gov.next_review_due == moves[0].new_due
    workflow = client.get(reverse("governance:workflow",
                                  args=[version.model.slug, version.number])).content.decode()
    assert "Decided under SR 11-7" in workflow
    assert "the current policy for this business line is Retail v1" in workflow


@pytest.mark.django_db
def test_the_model_panel_names_the_policy_that_governs_the_model(client, policy, adam, dana,
                                                                credit_model):
    retail = scoped(adam, "retail", lines=["Retail"])
    set_scope_of(credit_model, dana, business_line="Retail", legal_entity="Assay Bank UK")
    client.force_login(dana)
    page = client.get(reverse("registry:model-detail", args=[credit_model.slug]))
    html = page.content.decode()
    assert f"{retail}</a>, the current policy for business line Retail" in html
    assert "Assay Bank UK" in html


@pytest.mark.django_db
def test_a_suspended_version_is_not_rescheduled(approved_retail, adam, rhea):
    version, _gov = approved_retail
    services.version_transition(version=version, to=VersionState.SUSPENDED, actor=rhea,
                                reason="Paused for a data issue.")
    retail = scoped(adam, "retail", lines=["Retail"])
    assert services.review_moves(retail) == []


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_policies_approved_at_once_leave_one_current(adam, rhea, boris):
    """Real transactions, released together: the Policy row locks in making a version current
    serialise the two approvals, and the second sees the first's scope and is refused."""
    assert connection.vendor == "postgresql"
    services.ensure_policy_templates()
    # Overlapping without being the same scope (the same scope would replace, not refuse).
    drafts = [services.policy_version_create(actor=adam, policy_slug=slug, name=slug.title(),
                                             definition=copy.deepcopy(SR_26_2),
                                             business_lines=lines)
              for slug, lines in (("retail", ["Retail"]), ("retail-cards", ["Retail", "Cards"]))]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def make_current(pv: PolicyVersion) -> None:
        try:
            barrier.wait()
            services.policy_version_make_current(actor=rhea, policy_version=pv)
            outcomes.append("current")
        except Conflict as exc:
            outcomes.append(exc.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=make_current, args=(pv,)) for pv in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("current") == 1, outcomes
    assert any("already governs business line Retail" in o for o in outcomes), outcomes
    assert PolicyVersion.objects.filter(is_current=True,
                                        policy__slug__startswith="retail").count() == 1
