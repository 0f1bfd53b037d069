"""Role queues and the oversight board: the right rows for each role, constant query counts, and
the part-2 pages render for the people who use them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from governance import services
from governance.models import VersionGovernance
from registry import services as registry
from tests.governance.conftest import MEDIUM
from tests.governance.part2 import in_validation, raise_high

pytestmark = pytest.mark.django_db


def _models(walk, people, teams, onnx_file, n: int, prefix: str):
    """n credit models in validation, each with a high finding owned by dana."""
    versions = []
    for i in range(n):
        model = registry.model_create(actor=people["dana"], team=teams["credit"],
                                      name=f"{prefix} {i}", slug=f"{prefix}-{i}",
                                      purpose="Scores.", decision_type="credit",
                                      task="binary_classification")
        services.intake_record(actor=people["dana"], model=model, is_model=True, answers=MEDIUM)
        version = registry.version_create(actor=people["dana"], model=model,
                                          artifact=onnx_file())
        in_validation(walk, version)
        raise_high(walk, version)
        versions.append(version)
    return versions


def test_my_work_lists_each_roles_queue(walk, draft, api, people):
    version = walk.to_pending(draft)
    finding = raise_high(walk, version, severity="medium")
    dana = api.as_(people["dana"]).get("/api/v1/governance/my-work/").json()
    assert [f["id"] for f in dana["findings"]] == [finding.pk]
    assert [m["slug"] for m in dana["team_models"]] == [version.model.slug]
    assert dana["team_models"][0]["tier"] == 2 and dana["signoffs"] == []
    boris = api.as_(people["boris"]).get("/api/v1/governance/my-work/").json()
    assert [v["version"] for v in boris["signoffs"]] == [version.pk]
    services.finding_transition(actor=people["dana"], finding=finding,
                                to="remediation_proposed", text="Fixed.")
    victor = api.as_(people["victor"]).get("/api/v1/governance/my-work/").json()
    assert [f["id"] for f in victor["findings"]] == [finding.pk]  # awaits his closure
    assert api.as_(people["frank"]).get("/api/v1/governance/my-work/").json()["findings"] == []


def test_the_board_shows_overdue_reviews_high_findings_and_waivers(walk, draft, api, people):
    version = in_validation(walk, draft)
    high = raise_high(walk, version)
    waiver = services.waiver_grant(actor=people["rhea"], version=version, finding=high,
                                   reason="r", compensating_controls="c", limits_of_use="l",
                                   expires_at=timezone.now() + dt.timedelta(days=3))
    VersionGovernance.objects.filter(version=version).update(
        next_review_due=timezone.now().date() - dt.timedelta(days=1))
    body = api.as_(people["rhea"]).get("/api/v1/governance/board/").json()
    assert [f["id"] for f in body["open_high_findings"]] == [high.pk]
    assert [w["id"] for w in body["waivers"]] == [waiver.pk]
    assert body["expiring_waiver_ids"] == [waiver.pk]
    assert body["overdue_reviews"] == []  # only approved versions are under review
    assert {"tier": 2, "status": "in_validation", "kind": "model", "count": 1} in \
        body["by_tier_and_status"]
    assert api.as_(people["dana"]).get("/api/v1/governance/board/").status_code == 403
    assert api.as_(people["aude"]).get("/api/v1/governance/board/").status_code == 200


def test_queues_and_board_take_a_constant_number_of_queries(
        policy, walk, people, teams, onnx_file, api, client, django_assert_max_num_queries):
    _models(walk, people, teams, onnx_file, 1, "a")
    c = api.as_(people["rhea"])
    with django_assert_max_num_queries(20) as few:
        assert c.get("/api/v1/governance/board/").status_code == 200
    _models(walk, people, teams, onnx_file, 4, "b")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = c.get("/api/v1/governance/board/").json()
    assert len(body["open_high_findings"]) == 5
    d = api.as_(people["dana"])
    with django_assert_max_num_queries(20) as mine:
        assert len(d.get("/api/v1/governance/my-work/").json()["findings"]) == 5
    client.force_login(people["dana"])
    with django_assert_max_num_queries(len(mine.captured_queries) + 6):
        assert client.get("/governance/queue/").status_code == 200
    with django_assert_max_num_queries(12):
        assert len(d.get("/api/v1/findings/").json()["results"]) == 5


def test_part_2_pages_render(walk, draft, client, people):
    version = in_validation(walk, draft)
    finding = raise_high(walk, version)
    base = f"/models/{version.model.slug}/versions/{version.number}/"
    client.force_login(people["victor"])
    assert "Raise a finding" in client.get(base + "workflow/").content.decode()
    page = client.get(f"/governance/findings/{finding.pk}/").content.decode()
    assert finding.title in page and "Discussion" in page
    posted = client.post(f"/governance/findings/{finding.pk}/comment/",
                         {"kind": "challenge", "body": "Why?"}, HTTP_HX_REQUEST="true")
    assert posted.status_code == 200 and "Why?" in posted.content.decode()
    assert "<html" not in posted.content.decode()
    empty = client.post(base + "findings/new/", {"severity": "high"})
    assert empty.status_code == 400 and "Give the finding a title" in empty.content.decode()
    client.force_login(people["dana"])
    assert client.get(base + "findings/new/").status_code == 403
    moved = client.post(f"/governance/findings/{finding.pk}/move/",
                        {"to": "remediation_proposed", "text": "Re-fitted."})
    assert moved.status_code == 302
    client.force_login(people["rhea"])
    form = client.get(base + "waivers/new/").content.decode()
    assert f'value="finding:{finding.pk}"' in form  # proposed is not resolved: still waivable
    assert client.get("/governance/board/").status_code == 200
    assert client.get("/governance/waivers/").status_code == 200
    assert client.get("/governance/findings/").status_code == 200
    client.force_login(people["dana"])
    assert client.get("/governance/board/").status_code == 403
