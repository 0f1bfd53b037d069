"""Two DELETEs of the same draft at once, on PostgreSQL with real threads: one deletes it (204),
the other finds it gone (404) — never a 500."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from registry import services
from registry.models import ModelVersion, RegisteredModel
from tests.registry.conftest import model_fields


def _race(urls: list[str], user) -> list[int]:
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = []

    def delete(url: str) -> None:
        client = APIClient(raise_request_exception=False)  # a 500 is an answer here
        client.force_authenticate(user)
        try:
            barrier.wait()
            statuses.append(client.delete(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=delete, args=(url,)) for url in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("clients", [2, 4])
def test_concurrent_deletes_of_a_version_answer_one_204_and_404s(dana, teams, clients):
    assert connection.vendor == "postgresql"
    model = services.model_create(actor=dana, team=teams["credit"], **model_fields())
    version = services.version_create(actor=dana, model=model, changelog="draft")
    statuses = _race([f"/api/v1/versions/{version.pk}/"] * clients, dana)
    assert statuses == [204] + [404] * (clients - 1)
    assert not ModelVersion.objects.filter(pk=version.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_deletes_of_a_model_answer_one_204_and_a_404(dana, teams):
    model = services.model_create(actor=dana, team=teams["credit"], **model_fields())
    statuses = _race([f"/api/v1/models/{model.slug}/"] * 2, dana)
    assert statuses == [204, 404]
    assert not RegisteredModel.objects.filter(pk=model.pk).exists()
