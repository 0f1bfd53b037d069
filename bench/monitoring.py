"""Ongoing monitoring of 1,000,000 logged predictions: one scheduled check, timed.

Run:  .venv/bin/python bench/monitoring.py          (BENCH_ROWS=1000000 by default)

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
assay_monitoring_bench — dropped and created again).

Setup: a fresh database, one approved version of a three-input scoring model (age, income:
float; children: int64; output ``score``) with its monitoring plan and a reference fixed from
5,000 reference rows, and BENCH_ROWS prediction log rows of one record each written by
PostgreSQL itself (``INSERT ... SELECT generate_series``: drawn from the reference's population,
so nothing breaches). Then, in this process, ``monitoring.services.plan_check``: the whole
scheduled check — the window's rows read in chunks of 5,000, counted into drift counts and
quality counters, the window stored, the period's statistics from the windows, the thresholds.
A second check (no new rows) shows what a check costs once the month is already counted.

Prints the phases and ends with ``monitor_1m_s=X peak_mb=Y incremental_s=Z cpu_s=C``: X the
first check's seconds on the clock, Y the process's peak resident memory (MB) over the check
(ru_maxrss, measured from a process that has done nothing heavier before), Z the second check's
seconds, C the first check's CPU seconds in this process (PostgreSQL's share not included): on a
loaded machine C says more than X.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL",
                              "postgres://postgres@127.0.0.1:5432/assay_monitoring_bench")
DATA = Path(os.environ.get("BENCH_DATA_DIR", tempfile.mkdtemp(prefix="assay-monitor-bench-")))
ENV = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base",
       "DATABASE_URL": DATABASE_URL, "ASSAY_DATA_DIR": str(DATA), "ASSAY_LOG_LEVEL": "WARNING"}

INSERT = """
INSERT INTO serving_predictionlog (endpoint_slug, version_id, artifact_sha256, role, request_id,
                                   app_key_prefix, inputs, outputs, latency_ms, created_at)
SELECT 'credit', %(version)s, %(sha)s, 'primary', md5(g::text), 'bench',
       jsonb_build_array(jsonb_build_object(
         'age', round((40 + 10 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 1),
         'income', round((3 + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2),
         'children', floor(random() * 4)::int)),
       jsonb_build_array(jsonb_build_object('score', jsonb_build_array(random()))),
       1.0, %(start)s + g * interval '1 millisecond'
FROM generate_series(1, %(rows)s) g
"""


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name}", "-c",
                    f"CREATE DATABASE {name}"], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=ENV,
                   check=True, stdout=subprocess.DEVNULL)
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "ASSAY_DATA_DIR"):
        os.environ[key] = ENV[key]
    import django
    django.setup()
    import numpy as np
    import pandas as pd
    from django.db import connection
    from django.utils import timezone

    from core.models import Team, User
    from governance.policy import default_monitoring, monitoring_rules
    from monitoring import services, stats
    from monitoring.models import MonitoringPlan
    from registry.models import ModelVersion, RegisteredModel, VersionState

    owner = User.objects.create(username="bench")
    team = Team.objects.create(name="Bench", slug="bench")
    model = RegisteredModel.objects.create(
        name="Bench scoring", slug="bench-scoring", team=team, purpose="bench",
        decision_type="credit", task="binary_classification", owner=owner, created_by=owner)
    version = ModelVersion.objects.create(
        model=model, number=1, state=VersionState.APPROVED, artifact_sha256="0" * 64,
        input_schema=[{"name": "age", "element_type": "float", "shape": ["N", 1]},
                      {"name": "income", "element_type": "float", "shape": ["N", 1]},
                      {"name": "children", "element_type": "int64", "shape": ["N", 1]}],
        output_schema=[{"name": "score", "element_type": "float", "shape": ["N", 1]}],
        created_by=owner)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 5000).round(1),
                          "income": rng.normal(3, 1, 5000).round(2),
                          "children": rng.integers(0, 4, 5000)})
    reference = stats.build_reference(
        frame, {"age": "float", "income": "float", "children": "int64"},
        scores=rng.random(5000), score_output="score", score_column=0,
        validated={"roc_auc": 0.8})
    start = timezone.now() - dt.timedelta(hours=2)
    plan = MonitoringPlan.objects.create(
        version=version, rules=monitoring_rules(default_monitoring(1)).as_dict(), tier=1,
        reference=reference.as_dict(), created_at=start - dt.timedelta(seconds=1))
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(INSERT, {"version": version.pk, "sha": version.artifact_sha256,
                                "start": start, "rows": ROWS})
    print(f"inserted {ROWS:,} prediction log rows in {time.perf_counter() - began:.1f} s")
    baseline = rss_mb()
    began, cpu_began = time.perf_counter(), cpu_s()
    check = services.plan_check(plan_id=plan.pk)
    first, first_cpu = time.perf_counter() - began, cpu_s() - cpu_began
    peak = rss_mb()
    assert check is not None and check.rows == ROWS, check
    print(f"first check: {check.rows:,} rows, status {check.status}, {first:.1f} s "
          f"({first_cpu:.1f} s of CPU in this process); "
          f"statistics {check.statistics}")
    began = time.perf_counter()
    again = services.plan_check(plan_id=plan.pk, now=timezone.now() + dt.timedelta(seconds=1))
    second = time.perf_counter() - began
    assert again is not None and again.rows == ROWS
    print(f"second check (no new rows, {again.rows:,} in the period from stored windows): "
          f"{second:.2f} s; memory before the first check {baseline:.0f} MB")
    print(f"monitor_1m_s={first:.1f} peak_mb={peak:.0f} incremental_s={second:.2f} "
          f"cpu_s={first_cpu:.1f}")


if __name__ == "__main__":
    main()
