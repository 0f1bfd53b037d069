"""Every hand-over notifies the person who must act next (issue 17): a submission with nobody
to validate it reaches the risk officers and the independent validators; a proposed remediation
reaches the validator; a reopened finding its owner. Opening or acting on the item reads what
pointed at it, so the inbox badge does not stay behind."""

from __future__ import annotations

import pytest

from governance import services
from governance.models import Notification

pytestmark = pytest.mark.django_db


def unread(username: str, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(user__username=username, kind=kind,
                                            read_at__isnull=True))


def test_a_submission_reaches_those_who_assign_or_may_take_it(walk, draft):
    walk.submit(draft)
    assert [n.title for n in unread("rhea", "submitted")] == [
        f"{draft} was submitted for validation"]
    assert len(unread("victor", "submitted")) == 1
    # The developers submitted it themselves and cannot validate it: not told.
    assert not unread("dana", "submitted")


def test_a_resubmission_goes_to_the_assigned_validator_only(walk, draft, people):
    walk.submit(draft)
    walk.assign(draft)
    Notification.objects.all().delete()
    services.version_transition(version=draft, to="changes_requested", actor=people["victor"],
                                reason="Add the lineage.")
    services.version_transition(version=draft, to="submitted", actor=people["dana"])
    assert len(unread("victor", "assignment")) == 1 and not unread("rhea", "submitted")


@pytest.fixture
def finding(walk, draft, people):
    walk.submit(draft)
    walk.assign(draft)
    return services.finding_raise(actor=people["victor"], version=draft, title="No lineage",
                                  description="The training data's lineage is missing.",
                                  severity="medium")


def test_a_proposed_remediation_reaches_the_validator(finding, people):
    services.finding_transition(actor=people["dana"], finding=finding,
                                to="remediation_proposed", text="Lineage document attached.")
    (note,) = unread("victor", "remediation_proposed")
    assert note.title.startswith(f"Remediation proposed for F-{finding.pk}")
    assert "Lineage document attached." in note.body and note.url == finding.get_absolute_url()
    assert not unread("dana", "remediation_proposed")  # not the one who proposed it


def test_a_reopened_finding_goes_back_to_its_owner(finding, people):
    services.finding_transition(actor=people["dana"], finding=finding,
                                to="remediation_proposed", text="Lineage document attached.")
    Notification.objects.all().delete()
    services.finding_transition(actor=people["victor"], finding=finding, to="open",
                                text="The document covers only half the sources.")
    (note,) = unread("dana", "finding_raised")
    assert "was reopened" in note.title and "half the sources" in note.body


def test_opening_the_finding_reads_its_notifications(client, finding, people):
    assert unread("dana", "finding_raised")
    client.force_login(people["dana"])
    assert client.get(finding.get_absolute_url()).status_code == 200
    assert not unread("dana", "finding_raised")


def test_opening_the_workflow_reads_the_version_notifications(client, walk, draft, people):
    walk.submit(draft)
    assert unread("rhea", "submitted")
    client.force_login(people["rhea"])
    assert client.get(f"/models/{draft.model.slug}/versions/{draft.number}/workflow/"
                      ).status_code == 200
    assert not unread("rhea", "submitted")
    assert unread("victor", "submitted")  # someone else's stays unread


def test_once_a_validator_is_assigned_the_submission_call_is_settled_for_all(walk, draft):
    walk.submit(draft)
    assert unread("rhea", "submitted") and unread("victor", "submitted")
    walk.assign(draft)
    assert not unread("rhea", "submitted") and not unread("victor", "submitted")
    assert len(unread("victor", "assignment")) == 1


def test_the_page_confirms_in_words_who_now_has_it(client, walk, draft, people):
    walk.submit(draft)
    walk.assign(draft)
    client.force_login(people["victor"])
    base = f"/models/{draft.model.slug}/versions/{draft.number}/workflow/"
    response = client.post(base + "request_changes/", {"reason": "Add the lineage."},
                           follow=True)
    html = response.content.decode()
    assert f"{draft} is now changes requested; dana is notified." in html
    client.force_login(people["dana"])
    html = client.post(base + "submit/", follow=True).content.decode()
    assert f"{draft} is now submitted; victor is notified." in html


def test_a_model_registered_or_transferred_to_someone_else_tells_the_new_owner(
        people, teams, make_user):
    from registry import services as registry

    dora = make_user("dora", "data_scientist", team="credit")
    model = registry.model_create(actor=people["dana"], team=teams["credit"], name="Limits",
                                  purpose="Credit limits.", decision_type="credit",
                                  task="binary_classification", owner=dora)
    (note,) = unread("dora", "model_owned")
    assert note.title == "You own Limits" and "dana" in note.body
    assert note.url == f"/models/{model.slug}/intake/"
    registry.model_create(actor=people["dana"], team=teams["credit"], name="Own",
                          purpose="Her own.", decision_type="credit",
                          task="binary_classification")
    assert not unread("dana", "model_owned")  # registering one's own model tells nobody
    registry.model_transfer(actor=people["adam"], model=model, owner=people["dana"])
    (note,) = unread("dana", "model_owned")
    assert "transferred Limits" in note.body
