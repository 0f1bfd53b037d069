"""Inventory list speed: 20,000 models x 5 versions, list page and API list via the Django test client.

Run:  .venv/bin/python bench/inventory.py [--models 20000] [--repeat 30]
Uses its own PostgreSQL database (BENCH_DATABASE_URL, default assay_bench_inventory on
127.0.0.1), created and seeded on first run (seeding bulk-inserts rows directly: it measures reads,
not the services). Prints p50/p95 per URL and ends with the line ``p95_ms=X queries=N``
(the worst p95 and the most queries of any URL), as an auditor (sees all 20,000) and as a data
scientist of one team (sees 1,000, through the visibility filter). Target: p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL",
                        "postgres://postgres@127.0.0.1:5432/assay_bench_inventory")
os.environ["DATABASE_URL"] = DB_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("ASSAY_DATA_DIR", str(ROOT / "var" / "bench-inventory"))

URLS = [
    "/models/",
    "/models/?status=draft&sort=-updated",
    "/models/?team=team-3&decision_type=credit",
    "/models/?q=model 1234",
    "/models/?page=300",
    "/api/v1/models/",
    "/api/v1/models/?business_line=line-2&sort=name",
    "/api/v1/models/?page=350",
]

# As a data scientist of one team (1,000 of the 20,000 models visible).
SCOPED_URLS = ["/models/", "/models/?q=model 1&sort=-updated", "/api/v1/models/",
               "/api/v1/models/?page=15"]


def ensure_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    admin_url = DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(n_models: int) -> None:
    from django.utils import timezone

    from core.models import Role, RoleGrant, Team, User
    from registry.models import DecisionType, ModelVersion, RegisteredModel, Tag

    if RegisteredModel.objects.count() >= n_models:
        return
    started = time.perf_counter()
    teams = [Team.objects.get_or_create(slug=f"team-{i}", name=f"Team {i}")[0] for i in range(20)]
    owner, _ = User.objects.get_or_create(username="bench-owner")
    reader, created = User.objects.get_or_create(username="bench-reader")
    if created:
        RoleGrant.objects.create(user=reader, role=Role.AUDITOR)
    scientist, created = User.objects.get_or_create(username="bench-scientist")
    if created:  # sees one team's 1,000 models: the visibility-scoped path
        RoleGrant.objects.create(user=scientist, role=Role.DATA_SCIENTIST)
        scientist.teams.add(teams[3])
    tags = [Tag.objects.get_or_create(name=f"tag-{i}")[0] for i in range(10)]
    decisions = DecisionType.values
    now = timezone.now()
    existing = RegisteredModel.objects.count()
    batch = 2000
    for start in range(existing, n_models, batch):
        rows = [RegisteredModel(
            name=f"Model {i}", slug=f"model-{i}", team=teams[i % 20],
            purpose=f"Benchmark model number {i}", business_line=f"line-{i % 7}",
            decision_type=decisions[i % len(decisions)], task="binary_classification",
            owner=owner, created_by=owner, status=["draft", "submitted", "approved"][i % 3],
            last_version_number=5,
            created_at=now, updated_at=now,
        ) for i in range(start, min(start + batch, n_models))]
        RegisteredModel.objects.bulk_create(rows)
        rows = list(RegisteredModel.objects.filter(slug__in=[r.slug for r in rows]))
        ModelVersion.objects.bulk_create([
            ModelVersion(model=m, number=v, created_by=owner, created_at=now)
            for m in rows for v in range(1, 6)])
        through = RegisteredModel.tags.through
        through.objects.bulk_create([through(registeredmodel_id=m.pk, tag_id=tags[m.pk % 10].pk)
                                     for m in rows])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {n_models} models x 5 versions in {time.perf_counter() - started:.1f}s")


def measure(repeat: int) -> tuple[float, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from core.models import User

    worst_p95, most_queries = 0.0, 0
    print(f"{'user':<16} {'url':<52} {'p50_ms':>8} {'p95_ms':>8} {'queries':>8}")
    runs = [("bench-reader", url) for url in URLS] + [("bench-scientist", url)
                                                      for url in SCOPED_URLS]
    clients = {}
    for username, url in runs:
        if username not in clients:
            clients[username] = Client()
            clients[username].force_login(User.objects.get(username=username))
        client = clients[username]
        client.get(url)  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        worst_p95, most_queries = max(worst_p95, p95), max(most_queries, len(ctx))
        print(f"{username:<16} {url:<52} {p50:8.1f} {p95:8.1f} {len(ctx):8d}")
    return worst_p95, most_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(args.models)
    p95, queries = measure(args.repeat)
    print(f"p95_ms={p95:.1f} queries={queries}")


if __name__ == "__main__":
    main()
