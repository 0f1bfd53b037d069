"""A schema-driven fuzz run of the whole API (issue 11 item 14), with schemathesis.

Every operation of the OpenAPI schema is called with requests generated from the schema itself,
against the real PostgreSQL, with API tokens of six people, one per role (data scientist,
validator, risk officer, auditor, deployer, administrator), taking turns. The run fails on any 5xx, any
status code the operation does not document, any response body that violates its schema, and
any undocumented content type.

Bounded and repeatable: ``FUZZ_EXAMPLES`` (6) examples per operation, derandomized, so every run
draws the same requests (about 500 in all; about a minute on a loaded two-core machine).
``FUZZ_EXAMPLES=100 FUZZ_COVERAGE=1`` runs a longer campaign that adds schemathesis' coverage
cases (boundary values, wrong types, unsupported methods) to every operation.

Path parameters drawn by schemathesis are mostly ids that do not exist (404); every other example
names a real object instead (the model, its draft version, a user, a policy version...), so the
operations are reached and not only refused. Each request with a body is sent again with a NUL
character in each of its texts, which must answer a 4xx (random generation seldom draws one).
"""

from __future__ import annotations

import itertools
import os
import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from core import services as core_services
from core.models import Role
from governance import services as governance_services
from registry import services as registry_services
from serving.models import Endpoint
from tests.registry.conftest import model_fields

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
PHASES = ([Phase.explicit] if os.environ.get("FUZZ_COVERAGE") else []) + [Phase.generate]
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance]
ROLES = {"scientist": (Role.DATA_SCIENTIST, "credit"), "validator": (Role.VALIDATOR, None),
         "officer": (Role.RISK_OFFICER, None), "auditor": (Role.AUDITOR, None),
         "deployer": (Role.DEPLOYER, None), "admin": (Role.ADMIN, None)}

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
turns = itertools.count()  # whose turn it is, and whether to name real objects

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request (request_finished),
    which would end the test's transaction; Django's test client disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(make_user) -> dict:
    """The people with their tokens, and real objects for path parameters to name."""
    people, tokens = {}, {}
    for name, (role, team) in ROLES.items():
        people[name] = make_user(f"fuzz-{name}", role, team=team)
        _, tokens[name] = core_services.token_create(actor=people[name], name="fuzz",
                                                     expires_in_days=1)
    [policy_version, *_] = governance_services.ensure_policy_templates()
    model = registry_services.model_create(actor=people["scientist"], team=people[
        "scientist"].teams.get(), **model_fields())
    version = registry_services.version_create(actor=people["scientist"], model=model,
                                               changelog="fuzz")
    # An endpoint named like the model, so that endpoint paths naming the slug reach one. A row
    # only, on a draft the services would refuse to deploy, of another model: deleting the
    # fuzzed model's draft stays possible, as it is for any draft (drafts are never deployed).
    served = registry_services.version_create(
        actor=people["scientist"], changelog="fuzz", model=registry_services.model_create(
            actor=people["scientist"], team=people["scientist"].teams.get(),
            **model_fields(name="Served model")))
    Endpoint.objects.create(slug=model.slug, primary_version=served, created_by=people["admin"])
    ids = {"versions": version.pk, "users": people["scientist"].pk,
           "policy-versions": policy_version.pk, "tokens": None}
    return {"tokens": list(tokens.items()), "slug": model.slug, "ids": ids}


def _name_real_objects(case, world: dict) -> None:
    params = case.path_parameters or {}
    if "slug" in params:
        params["slug"] = "credit" if case.path.startswith("/api/v1/teams/") else world["slug"]
    if "id" in params:
        collection = re.match(r"/api/v1/([a-z-]+)/", case.path).group(1)
        if world["ids"].get(collection):
            params["id"] = world["ids"][collection]


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=PHASES,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case, world):
    turn = next(turns)
    _, token = world["tokens"][turn % len(world["tokens"])]
    if turn % 2:
        _name_real_objects(case, world)
    headers = {"Authorization": f"Token {token}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
    with_nul = _with_nul(case.body)
    if with_nul is not None:  # the same request with a NUL in every text of its body: a 400
        case.body = with_nul
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code in (400, 401, 403, 404, 413, 415), response.text


def _with_nul(body: object) -> dict | None:
    """The body with a NUL character added to each of its texts (also inside lists and nested
    objects), or None when it holds no text. Random generation rarely draws one, and a NUL that
    reaches PostgreSQL is a 500 in any text, slug or JSON document."""
    def add(value: object) -> object:
        if isinstance(value, str):
            return value + "\x00"
        if isinstance(value, list):
            return [add(v) for v in value]
        if isinstance(value, dict):
            return {k: add(v) for k, v in value.items()}
        return value

    if not isinstance(body, dict):
        return None
    mutated = add(body)
    return mutated if mutated != body else None
