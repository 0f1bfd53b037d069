"""The home page is each person's dashboard: what waits for them, at each step of the journey;
oversight for those who oversee; models by tier and state; recent activity by name."""

from __future__ import annotations

import pytest

from governance import services

pytestmark = pytest.mark.django_db


def home(client, person) -> str:
    client.force_login(person)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_each_step_shows_on_the_dashboard_of_who_acts_next(client, walk, draft, people):
    walk.submit(draft)
    assert "Submitted, no validator yet" in home(client, people["victor"])
    assert f"{draft.model.name} v{draft.number}" in home(client, people["rhea"])
    assert "Nothing waits for you now" in home(client, people["dana"])

    walk.assign(draft)
    assert "Your validations" in home(client, people["victor"])
    finding = services.finding_raise(actor=people["victor"], version=draft, title="No lineage",
                                     description="Lineage missing.", severity="high")
    dana_home = home(client, people["dana"])
    assert f"F-{finding.pk} No lineage" in dana_home and "answer by" in dana_home
    services.finding_transition(actor=people["dana"], finding=finding,
                                to="remediation_proposed", text="Added.")
    assert "a remediation waits for your verdict" in home(client, people["victor"])


def test_signers_see_what_awaits_their_sign_off(client, walk, draft, people):
    walk.to_pending(draft)
    page = home(client, people["boris"])
    assert "Awaiting your sign-off" in page
    assert f'href="/models/{draft.model.slug}/versions/{draft.number}/sign/"' in page


def test_oversight_is_for_those_who_oversee(client, walk, draft, people):
    walk.submit(draft)
    walk.assign(draft)
    services.finding_raise(actor=people["victor"], version=draft, title="Leakage",
                           description="Target leakage.", severity="high")
    rhea_home = home(client, people["rhea"])
    assert "Oversight" in rhea_home and "1</strong> open high finding" in rhea_home
    assert "Oversight" not in home(client, people["dana"])


def test_models_by_tier_and_state_and_recent_activity_by_name(client, walk, draft, people):
    walk.submit(draft)
    page = home(client, people["dana"])
    assert "<svg" in page and "Models by state and tier" in page
    assert "Recent activity" in page and "Version submit" in page
    assert "core.user" not in page


def test_someone_with_no_models_is_told_why(client, people):
    page = home(client, people["frank"])
    assert "No models you can see yet" in page
