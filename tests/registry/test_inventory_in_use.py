"""The inventory shows the version in use beside the newest one: an approved v1 stays visible as
approved (and under the "approved" filter) while a v2 draft is under way."""

from __future__ import annotations

from registry import services
from registry.filters import version_in_use
from registry.models import ModelVersion, VersionState


def test_the_version_in_use_is_the_newest_approved_else_the_newest_suspended():
    assert version_in_use(None, None) is None
    assert version_in_use(3, 2) == (3, "approved")
    assert version_in_use(1, 2) == (1, "approved")
    assert version_in_use(None, 1) == (1, "suspended")


def _approved_v1_and_draft_v2(dana, credit_model, onnx_file):
    v1 = services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    # Approval itself is governance's; the inventory only reads the state.
    ModelVersion.objects.filter(pk=v1.pk).update(state=VersionState.APPROVED)
    services.version_create(actor=dana, model=credit_model, artifact=onnx_file())
    credit_model.refresh_from_db()
    assert credit_model.status == VersionState.DRAFT  # the newest version's state


def test_an_approved_v1_stays_in_use_while_v2_is_drafted(client, dana, credit_model, onnx_file):
    _approved_v1_and_draft_v2(dana, credit_model, onnx_file)
    client.force_login(dana)
    html = client.get("/models/").content.decode()
    assert f'href="/models/{credit_model.slug}/versions/1/">v1</a> <span class="badge ok">Approved' \
        in html
    assert 'v2 <span class="badge">Draft</span>' in html
    approved = client.get("/models/", {"status": "approved"})
    assert [m.slug for m in approved.context["page"]] == [credit_model.slug]
    drafts = client.get("/models/", {"status": "draft"})
    assert [m.slug for m in drafts.context["page"]] == [credit_model.slug]


def test_the_api_filter_agrees(api, dana, credit_model, onnx_file):
    _approved_v1_and_draft_v2(dana, credit_model, onnx_file)
    rows = api.as_(dana).get("/api/v1/models/?status=approved").json()["results"]
    assert [r["slug"] for r in rows] == [credit_model.slug]


def test_an_empty_inventory_says_why(client, victor):
    client.force_login(victor)
    html = client.get("/models/").content.decode()
    assert "You see your teams' models and those you are assigned to" in html
