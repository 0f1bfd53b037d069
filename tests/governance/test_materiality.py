"""Change materiality: a later version declares a minor or major change (major when it does not
say), the validator confirms it or reclassifies it (audited, the owner told), a minor change in
force takes the reduced scope its tier's policy names, and a declared minor change stops the
validation from concluding until confirmed. The credit model is tier 2: the shipped SR 11-7
requires performance, bias and calibration there, a minor change performance and bias."""

from __future__ import annotations

import copy

import pytest

from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import AuditEvent
from governance import gates, services
from governance.models import Notification, NotificationKind
from governance.policy import TEMPLATES, definition_errors
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.governance.test_upstream_impact import approve
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def second(walk, draft, dana, onnx_file):
    """v1 approved; v2 a draft declaring a minor change."""
    approve(walk, draft)
    return registry.version_create(actor=dana, model=draft.model, artifact=onnx_file(),
                                   change_class="minor", changelog="Refit on 2026 data.")


def in_validation(walk, version: ModelVersion) -> ModelVersion:
    walk.submit(version)
    walk.assign(version)
    version.refresh_from_db()
    return version


def required_checks(version: ModelVersion) -> set[str]:
    return {s.requirement.check for s in gates.evidence_standings(version)}


def test_a_first_version_is_no_change_and_a_later_one_is_major_unless_it_says(
        draft, dana, teams, onnx_file):
    assert draft.change_class == ""
    fresh = registry.model_create(actor=dana, team=teams["credit"], **model_fields(name="New"))
    with pytest.raises(ValidationFailed, match="first version"):
        registry.version_create(actor=dana, model=fresh, change_class="minor")
    later = registry.version_create(actor=dana, model=draft.model, artifact=onnx_file())
    assert later.number == 2 and later.change_class == "major"
    with pytest.raises(ValidationFailed, match="minor, major"):
        registry.version_update(actor=dana, version=later, change_class="tiny")


def test_a_declared_minor_change_blocks_until_the_validator_confirms_it(walk, second, victor):
    in_validation(walk, second)
    assert required_checks(second) == {"performance", "bias"}
    assert any(b.kind == "materiality" for b in gates.blocking_items(second))
    walk.evidence(second)
    with pytest.raises(Conflict, match="validator must confirm"):
        walk.review(second)

    services.version_classify_change(actor=victor, version=second, change_class="minor")
    assert not any(b.kind == "materiality" for b in gates.blocking_items(second))
    assert required_checks(second) == {"performance", "bias"}
    event = AuditEvent.objects.get(action="version.change_classify")
    assert (event.actor_username, event.payload["declared"], event.payload["after"],
            event.payload["reclassified"]) == ("victor", "minor", "minor", False)
    walk.review(second)
    second.refresh_from_db()
    assert second.state == VersionState.PENDING_APPROVAL


def test_reclassifying_as_major_restores_the_full_scope_and_tells_the_owner(
        walk, second, victor, dana):
    in_validation(walk, second)
    with pytest.raises(ValidationFailed, match="Say why"):
        services.version_classify_change(actor=victor, version=second, change_class="major")
    services.version_classify_change(actor=victor, version=second, change_class="major",
                                     note="New bureau attributes are new inputs.")
    assert required_checks(second) == {"performance", "bias", "calibration"}
    told = Notification.objects.get(user=dana, kind=NotificationKind.CHANGE_CLASS)
    assert "reclassified as a major change by victor" in told.title
    assert "full revalidation scope" in told.body
    event = AuditEvent.objects.get(action="version.change_classify")
    assert event.payload["reclassified"] is True


def test_only_the_assigned_validator_classifies_and_only_in_validation(
        walk, second, dana, rhea, victor):
    with pytest.raises(Conflict, match="during the validation"):
        services.version_classify_change(actor=victor, version=second, change_class="minor")
    in_validation(walk, second)
    for outsider in (dana, rhea):
        with pytest.raises(PermissionRefused):
            services.version_classify_change(actor=outsider, version=second,
                                             change_class="minor")
    assert not AuditEvent.objects.filter(action="version.change_classify").exists()


def test_the_api_shows_the_change_and_takes_the_validators_decision(walk, second, api, victor,
                                                                      dana):
    in_validation(walk, second)
    url = f"/api/v1/versions/{second.pk}/"
    status = api.as_(victor).get(url + "governance/").json()
    assert "classify_change" in status["actions"]
    assert status["change_class"]["declared"] == "minor"
    assert status["change_class"]["scope_checks"] == ["bias", "performance"]
    assert "refit" in status["change_class"]["definitions"]["minor"]

    assert api.as_(dana).post(url + "classify-change/", {"change_class": "minor"},
                              format="json").status_code == 403
    bad = api.as_(victor).post(url + "classify-change/", {"change_class": "huge"},
                               format="json")
    assert bad.status_code == 400 and "change_class" in bad.json()["fields"]
    ok = api.as_(victor).post(url + "classify-change/",
                              {"change_class": "major", "note": "New inputs."}, format="json")
    assert ok.status_code == 200
    assert ok.json()["change_class"]["in_force"] == "major"
    assert ok.json()["change_class"]["reduced_scope"] is False


def test_the_workflow_page_offers_the_validator_the_choice(walk, second, client, victor):
    in_validation(walk, second)
    client.force_login(victor)
    url = f"/models/{second.model.slug}/versions/{second.number}/workflow/"
    page = client.get(url).content.decode()
    assert 'id="classify-change"' in page and "reduced (a minor change)" in page
    missing = client.post(url + "classify-change/", {"change_class": "major"})
    assert missing.status_code == 400 and "Say why" in missing.content.decode()
    done = client.post(url + "classify-change/", {"change_class": "minor"})
    assert done.status_code == 302


def test_the_version_form_shows_the_policys_definitions(draft, client, dana):
    client.force_login(dana)
    page = client.get(f"/models/{draft.model.slug}/versions/new/").content.decode()
    assert "Minor or major change?" in page
    assert "At tier 2 a minor change needs only bias, performance" in page


def test_the_policy_schema_checks_materiality_and_upstream_settings():
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    assert definition_errors(definition) == []
    definition["change_materiality"] = {"minor": "Refits.", "major": "The rest."}
    definition["tiers"]["2"]["minor_change_evidence"] = ["performance"]
    definition["tiers"]["3"]["upstream_change"] = {"flag": "review", "due_days": 30}
    assert definition_errors(definition) == []
    definition["change_materiality"] = {"minor": ""}
    definition["tiers"]["2"]["minor_change_evidence"] = ["robustness"]
    definition["tiers"]["3"]["upstream_change"] = {"flag": "finding", "due_days": 0}
    errors = " ".join(definition_errors(definition))
    assert "change_materiality: an object with 'minor' and 'major'" in errors
    assert "tiers.2.minor_change_evidence: 'robustness' is not required of the tier" in errors
    assert "tiers.3.upstream_change.severity: one of high, medium, low" in errors
    assert "tiers.3.upstream_change.due_days: a whole number of days, 1 to 365" in errors
