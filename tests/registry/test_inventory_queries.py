"""The list page and API list run a constant number of SQL queries, whatever the row count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.django_db


def seed(actor, team, start: int, count: int) -> None:
    for i in range(start, start + count):
        model = services.model_create(actor=actor, team=team, tags=["a", f"t{i % 3}"],
                                      **model_fields(name=f"Model {i:03d}"))
        services.version_create(actor=actor, model=model)


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if hasattr(response, "render"):
            response.render()
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/models/", "/models/?status=draft&sort=-updated",
                                 "/api/v1/models/", "/api/v1/models/?q=model&team=credit"])
def test_list_queries_do_not_grow_with_rows(client, dana, teams, url):
    client.force_login(dana)
    seed(dana, teams["credit"], 0, 3)
    few = count_queries(client, url)
    seed(dana, teams["credit"], 3, 30)
    many = count_queries(client, url)
    assert many == few
    # Ten, and one more since the API lists each model's linked data sources (one prefetch).
    assert many <= 11
