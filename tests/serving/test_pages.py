"""The deployment pages without a browser: who sees the forms, what a confirmation names, and bad
input answered with the page again and a 4xx."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from serving import services
from serving.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(devi, approved) -> Endpoint:
    return services.endpoint_create(actor=devi, slug="credit", version=approved)


def test_only_deployers_get_the_forms(client, dana, rhea, devi, endpoint):
    for user in (dana, rhea):
        client.force_login(user)
        assert client.get("/deployments/new/").status_code == 403
        assert client.get("/deployments/credit/suspend/").status_code == 403
        page = client.get("/deployments/credit/").content.decode()
        assert "Suspend" not in page and "History" in page
    client.force_login(devi)
    assert client.get("/deployments/new/").status_code == 200


def test_a_confirmation_names_the_consequence_and_changes_nothing_until_confirmed(client, devi,
                                                                                  endpoint):
    client.force_login(devi)
    page = client.get("/deployments/credit/suspend/").content.decode()
    assert "credit stops answering: every application calling it is refused" in page
    assert "Confirm: suspend" in page
    assert Endpoint.objects.get().status == "active"
    assert not AuditEvent.objects.filter(action="endpoint.suspend").exists()


def test_an_unknown_change_is_a_404(client, devi, endpoint):
    client.force_login(devi)
    assert client.get("/deployments/credit/explode/").status_code == 404


def test_a_developer_refused_on_production_is_told_why(client, dirk, approved):
    client.force_login(dirk)
    response = client.post("/deployments/new/", {"slug": "credit", "version": approved.pk,
                                                 "production": "on"})
    assert response.status_code == 403
    assert "segregation of duties" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_a_version_not_servable_is_refused_on_the_form_with_the_reason(client, devi, approved,
                                                                       rhea):
    from governance import services as governance
    from registry.models import VersionState
    governance.version_transition(version=approved, to=VersionState.SUSPENDED, actor=rhea,
                                  reason="Drift.")
    client.force_login(devi)
    # A suspended version is not offered; named anyway, the form refuses it.
    response = client.post("/deployments/new/", {"slug": "credit", "version": approved.pk})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
