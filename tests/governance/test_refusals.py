"""Refusals in the audit trail: each kind of refusal has its own reason code, so folding a flood
of them per minute groups like with like; and the sign-off password re-entry is throttled like a
sign-in."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from core import throttle
from core.errors import PermissionRefused
from core.models.audit import SecurityEventCounter
from governance import services
from registry.models import VersionState
from tests.conftest import PASSWORD
from tests.governance.conftest import review_fields

pytestmark = pytest.mark.django_db


def counts_by_reason(username: str) -> dict[str, int]:
    rows = (SecurityEventCounter.objects.filter(action="governance.refused", principal=username)
            .values("reason").annotate(n=Sum("count")))
    return {row["reason"]: row["n"] for row in rows}


def messages_by_reason(username: str) -> dict[str, str]:
    return {row.reason: row.payload["message"] for row in SecurityEventCounter.objects.filter(
        action="governance.refused", principal=username)}


def test_each_kind_of_refusal_is_folded_under_its_own_code(walk, draft, boris, rhea, victor):
    with pytest.raises(PermissionRefused):
        services.version_submit(actor=rhea, version=draft)  # not on the model's team
    walk.to_pending(draft)
    walk.sign(draft, "boris")
    for _ in range(2):
        with pytest.raises(PermissionRefused):
            walk.sign(draft, "boris")
    with pytest.raises(PermissionRefused):
        walk.sign(draft, "victor")  # holds no signing role

    assert counts_by_reason("rhea") == {"not_model_team": 1}
    assert counts_by_reason("boris") == {"already_signed": 2}
    assert counts_by_reason("victor") == {"wrong_role": 1}
    assert "already signed" in messages_by_reason("boris")["already_signed"]
    draft.refresh_from_db()
    assert draft.state == VersionState.PENDING_APPROVAL


def test_a_validator_who_is_not_a_reviewer_and_a_wrong_role_fold_apart(walk, draft, rhea,
                                                                       aude):
    walk.submit(draft)
    walk.assign(draft)
    with pytest.raises(PermissionRefused):
        services.review_conclude(actor=rhea, version=draft, **review_fields(draft))
    with pytest.raises(PermissionRefused):
        services.version_transition(version=draft, to=VersionState.CHANGES_REQUESTED,
                                    actor=rhea, reason="More tests.")
    assert counts_by_reason("rhea") == {"wrong_role": 2}
    with pytest.raises(PermissionRefused):
        services.intake_record(actor=aude, model=draft.model, is_model=False,
                               rationale="A report.")
    assert counts_by_reason("aude") == {"read_only": 1}


class TestSignOffPasswordThrottle:
    """The password re-entry shares the sign-in throttle (core.throttle), per account."""

    URL = "/api/v1/versions/{}/sign-off/"

    def sign(self, api, user, version, password: str):
        return api.as_(user).post(self.URL.format(version.pk), {
            "decision": "approve", "comment": "Fine.", "password": password}, format="json")

    def test_wrong_passwords_are_throttled_like_sign_ins(self, api, walk, draft, boris, settings,
                                                         client):
        settings.LOGIN_FAILURES_PER_ACCOUNT = 5
        walk.to_pending(draft)
        for _ in range(5):
            response = self.sign(api, boris, draft, "guess")
            assert response.status_code == 403
            assert response.json()["detail"].startswith("The password is wrong")
        response = self.sign(api, boris, draft, PASSWORD)  # even the right one, now
        assert response.status_code == 429
        detail = response.json()["detail"]
        assert "Too many failed sign-ins" in detail and "stolen session" in detail
        assert draft.signoffs.count() == 0
        assert counts_by_reason("boris") == {"wrong_password": 5, "throttled": 1}
        # The account is held at the sign-in page too.
        login = client.post("/login/", {"username": "boris", "password": PASSWORD})
        assert login.status_code == 200 and "Too many failed sign-ins" in login.content.decode()

    def test_a_right_password_clears_the_count(self, api, walk, draft, boris, rhea, settings):
        settings.LOGIN_FAILURES_PER_ACCOUNT = 3
        walk.to_pending(draft)
        for _ in range(2):
            assert self.sign(api, boris, draft, "guess").status_code == 403
        assert self.sign(api, boris, draft, PASSWORD).status_code == 201
        assert throttle.refusal("boris", "127.0.0.1") is None
        # rhea's account is counted apart from boris's.
        assert self.sign(api, rhea, draft, "guess").status_code == 403
        assert self.sign(api, rhea, draft, PASSWORD).status_code == 201

    def test_the_sign_page_says_so_too(self, client, walk, draft, boris, settings):
        settings.LOGIN_FAILURES_PER_ACCOUNT = 1
        walk.to_pending(draft)
        client.force_login(boris)
        url = f"/models/{draft.model.slug}/versions/{draft.number}/sign/"
        body = {"decision": "approve", "comment": "ok", "password": "nope"}
        wrong = client.post(url, body)
        # The page keeps the form (422); the API answers 403, as for any refusal.
        assert wrong.status_code == 422 and "The password is wrong" in wrong.content.decode()
        held = client.post(url, {**body, "password": PASSWORD})
        assert held.status_code == 429 and "stolen session" in held.content.decode()
