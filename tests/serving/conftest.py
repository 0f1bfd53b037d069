"""Deployment fixtures: the credit model (owned by dana, tier 2) with approved versions, a
deployer (devi, an ML engineer in no team) and a deployer who develops the credit model (dirk)."""

from __future__ import annotations

import pytest

from core.models import Role, User
from registry import services as registry
from registry.models import ModelVersion, VersionState
from tests.governance.conftest import (  # noqa: F401
    credit_model,
    draft,
    fraud_model,
    onnx_bytes,
    onnx_file,
    policy,
    tiered_model,
    walk,
)


def approve(walk, version: ModelVersion) -> ModelVersion:  # noqa: F811
    walk.to_pending(version)
    walk.sign(version, "boris")
    walk.sign(version, "rhea")
    version.refresh_from_db()
    assert version.state == VersionState.APPROVED and version.is_servable()
    return version


@pytest.fixture
def devi(make_user) -> User:
    return make_user("devi", Role.DEPLOYER)


@pytest.fixture
def dirk(make_user, tiered_model) -> User:  # noqa: F811
    """A deployer who is one of the credit model's developers."""
    user = make_user("dirk", Role.DEPLOYER, Role.DATA_SCIENTIST, team="credit")
    tiered_model.developers.add(user)
    return user


@pytest.fixture
def approved(walk, draft) -> ModelVersion:  # noqa: F811
    """Version 1 of the credit model, approved and signed."""
    return approve(walk, draft)


@pytest.fixture
def next_version(walk, approved, dana, onnx_file) -> ModelVersion:  # noqa: F811
    """Version 2 of the credit model, approved and signed."""
    return approve(walk, registry.version_create(actor=dana, model=approved.model,
                                                 artifact=onnx_file(), changelog="Second."))
