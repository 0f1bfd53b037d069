"""Issue 18: attestations. Owners attest on their policy's cadence that a model's inventory
entry is complete and the model is used as approved and within its conditions; overdue
attestations show on the dashboards, notify the owner and raise a finding where the policy says
so. Validators attest their independence when they take a validation."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from core.errors import PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import services
from governance.attestation_policy import DEFAULT_ATTESTATION, DEFAULT_STATEMENT
from governance.models import (
    Finding,
    FindingSource,
    FindingStatus,
    IndependenceAttestation,
    Notification,
    NotificationKind,
    OwnerAttestation,
    VersionGovernance,
)
from governance.policy import TEMPLATES, definition_errors
from governance.policy_edit import definition_changes
from registry.models import RegisteredModel
from tests.conftest import approve_policy
from tests.governance.conftest import review_fields

pytestmark = pytest.mark.django_db


def age(model: RegisteredModel, days: int) -> None:
    """The model entered the inventory ``days`` ago."""
    RegisteredModel.objects.filter(pk=model.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days))
    model.refresh_from_db()


@pytest.fixture
def approved(walk, draft):
    """The credit model (dana's, tier 2) with version 1 approved."""
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    walk.sign(draft, "rhea")
    draft.refresh_from_db()
    return draft


def attest(user, model, **overrides):
    fields = {"entry_complete": True, "used_as_approved": True, "within_conditions": True,
              "comment": "Checked against the procedure manual.", **overrides}
    return services.owner_attestation_record(actor=user, model=model, **fields)


# --- The policy sets the cadence -----------------------------------------------------------

def test_a_policy_may_set_the_attestation_cadence_and_is_told_what_is_wrong():
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["attestation"] = {**DEFAULT_ATTESTATION, "months": {"1": 0, "2": 12},
                                 "grace_days": -1, "finding_severity": "urgent", "colour": "red"}
    errors = definition_errors(definition)
    assert any("attestation.months" in e and "'1', '2' and '3'" in e for e in errors)
    assert any("attestation.grace_days" in e for e in errors)
    assert any("attestation.finding_severity: one of low, medium, high" in e for e in errors)
    assert any("unknown keys colour" in e for e in errors)
    definition["attestation"] = copy.deepcopy(DEFAULT_ATTESTATION)
    assert definition_errors(definition) == []


def test_a_tiered_model_is_due_on_its_policys_cadence_from_its_entry(tiered_model):
    standing = services.attestation_standing(tiered_model)
    assert standing.tier == 2 and standing.cadence_months == 12
    assert standing.statement == DEFAULT_STATEMENT
    created = timezone.localdate(tiered_model.created_at)
    assert standing.due_on.year == created.year + 1 and standing.status == "ok"
    assert standing.last is None


def test_a_model_without_a_tier_is_not_attested(credit_model, policy):
    assert services.attestation_standing(credit_model) is None


# --- The owner attests ---------------------------------------------------------------------

def test_the_owner_attests_and_the_next_one_is_due_a_cadence_later(tiered_model, dana):
    age(tiered_model, 360)
    assert services.attestation_standing(tiered_model).status == "due"
    row = attest(dana, tiered_model)
    assert row.statement == DEFAULT_STATEMENT and row.tier == 2
    today = timezone.localdate()
    assert row.next_due_on.year == today.year + 1
    standing = services.attestation_standing(tiered_model)
    assert standing.status == "ok" and standing.last == row
    event = AuditEvent.objects.get(action="attestation.owner_record")
    assert event.actor_id == dana.pk and event.model_id == tiered_model.pk
    assert event.payload["statement"] == DEFAULT_STATEMENT


def test_only_the_owner_attests(tiered_model, rhea, make_user):
    colleague = make_user("dora", "data_scientist", team="credit")
    for person in (rhea, colleague):
        with pytest.raises(PermissionRefused, match="Only the model's owner"):
            attest(person, tiered_model)
    assert not OwnerAttestation.objects.exists()


def test_an_owner_who_cannot_confirm_every_part_is_told_what_to_do_instead(tiered_model, dana):
    with pytest.raises(ValidationFailed) as refused:
        attest(dana, tiered_model, used_as_approved=False, within_conditions=False)
    assert set(refused.value.fields) == {"used_as_approved", "within_conditions"}
    assert "tell its validator" in refused.value.message
    assert not OwnerAttestation.objects.exists()


# --- Overdue: the scan notifies, records and raises a finding ----------------------------

def test_an_overdue_attestation_raises_one_finding_notifies_the_owner_and_is_audited_once(
        approved, dana):
    model = approved.model
    age(model, 365 + 45)  # tier 2: due after 12 months, overdue after 30 days' grace
    standing = services.attestation_standing(model)
    assert standing.status == "overdue"
    assert services.attestations_scan() == 1
    finding = Finding.objects.get(source=FindingSource.ATTESTATION_OVERDUE)
    assert finding.version_id == approved.pk and finding.severity == "medium"
    assert finding.owner_id == dana.pk and "Owner attestation overdue" in finding.title
    note = Notification.objects.get(kind=NotificationKind.ATTESTATION_OVERDUE)
    assert note.user_id == dana.pk
    assert note.url == reverse("governance:attest", args=[model.slug])
    assert AuditEvent.objects.filter(action="attestation.overdue").count() == 1
    # the next beat changes nothing more
    assert services.attestations_scan() == 0
    assert Finding.objects.filter(source=FindingSource.ATTESTATION_OVERDUE).count() == 1
    assert AuditEvent.objects.filter(action="attestation.overdue").count() == 1
    # the attestation answers the finding and the notification
    attest(dana, model)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED
    assert Notification.objects.get(pk=note.pk).read_at is not None


def test_a_policy_may_say_an_overdue_attestation_only_reminds(approved, adam, dana):
    definition = copy.deepcopy(approved.governance.policy_version.definition)
    definition["attestation"] = {**DEFAULT_ATTESTATION, "overdue_finding": False,
                                 "months": {"1": 3, "2": 3, "3": 3}, "grace_days": 0}
    pv = services.policy_version_create(actor=adam, policy_slug="sr-11-7", definition=definition)
    approve_policy(pv)
    # the approved version keeps the policy it was decided under: still 12 months
    assert services.attestation_standing(approved.model).cadence_months == 12
    VersionGovernance.objects.filter(version=approved).update(policy_version=pv)
    age(approved.model, 100)
    assert services.attestation_standing(approved.model).status == "overdue"
    assert services.attestations_scan() == 1
    assert not Finding.objects.filter(source=FindingSource.ATTESTATION_OVERDUE).exists()
    assert Notification.objects.filter(kind=NotificationKind.ATTESTATION_OVERDUE,
                                       user=dana).exists()


def test_an_attestation_coming_due_is_notified_without_a_finding(tiered_model, dana):
    age(tiered_model, 350)
    assert services.attestations_scan() == 1
    assert Notification.objects.filter(kind=NotificationKind.ATTESTATION_DUE, user=dana).exists()
    assert not Finding.objects.exists()


# --- Pages and dashboards ------------------------------------------------------------------

def test_the_owner_attests_from_the_model_page(client, tiered_model, dana):
    age(tiered_model, 360)
    client.force_login(dana)
    url = reverse("governance:attest", args=[tiered_model.slug])
    detail = client.get(reverse("registry:model-detail", args=[tiered_model.slug]))
    assert 'id="attestation-h"' in detail.content.decode() and url in detail.content.decode()
    page = client.get(url)
    assert page.status_code == 200 and escape(DEFAULT_STATEMENT) in page.content.decode()
    refused = client.post(url, {"entry_complete": "on"})
    assert refused.status_code == 400
    assert "used as it was approved" in refused.content.decode()
    done = client.post(url, {"entry_complete": "on", "used_as_approved": "on",
                             "within_conditions": "on", "comment": "All fine."})
    assert done.status_code == 302
    assert OwnerAttestation.objects.get(model=tiered_model).comment == "All fine."


def test_overdue_attestations_show_on_the_owners_and_the_risk_officers_dashboards(
        client, approved, dana, rhea):
    age(approved.model, 365 + 45)
    client.force_login(dana)
    home = client.get("/").content.decode()
    assert 'id="my-attestations"' in home and approved.model.name in home
    client.force_login(rhea)
    home = client.get("/").content.decode()
    assert 'id="overdue-attestations"' in home
    listing = client.get(reverse("governance:attestations")).content.decode()
    assert approved.model.name in listing and "overdue since" in listing


# --- API ------------------------------------------------------------------------------------

def test_the_api_lists_what_is_due_and_takes_the_owners_attestation(
        api, tiered_model, dana, frank, rhea):
    age(tiered_model, 360)
    due = api.as_(dana).get("/api/v1/attestations/due/").json()
    assert [(d["model"], d["status"]) for d in due] == [(tiered_model.slug, "due")]
    body = {"model": tiered_model.slug, "entry_complete": True, "used_as_approved": True,
            "within_conditions": True}
    assert api.as_(frank).post("/api/v1/attestations/", body, format="json").status_code == 400
    refused = api.as_(rhea).post("/api/v1/attestations/", body, format="json")
    assert refused.status_code == 403
    bad = api.as_(dana).post("/api/v1/attestations/", {**body, "within_conditions": "yes"},
                             format="json")
    assert bad.status_code == 400 and "within_conditions" in bad.json()["fields"]
    made = api.as_(dana).post("/api/v1/attestations/", body, format="json")
    assert made.status_code == 201 and made.json()["attested_by"] == "dana"
    listed = api.as_(dana).get(f"/api/v1/attestations/?model={tiered_model.slug}").json()
    assert [row["id"] for row in listed["results"]] == [made.json()["id"]]
    assert api.as_(frank).get(f"/api/v1/attestations/{made.json()['id']}/").status_code == 404
    assert api.as_(dana).get("/api/v1/attestations/due/").json() == []


# --- Validators attest independence --------------------------------------------------------

def test_a_validator_taking_a_validation_must_attest_independence(api, walk, draft, victor):
    walk.submit(draft)
    url = f"/api/v1/versions/{draft.pk}/assign-validator/"
    refused = api.as_(victor).post(url, {"validator": "victor"}, format="json")
    assert refused.status_code == 400
    assert "independence_attested" in refused.json()["fields"]
    assert not IndependenceAttestation.objects.exists()
    taken = api.as_(victor).post(url, {"validator": "victor", "independence_attested": True},
                                 format="json")
    assert taken.status_code == 200
    row = IndependenceAttestation.objects.get(version=draft)
    assert row.validator_id == victor.pk and row.statement == services.INDEPENDENCE_STATEMENT
    assert AuditEvent.objects.filter(action="attestation.independence",
                                     actor_id=victor.pk).count() == 1


def test_a_validator_a_risk_officer_assigned_attests_on_the_workflow_page(
        client, api, walk, draft, victor, rhea):
    walk.submit(draft)
    walk.assign(draft)
    assert not IndependenceAttestation.objects.exists()
    with pytest.raises(PermissionRefused, match="Only the version's validator"):
        services.independence_attest(actor=rhea, version=draft)
    client.force_login(victor)
    page = client.get(reverse("governance:workflow", args=[draft.model.slug, draft.number]))
    assert 'id="attest-independence"' in page.content.decode()
    done = client.post(reverse("governance:version-action",
                               args=[draft.model.slug, draft.number, "attest_independence"]))
    assert done.status_code == 302
    assert IndependenceAttestation.objects.filter(version=draft, validator=victor).exists()
    page = client.get(reverse("governance:workflow", args=[draft.model.slug, draft.number]))
    assert 'id="attest-independence"' not in page.content.decode()
    again = api.as_(victor).post(f"/api/v1/versions/{draft.pk}/attest-independence/")
    assert again.status_code == 200
    assert IndependenceAttestation.objects.filter(version=draft).count() == 1


def test_no_review_concludes_without_the_validators_attestation_of_independence(
        client, walk, draft, victor):
    """A validator a risk officer assigned, who has not attested on the workflow page, is told
    to attest; the review form's box attests with the review."""
    walk.submit(draft)
    walk.assign(draft)
    walk.evidence(draft)
    with pytest.raises(ValidationFailed, match="Attest your independence") as refused:
        walk.review(draft, independence_attested=False)
    assert refused.value.fields == {"independence_attested": [refused.value.message]}
    draft.refresh_from_db()
    assert draft.state == "in_validation" and not IndependenceAttestation.objects.exists()
    client.force_login(victor)
    url = reverse("governance:review", args=[draft.model.slug, draft.number])
    form = {k: v for k, v in review_fields(draft).items() if k != "independence_attested"}
    page = client.post(url, form)
    assert page.status_code == 400 and "Attest your independence" in page.content.decode()
    done = client.post(url, {**form, "independence_attested": "on"})
    assert done.status_code == 302
    draft.refresh_from_db()
    assert draft.state == "pending_approval"
    assert IndependenceAttestation.objects.filter(version=draft, validator=victor).exists()


def test_the_policy_page_says_what_it_asks_of_owners(client, policy, rhea):
    client.force_login(rhea)
    page = client.get(policy.get_absolute_url()).content.decode()
    assert 'id="attestation-rules"' in page
    assert "every 6 months at tier 1, 12 months at tier 2, 12 months at tier 3" in page
    assert "raises a medium finding" in page and "this version does not say" in page


def test_a_second_person_approving_a_draft_sees_its_attestation_changes(policy):
    definition = copy.deepcopy(policy.definition)
    definition["attestation"] = {**DEFAULT_ATTESTATION, "grace_days": 10}
    changes = definition_changes(policy.definition, definition)
    assert [(c.where, c.before, c.after) for c in changes] == [
        ("Owners' attestation: grace days", "30", "10")]
