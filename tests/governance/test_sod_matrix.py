"""Segregation of duties, as one table over the REST API and the pages.

Each row: who tries which step, and the status they get. Refusals are 403 with the reason (and
audited); a version you may not see is 404. The credit model is owned by dana and developed by
dev_val (a validator who is also its developer) and dev_board (a review board member who is also
its developer); victor is the independent validator.

Independence also holds against who owned, developed and submitted the model at submission: the
version is submitted by sub_board (a data scientist on the review board) while ex_owner (a risk
officer) owns the model and ex_dev (review board) and ex_val (a validator) develop it; right after
the submission adam hands the model back to dana and they leave the developer list.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.models import User
from governance import services
from registry import services as registry
from registry.models import VersionState
from tests.conftest import PASSWORD
from tests.governance.conftest import counting_evidence, refusals, required_figures, review_fields

pytestmark = pytest.mark.django_db

#        step       actor        status  reason fragment
MATRIX = [
    ("submit",   "dana",      200, ""),
    ("submit",   "frank",     404, ""),                       # other team: not visible
    ("submit",   "victor",    404, ""),                       # validator, not assigned yet
    ("submit",   "rhea",      403, "submit"),
    ("submit",   "aude",      403, "submit"),
    ("assign",   "rhea",      200, ""),
    ("assign",   "dana",      403, "risk officers assign"),
    ("assign",   "victor",    200, ""),                       # self-assignment from the queue
    ("assign",   "dev_val",   403, "develop this model"),     # a validator who develops it
    ("review",   "victor",    201, ""),
    ("review",   "other_val", 404, ""),                       # not assigned: does not see it
    ("review",   "dev_val",   403, "assigned"),
    ("review",   "rhea",      403, "validators"),
    ("review",   "dana",      403, "validators"),
    ("sign",     "boris",     201, ""),
    ("sign",     "rhea",      201, ""),
    ("sign",     "dana",      403, "hold none"),
    ("sign",     "dev_board", 403, "develop this model"),
    ("sign",     "victor",    404, ""),                       # not this version's validator
    ("sign",     "val_board", 403, "validated this version"),  # board member who validated it
    ("sign",     "aude",      403, "hold none"),
    ("assign",   "ex_val",    403, "developed this model when this version was submitted"),
    ("sign",     "ex_dev",    403, "developed this model when this version was submitted"),
    ("sign",     "ex_owner",  403, "owned this model when this version was submitted"),
    ("sign",     "sub_board", 403, "submitted this version"),
]


@pytest.fixture
def cast(people, make_user, credit_model, dana, adam):
    """Everyone in the matrix; dev_val and dev_board develop the credit model, and until the
    version is submitted ex_owner owns it and ex_dev and ex_val develop it too."""
    extra = {
        "dev_val": make_user("dev_val", "validator", team="validation"),
        "dev_board": make_user("dev_board", "review_board"),
        "other_val": make_user("other_val", "validator", team="validation"),
        "val_board": make_user("val_board", "validator", "review_board", team="validation"),
        "ex_dev": make_user("ex_dev", "review_board"),
        "ex_val": make_user("ex_val", "validator", team="validation"),
        "ex_owner": make_user("ex_owner", "data_scientist", "risk_officer", team="credit"),
        "sub_board": make_user("sub_board", "data_scientist", "review_board", team="credit"),
    }
    # Named developers as data scientists of the team, they validate or sit on the board now:
    # the rows are set directly, since naming them today would be refused (not data scientists
    # of the team; registry.services checks that with core.permissions.can_develop).
    credit_model.developers.set([
        extra["dev_val"], extra["dev_board"], extra["ex_dev"], extra["ex_val"]])
    registry.model_transfer(actor=adam, model=credit_model, owner=extra["ex_owner"])
    return {**people, **extra}


def stage(step: str, walk, draft, cast) -> None:
    """Bring the version to where ``step`` happens."""
    if step == "submit":
        return
    services.version_submit(actor=cast["sub_board"], version=draft)
    model = draft.model
    registry.model_transfer(actor=cast["adam"], model=model, owner=cast["dana"])
    registry.model_update(actor=cast["dana"], model=model,
                          developers=[cast["dev_val"], cast["dev_board"]])
    draft.refresh_from_db()
    if step == "assign":
        return
    validator = cast["val_board"] if step == "sign" else cast["victor"]
    services.validator_assign(actor=cast["rhea"], version=draft, validator=validator)
    for check, figures in required_figures(draft).items():
        counting_evidence(draft, check, figures=figures, launched_by=validator)
    if step == "review":
        return
    services.review_conclude(actor=validator, version=draft, **review_fields(draft))


SELF_ASSIGNING = ("victor", "dev_val", "ex_val")


def api_call(client, step: str, draft, actor) -> int:
    base = f"/api/v1/versions/{draft.pk}/"
    if step == "submit":
        return client.post(base + "submit/", format="json")
    if step == "assign":
        taking = actor.username in SELF_ASSIGNING
        body = {"validator": actor.username if taking else "victor",
                # taking it oneself attests independence (issue 18)
                **({"independence_attested": True} if taking else {})}
        return client.post(base + "assign-validator/", body, format="json")
    if step == "review":
        return client.post(base + "review/", review_fields(draft), format="json")
    return client.post(base + "sign-off/", {"decision": "approve", "comment": "Fine.",
                                            "password": PASSWORD}, format="json")


def page_call(client, step: str, draft, actor):
    base = f"/models/{draft.model.slug}/versions/{draft.number}/"
    if step == "submit":
        return client.post(base + "workflow/submit/")
    if step == "assign":
        validator = actor if actor.username in SELF_ASSIGNING else \
            User.objects.get(username="victor")
        return client.post(base + "workflow/assign_validator/",
                           {"validator": validator.pk, "independence_attested": "on"})
    if step == "review":
        return client.post(base + "review/", review_fields(draft))
    return client.post(base + "sign/", {"decision": "approve", "comment": "Fine.",
                                        "password": PASSWORD})


def expected_state(step: str) -> str:
    return {"submit": VersionState.SUBMITTED, "assign": VersionState.IN_VALIDATION,
            "review": VersionState.PENDING_APPROVAL, "sign": VersionState.PENDING_APPROVAL}[step]


@pytest.mark.parametrize("step, who, status, reason", MATRIX)
def test_api(api, walk, draft, cast, step, who, status, reason):
    walk.p.update(cast)
    stage(step, walk, draft, cast)
    before_state = draft.__class__.objects.get(pk=draft.pk).state
    before = refusals(who)
    response = api_call(api.as_(cast[who]), step, draft, cast[who])
    assert response.status_code == status, response.content
    draft.refresh_from_db()
    if status < 300:
        assert draft.state == expected_state(step)
    else:
        assert draft.state == before_state  # nothing changed
    if status == 403:
        # The API refuses an auditor's every write before reading it (core.api.permissions).
        assert (reason if who != "aude" else "read-only") in response.json()["detail"]
        assert refusals(who) == before + 1


@pytest.mark.parametrize("step, who, status, reason", MATRIX)
def test_pages(client, walk, draft, cast, step, who, status, reason):
    walk.p.update(cast)
    stage(step, walk, draft, cast)
    before_state = draft.__class__.objects.get(pk=draft.pk).state
    client.force_login(cast[who])
    response = page_call(client, step, draft, cast[who])
    page_status = 302 if status < 300 else status
    assert response.status_code == page_status, response.content.decode()[:2000]
    draft.refresh_from_db()
    if status < 300:
        assert draft.state == expected_state(step)
    else:
        assert draft.state == before_state
    if status == 403:
        assert reason in response.content.decode()


def test_taking_a_developer_off_the_list_mid_flight_does_not_make_them_independent(
        api, walk, draft, dana, rhea, make_user):
    """The reviewer's walk: rhea (risk officer) develops the model when the version is submitted;
    dana then empties the developer list through the API; rhea still may not sign it, decide its
    tier override (asked by another risk officer) or grant it a waiver."""
    draft.model.developers.add(rhea)  # named as a data scientist; a risk officer since
    walk.to_pending(draft)
    patched = api.as_(dana).patch(f"/api/v1/models/{draft.model.slug}/", {"developers": []},
                                  format="json")
    assert patched.status_code == 200 and patched.json()["developers"] == []

    response = api.as_(rhea).post(f"/api/v1/versions/{draft.pk}/sign-off/", {
        "decision": "approve", "comment": "Fine.", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert "developed this model when this version was submitted" in response.json()["detail"]
    assert draft.signoffs.count() == 0

    rita = make_user("rita", "risk_officer")
    services.tier_override_request(actor=rita, model=draft.model, tier=1,
                                   justification="Used for all retail credit decisions.")
    response = api.as_(rhea).post(f"/api/v1/intakes/{draft.model.slug}/override-decision/",
                                  {"approve": True}, format="json")
    assert response.status_code == 403 and "another risk officer" in response.json()["detail"]

    response = api.as_(rhea).post("/api/v1/waivers/", {
        "version": draft.pk, "check": "performance", "reason": "r", "compensating_controls": "c",
        "limits_of_use": "l",
        "expires_at": (timezone.now() + dt.timedelta(days=30)).isoformat()}, format="json")
    assert response.status_code == 403, response.content
    assert "developed this model when" in response.json()["detail"]
