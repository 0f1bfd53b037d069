"""Who may deploy (issue 14), as one table: role x developer of the version or not x production
endpoint or not x tier (and whether the tier's policy lets developers deploy) x action.

Deployers and administrators deploy; nobody else does. On a production endpoint a version's
developers (the model's developers, now or at submission, and the version's authors) may not
deploy it, unless the tier's policy says ``developers_may_deploy`` (tier 3 only). Taking a
canary or shadow off and suspending only narrow what is served: any deployer or administrator.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace

import pytest

from core import permissions
from core.models import Role
from governance.gates import Case
from governance.policy import TEMPLATES, Definition, definition_errors

ME = 7


@dataclass
class Person:
    roles: tuple[str, ...]
    pk: int = ME
    username: str = "someone"
    team_ids: frozenset[int] = field(default_factory=frozenset)
    is_authenticated: bool = True
    is_active: bool = True

    def has_role(self, *roles: str) -> bool:
        return bool(set(self.roles) & set(roles))


def relaxing_policy() -> dict:
    """The shipped SR 11-7 definition, with tier 3 letting developers deploy."""
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tiers"]["3"]["developers_may_deploy"] = True
    assert definition_errors(definition) == []
    return definition


POLICIES = {"shipped": Definition(TEMPLATES["sr-11-7"][2]), "relaxing": Definition(relaxing_policy())}
BASE = Case(version_id=1, state="approved", team_id=1, owner_id=99, developer_ids=frozenset(),
            assignee_ids=frozenset(), submitter_id=None, validator_id=None,
            signer_ids=frozenset(), tier=None, policy_version=None)
TIES = {
    "none": {},
    "model developer": {"developer_ids": frozenset({ME})},
    "developer at submission": {"developers_at_submission": frozenset({ME})},
    "version author": {"author_ids": frozenset({ME})},
}
ROLES = [Role.DEPLOYER, Role.ADMIN, Role.DATA_SCIENTIST, Role.VALIDATOR, Role.RISK_OFFICER,
         Role.REVIEW_BOARD, Role.AUDITOR]
TIERS = [(1, "shipped"), (2, "shipped"), (3, "shipped"), (1, "relaxing"), (2, "relaxing"),
         (3, "relaxing")]
ACTIONS = ["deploy", "narrow"]


def expected(role: str, tie: str, production: bool, tier: int, policy: str, action: str) -> bool:
    if role not in (Role.DEPLOYER, Role.ADMIN):
        return False
    if action == "narrow" or not production or tie == "none":
        return True
    return tier == 3 and policy == "relaxing"


MATRIX = list(itertools.product(ROLES, TIES, [True, False], TIERS, ACTIONS))


@pytest.mark.parametrize(("role", "tie", "production", "tier_policy", "action"), MATRIX)
def test_the_deployment_matrix(role, tie, production, tier_policy, action):
    tier, policy = tier_policy
    rules = POLICIES[policy].tier_rules(tier)
    case = replace(BASE, tier=tier, developers_may_deploy=rules.developers_may_deploy,
                   **TIES[tie])
    user = Person(roles=(role,))
    if action == "deploy":
        reason = permissions.reason_cannot_deploy(user, case, production=production)
    else:
        reason = permissions.reason_cannot_manage_endpoint(user)
    allowed = expected(role, tie, production, tier, policy, action)
    assert (reason == "") == allowed, (role, tie, production, tier, policy, action, reason)
    if not allowed:
        code = (permissions.NOT_INDEPENDENT if role in (Role.DEPLOYER, Role.ADMIN)
                else permissions.WRONG_ROLE)
        assert reason.code == code
        if code == permissions.NOT_INDEPENDENT:
            assert "production endpoint" in reason and "segregation of duties" in reason


def test_the_model_owner_is_not_a_developer_for_deployment():
    owner_case = replace(BASE, owner_id=ME)
    assert permissions.reason_cannot_deploy(Person(roles=(Role.DEPLOYER,)), owner_case,
                                            production=True) == ""


def test_nobody_signed_in_deploys_nothing():
    assert permissions.reason_cannot_deploy(None, BASE, production=False).code == \
        permissions.NOT_SIGNED_IN


@pytest.mark.parametrize("tier", ["1", "2"])
def test_only_tier_3_may_let_developers_deploy(tier):
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tiers"][tier]["developers_may_deploy"] = True
    assert definition_errors(definition) == [
        f"tiers.{tier}.developers_may_deploy: only tier 3 may let a version's developers "
        "deploy it to production; remove it or set it false."]


def test_the_setting_must_be_a_boolean():
    definition = copy.deepcopy(TEMPLATES["sr-11-7"][2])
    definition["tiers"]["3"]["developers_may_deploy"] = "yes"
    assert definition_errors(definition) == [
        "tiers.3.developers_may_deploy: must be true or false."]


def test_shipped_policies_keep_developers_off_production():
    for _, _, definition in TEMPLATES.values():
        assert not any(Definition(definition).tier_rules(t).developers_may_deploy
                       for t in (1, 2, 3))
