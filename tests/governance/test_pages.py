"""Governance pages render for the people who use them and show what blocks a version."""

from __future__ import annotations

import re

import pytest

from core.models.audit import SecurityEventCounter
from governance.models import ModelIntake
from tests.conftest import PASSWORD
from tests.governance.conftest import ALL_HIGH

pytestmark = pytest.mark.django_db


def test_the_intake_page_scores_with_htmx_and_saves(client, policy, dana, credit_model):
    client.force_login(dana)
    url = f"/models/{credit_model.slug}/intake/"
    assert "Is this a model?" in client.get(url).content.decode()
    answers = {f"q_{k}": v for k, v in ALL_HIGH.items()}
    preview = client.post(url + "score/", answers, HTTP_HX_REQUEST="true").content.decode()
    assert "24" in preview and "tier 1" in preview and "<html" not in preview
    assert not ModelIntake.objects.exists()
    response = client.post(url, {"is_model": "yes", "rationale": "PD model", **answers})
    assert response.status_code == 302
    assert ModelIntake.objects.get().tier == 1
    page = client.get(f"/models/{credit_model.slug}/").content.decode()
    assert "Tier 1" in page


def test_a_bad_intake_page_post_is_400_and_names_the_question(client, policy, dana,
                                                              credit_model):
    client.force_login(dana)
    response = client.post(f"/models/{credit_model.slug}/intake/",
                           {"is_model": "yes", "q_exposure": "high"})
    assert response.status_code == 400
    assert "Answer &#x27;Impact on individuals&#x27;" in response.content.decode()
    assert not ModelIntake.objects.exists()


def test_the_version_page_has_the_governance_panel(client, draft, dana):
    client.force_login(dana)
    page = client.get(f"/models/{draft.model.slug}/versions/{draft.number}/").content.decode()
    assert "Governance" in page and "Tier 2" in page and "Workflow: submit" in page


def test_the_workflow_page_lists_blockers_and_the_sign_page_signs(client, walk, draft, boris):
    walk.to_pending(draft)
    client.force_login(boris)
    base = f"/models/{draft.model.slug}/versions/{draft.number}/"
    page = client.get(base + "workflow/").content.decode()
    assert "more sign-off(s) from a risk officer" in page and "Sign off →" in page
    sign_page = client.get(base + "sign/").content.decode()
    assert 'type="password"' in sign_page
    wrong = client.post(base + "sign/", {"decision": "approve", "comment": "Fit for use.",
                                         "password": "nope"})
    # The form stays, with the decision and comment, and says what was wrong.
    assert wrong.status_code == 422
    html = wrong.content.decode()
    assert "The password is wrong" in html and "Fit for use." in html
    assert re.search(r'value="approve"[^>]*checked', html)
    assert SecurityEventCounter.objects.filter(  # still recorded as a refusal
        action="governance.refused", principal="boris", reason="wrong_password").exists()
    ok = client.post(base + "sign/", {"decision": "approve", "comment": "ok",
                                      "password": PASSWORD})
    assert ok.status_code == 302 and draft.signoffs.count() == 1


def test_a_conflict_on_a_page_is_409_with_the_reason(client, dana, tiered_model):
    from registry import services as registry

    version = registry.version_create(actor=dana, model=tiered_model)
    client.force_login(dana)
    response = client.post(f"/models/{tiered_model.slug}/versions/{version.number}/workflow/"
                           "submit/")
    assert response.status_code == 409
    assert "Upload the version&#x27;s ONNX artifact" in response.content.decode()


def test_queue_and_policies_pages(client, walk, draft, victor, adam):
    walk.submit(draft)
    client.force_login(victor)
    assert "v1" in client.get("/governance/queue/").content.decode()
    client.force_login(adam)
    page = client.get("/governance/policies/").content.decode()
    assert "SR 26-2" in page and "12 / 24 / 36 months" in page
    assert "9 / 6 / 2" in page and "Template shipped with Assay, revision 2." in page


def test_the_registry_pages_show_governance_panels_through_the_extension_point(
        rf, draft, dana):
    """The registry's pages name slots; governance fills them (governance.apps). What a slot
    renders starts with exactly what including the panel did before (apps further up, such as
    evaluation, add their panels after it)."""
    from django.template import RequestContext, Template

    request = rf.get("/")
    request.user = dana
    context = {"model": draft.model, "version": draft}
    for slot, panel in [("registry.model_detail", "governance/_model_panel.html"),
                        ("registry.version_detail", "governance/_version_panel.html")]:
        through_slot = Template('{% load assay %}{% panels "' + slot + '" %}').render(
            RequestContext(request, context))
        included = Template('{% include "' + panel + '" %}').render(
            RequestContext(request, context))
        assert through_slot.startswith(included) and 'class="governance-panel"' in included


def test_the_header_links_come_from_the_apps_with_the_unread_count(client, walk, draft, people):
    walk.submit(draft)
    walk.assign(draft)
    client.force_login(people["victor"])
    page = client.get("/models/").content.decode()
    # The apps add their links in INSTALLED_APPS order; the markup is the one base.html had.
    assert ('  <nav aria-label="Main">\n'
            '    <a href="/models/" aria-current="page">Inventory</a>\n'
            '    <a href="/data-sources/">Data sources</a>\n'
            '    <a href="/governance/queue/">My work</a>\n'
            '    <a href="/governance/findings/">Findings</a>\n'
            '    <a href="/governance/waivers/">Waivers</a>\n'
            '    <a href="/governance/tools/">Tools</a>\n'
            '    <a href="/governance/attestations/">Attestations</a>\n'
            '    <a href="/governance/inbox/">Inbox <span class="badge" id="unread-badge" '
            'title="unread notifications">1</span></a>\n'
            '    <a href="/deployments/">Deployments</a>\n'
            '    <a href="/monitoring/">Monitoring</a>\n'
            '    \n') in page
