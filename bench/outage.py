"""Outages under steady API load: the database restarts, then the broker restarts.

Run:  .venv/bin/python bench/outage.py          (about two minutes; BENCH_OUTAGE_S=3 by default)

Brings up, on loopback and in a temporary folder, a PostgreSQL cluster and a RabbitMQ node of its
own (tests/outage_services.py), migrates the database and loads the German-credit demo model,
then runs Assay as production does: gunicorn (config/gunicorn.py, 2 workers), a Celery worker
and Celery beat (the reaper every 2 s, queued runs sent again after 3 s). Then, while
/work/shared/tools/load.py keeps a steady GET load on the API (4 connections):

1. launches evaluation runs; stops the database for BENCH_OUTAGE_S seconds, starts it again;
2. stops the broker for BENCH_OUTAGE_S seconds, launching runs while it is down; starts it again;

and waits (at most 3 minutes) for every launched run to succeed. It prints the load's status
counts and ends with ``errors_5xx_non503=N lost_tasks=M recovery_s=S``: answers 500-599 other
than 503 (and requests that got no answer at all), launched runs that did not succeed, and the
longer of the two recoveries — from the database's start to the API answering 200 again, and
from the broker's start to /readyz answering 200 again (targets 0, 0, <= 5). A launch refused
while the broker is down counts as a lost task.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LOAD = Path("/work/shared/tools/load.py")
OUTAGE_S = float(os.environ.get("BENCH_OUTAGE_S", "3"))

from tests.outage_services import OwnPostgres, OwnProcess, own_rabbitmq, own_web  # noqa: E402


def set_up(url: str, data_dir: Path) -> tuple[str, int, int]:
    """Migrate, load the demo model as a version in validation with its data set; an API token
    of the validator. Returns (token, version id, data set id)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from core import services as core
    from core.models import Role
    from evaluation import services as evaluation
    from governance import services as governance
    from registry import services as registry
    from registry.demo.train_german_credit import DATA_PATH, build_demo_artifact

    team = core.team_create(actor=core.SYSTEM, name="Credit", slug="credit")
    validation = core.team_create(actor=core.SYSTEM, name="Validation", slug="validation")

    def user(name: str, role: str, teams: list) -> object:
        return core.user_create(actor=core.SYSTEM, username=name, password="bench password 1",
                                roles=[role], teams=teams, check_password=False)

    dana, victor = user("dana", Role.DATA_SCIENTIST, [team]), user("victor", Role.VALIDATOR,
                                                                   [validation])
    rhea = user("rhea", Role.RISK_OFFICER, [])
    governance.ensure_policy_templates()
    model = registry.model_create(actor=dana, team=team, name="German credit scorecard",
                                  purpose="Approve or decline consumer loans.",
                                  decision_type="credit", task="binary_classification")
    governance.intake_record(actor=dana, model=model, is_model=True, rationale="A scorecard.",
                             answers={"exposure": "medium", "impact": "medium",
                                      "regulatory_use": "no", "automation": "medium",
                                      "complexity": "medium", "data_sensitivity": "medium"})
    artifact = io.BytesIO(build_demo_artifact(data_dir / "german.onnx").path.read_bytes())
    artifact.name = "german_credit.onnx"
    version = registry.version_create(actor=dana, model=model, artifact=artifact)
    governance.version_submit(actor=dana, version=version)
    governance.validator_assign(actor=rhea, version=version, validator=victor)
    data = io.BytesIO(Path(DATA_PATH).read_bytes())
    data.name = "german_credit.csv"
    dataset = evaluation.dataset_upload(
        actor=victor, model=model, file=data, filename="german_credit.csv",
        label_column="good_credit",
        sensitive_features=[{"column": "sex"}])
    _row, token = core.token_create(actor=victor, name="bench", expires_in_days=1)
    from django.db import connections

    connections.close_all()
    return token, version.pk, dataset.pk


def first_200(url: str, headers: dict[str, str], started: float, timeout: float = 60) -> float:
    """Seconds from ``started`` until ``url`` answers 200."""
    while time.monotonic() - started < timeout:
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return float("inf")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-outage-"))
    database, broker = OwnPostgres(), own_rabbitmq()
    processes: list[OwnProcess] = []
    database.start()
    broker.start()
    subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(database.port), "-U", "postgres",
                    "assay"], check=True)
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": database.url("assay"),
           "CELERY_BROKER_URL": broker.url, "ASSAY_DATA_DIR": str(tmp / "data"),
           "ASSAY_DB_APP_ROLE": "", "REDIS_URL": "", "ASSAY_LOG_LEVEL": "WARNING",
           "ASSAY_EVALUATION_REQUEUE_AFTER_S": "3", "ASSAY_REAP_INTERVAL_S": "2",
           "ASSAY_EVALUATION_LEASE_S": "15"}
    os.environ.update(env)
    try:
        token, version, dataset = set_up(database.url("assay"), tmp)
        web = own_web(tmp / "web", env=env, workers=2)
        web.start()
        processes.append(web)
        for name, args in (("worker", ["worker", "-Q", "celery,evaluations", "-c", "1",
                                       "--without-gossip", "--without-mingle"]),
                           ("beat", ["beat", "-s", str(tmp / "beat-schedule")])):
            process = OwnProcess([sys.executable, "-m", "celery", "-A", "config", *args,
                                  "-l", "WARNING"], port=None, what=name,
                                 env={**os.environ}, log=tmp / f"{name}.log")
            process.start()
            processes.append(process)
        base = f"http://127.0.0.1:{web.port}"
        auth = {"Authorization": f"Token {token}"}
        out = tmp / "load.json"
        load = subprocess.Popen([sys.executable, str(LOAD), "--url", f"{base}/api/v1/models/",
                                 "-H", f"Authorization: Token {token}", "-c", "4", "-d", "40",
                                 "--warmup", "1", "--timeout", "10", "--max-error-ratio", "1",
                                 "--json-out", str(out)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        launched: list[int] = []
        refused: list[int] = []

        def launch(n: int) -> None:
            for _ in range(n):
                answer = requests.post(f"{base}/api/v1/runs/", headers=auth, timeout=20, json={
                    "version": version, "dataset": dataset, "options": {"n_bootstrap": 20}})
                (launched.append(answer.json()["id"]) if answer.status_code == 201
                 else refused.append(answer.status_code))

        time.sleep(4)
        launch(2)
        database.stop()
        time.sleep(OUTAGE_S)
        database.start()
        db_recovery = first_200(f"{base}/api/v1/models/", auth, time.monotonic())
        time.sleep(3)
        broker.stop()
        launcher = threading.Thread(target=launch, args=(3,))
        launcher.start()
        time.sleep(OUTAGE_S)
        launcher.join()
        broker.start()
        broker_recovery = first_200(f"{base}/readyz", {}, time.monotonic())
        load.wait(timeout=120)
        deadline = time.monotonic() + 180
        pending = set(launched)
        finished: dict[int, str] = {}
        while len(finished) < len(pending) and time.monotonic() < deadline:
            for run in pending - finished.keys():
                state = requests.get(f"{base}/api/v1/runs/{run}/", headers=auth,
                                     timeout=10).json()["status"]
                if state in ("succeeded", "failed", "cancelled"):
                    finished[run] = state
            time.sleep(1)
        lost = sorted(run for run in pending if finished.get(run) != "succeeded")
        result = json.loads(out.read_text())
        breakdown = result["error_breakdown"]
        non503 = sum(v for k, v in breakdown.items()
                     if k.startswith("http_5") and k != "http_503")
        no_answer = sum(v for k, v in breakdown.items() if not k.startswith("http_"))
        print(f"load: {result['requests']} requests, {result['ok']} ok, {breakdown}")
        print(f"runs launched: {len(launched)} (launches refused: {refused}); "
              f"not succeeded: {lost} {[finished.get(r, 'unfinished') for r in lost]}")
        print(f"database recovery {db_recovery:.2f} s, broker recovery {broker_recovery:.2f} s")
        # A launch refused while the broker was down is work lost too: it must be accepted.
        print(f"errors_5xx_non503={non503 + no_answer} lost_tasks={len(lost) + len(refused)} "
              f"recovery_s={max(db_recovery, broker_recovery):.2f}")
    finally:
        for process in reversed(processes):
            process.stop()
        broker.close()
        database.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
