"""Upgrading an installation to revision 2 of the shipped policy templates (migration
governance/0008): new policy versions, the current one follows the template, and versions already
decided or in flight stay bound to the policy version they were submitted under.

The installation is built on today's schema with revision 1 only, then the migration's data step
runs on it: rolling the schema back would leave today's services (which build the installation)
facing columns that later migrations add."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import transaction

from core.audit.chain import verify_chain
from core.models import AuditEvent
from governance import services
from governance.gates import blocking_items, case_for
from governance.models import Policy, PolicyVersion, VersionGovernance
from governance.policy import SHIPPED
from registry import services as registry
from registry.models import VersionState
from tests.conftest import approve_policy
from tests.governance.conftest import ALL_LOW, Walk


def upgrade() -> None:
    """The data step of migration governance/0008, as ``migrate`` runs it."""
    migration = importlib.import_module(
        "governance.migrations.0008_evidence_gate_policy_revision_2")
    with transaction.atomic():
        migration.install_revision_2(apps, None)


def install_revision_1(current: str = "sr-11-7") -> None:
    """The templates as installations hold them before this issue: revision 1 of each."""
    for slug, template in SHIPPED.items():
        policy = Policy.objects.create(slug=slug, name=template.name,
                                       description=template.description)
        PolicyVersion.objects.create(policy=policy, number=1, definition=template.revisions[0],
                                     is_current=slug == current)


@pytest.fixture
def old_installation(db, people, credit_model, onnx_file):
    """Revision 1 current; version 1 approved, version 2 in validation, version 3 a draft."""
    install_revision_1()
    walk = Walk(people)
    services.intake_record(actor=people["dana"], model=credit_model, is_model=True,
                           answers=ALL_LOW)
    approved, in_flight, draft = (
        registry.version_create(actor=people["dana"], model=credit_model, artifact=onnx_file())
        for _ in range(3))
    walk.to_pending(approved)
    walk.sign(approved, "rhea")
    walk.submit(in_flight)
    walk.assign(in_flight)
    for version in (approved, in_flight, draft):
        version.refresh_from_db()
    assert approved.state == VersionState.APPROVED
    return approved, in_flight, draft


def test_the_migration_installs_revision_2_and_leaves_bound_versions_alone(old_installation):
    approved, in_flight, draft = old_installation
    v1 = PolicyVersion.objects.get(policy__slug="sr-11-7", number=1)
    bound_before = dict(VersionGovernance.objects.values_list("version_id", "policy_version_id"))
    definitions_before = {pv.pk: pv.definition for pv in PolicyVersion.objects.all()}
    assert not [b for b in blocking_items(draft) if b.kind == "evidence"]  # revision 1: none

    upgrade()

    for slug, template in SHIPPED.items():
        v2 = PolicyVersion.objects.get(policy__slug=slug, number=2)
        assert v2.definition == template.revisions[1]
        assert "revision 2" in v2.notes
    current = PolicyVersion.objects.current()
    assert (current.policy.slug, current.number) == ("sr-11-7", 2)
    # Nothing stored changed: old versions as they were, bound versions bound as before.
    assert {pv.pk: pv.definition for pv in PolicyVersion.objects.filter(
        pk__in=definitions_before)} == definitions_before
    assert dict(VersionGovernance.objects.values_list("version_id", "policy_version_id")) == \
        bound_before
    for version in (approved, in_flight):
        assert case_for(version).policy_version == v1
    assert blocking_items(approved) == []
    assert not [b for b in blocking_items(in_flight) if b.kind == "evidence"]
    # A version not yet submitted is judged under revision 2, and binds it at submission.
    assert case_for(draft).policy_version == current
    assert {b.key for b in blocking_items(draft) if b.kind == "evidence"} == {"performance"}
    # On the record, and the chain still verifies.
    events = AuditEvent.objects.filter(action__in=["policy.version_create",
                                                   "policy.make_current"]).order_by("seq")
    assert [e.action for e in events] == ["policy.version_create"] * 2 + ["policy.make_current"]
    assert verify_chain().ok
    # The command finds nothing left to install.
    assert services.ensure_policy_templates() == []


def test_an_installation_with_its_own_policy_current_keeps_it(old_installation, adam):
    own = services.policy_version_create(actor=adam, policy_slug="house", name="House policy",
                                         definition=SHIPPED["sr-11-7"].revisions[0])
    approve_policy(own)

    upgrade()

    assert PolicyVersion.objects.current() == own
    assert PolicyVersion.objects.filter(number=2, policy__slug__in=SHIPPED).count() == 2
