"""Issue 17: the owners of an endpoint (who created it, who changed it last) are told when a
version it serves is suspended or reinstated, whoever or whatever suspended it (a risk officer,
or Assay itself: an expired waiver, a monitoring breach — every way goes through governance's
version_transition), with what their endpoint does now."""

from __future__ import annotations

import pytest

from core.models import Role
from governance import services as governance
from governance.models import Notification, NotificationKind
from registry.models import VersionState
from serving import services

pytestmark = pytest.mark.django_db


def notices(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=NotificationKind.SERVED_VERSION)
                .order_by("pk"))


def test_a_risk_officer_suspends_and_the_endpoint_owners_are_told_what_it_does_now(
        make_user, devi, rhea, approved):
    dora = make_user("dora", Role.DEPLOYER)
    endpoint = services.endpoint_create(actor=devi, slug="credit", version=approved)
    services.endpoint_suspend(actor=dora, endpoint=endpoint, reason="Maintenance.")
    services.endpoint_resume(actor=dora, endpoint=endpoint)

    governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=rhea,
                                  reason="Drift beyond tolerance.")
    for owner in (devi, dora):  # who created it, and who changed it last
        [notice] = notices(owner)
        assert notice.title == f"credit: its primary {approved} was suspended"
        assert notice.url == "/deployments/credit/"
        assert f"{approved} was suspended by rhea: Drift beyond tolerance." in notice.body
        assert "answers 503 to every request" in notice.body
    assert notices(rhea) == []  # who suspended it knows

    # Reinstated: told again; a second suspension is news again.
    governance.version_transition(version=approved, to=VersionState.APPROVED, actor=rhea,
                                  reason="Drift explained.")
    assert notices(devi)[-1].title == f"credit: its primary {approved} was reinstated"
    assert "serves it again as its primary" in notices(devi)[-1].body
    governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=rhea,
                                  reason="Drift again.")
    assert [n.title.rsplit(" ", 1)[-1] for n in notices(devi)] == [
        "suspended", "reinstated", "suspended"]


def test_assay_suspending_a_canary_tells_the_owners_too(devi, approved, next_version):
    endpoint = services.endpoint_create(actor=devi, slug="credit", version=approved)
    services.endpoint_set_canary(actor=devi, endpoint=endpoint, version=next_version,
                                 percent=20)
    # Assay itself (actor None): an expired waiver or a monitoring breach suspends this way.
    governance.version_transition(version=next_version, to=VersionState.SUSPENDED, actor=None,
                                  reason="Suspended by monitoring: severe breach.")
    [notice] = notices(devi)
    assert notice.title == f"credit: its canary {next_version} was suspended"
    assert "suspended by Assay: Suspended by monitoring: severe breach." in notice.body
    assert "the canary's 20 % of requests are answered 503" in notice.body
    # The primary suspended too (an expired waiver): told again, once, about the primary.
    governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=None,
                                  reason="Waiver expired.")
    assert [n.title for n in notices(devi)] == [
        f"credit: its canary {next_version} was suspended",
        f"credit: its primary {approved} was suspended"]
    assert Notification.objects.filter(kind=NotificationKind.SERVED_VERSION).count() == 2
