"""The README's production release steps work in the order written (issue 11, item 9).

The steps are read out of README.md (the block after the marker comment), so the README and this
test cannot drift apart. They run as written, each its own process, against a fresh PostgreSQL
database owned by a fresh, non-superuser owner role, with the production settings. Three things
differ, and why: the role name is made unique (roles are shared by the whole server); the first
administrator's password is passed on the command line (a test has no terminal to type it on);
and static files are stored with Django's manifest storage instead of whitenoise's compressing
one (the same hashed names, but brotli-compressing 44 MB takes minutes on a busy machine, and
files are not what this test is about). Then the application role logs in through the Django
test client, in a process of its own connected as that role, and finds the audit trail
append-only.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- tests/core/test_production_steps.py runs this block"
PASSWORD = "a long and unguessable first password"

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the production steps are for PostgreSQL")


def readme_release_steps() -> list[list[str]]:
    """The commands of the README's release-steps block, in order (comments left out)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert MARKER in text, "README.md lost the release-steps block this test runs"
    block = text.split(MARKER, 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [shlex.split(line) for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_block_is_what_this_test_expects():
    steps = readme_release_steps()
    assert all(step[:2] == ["python", "manage.py"] for step in steps), steps
    names = [step[2] for step in steps]
    for needed in ("migrate", "createcachetable", "grant_app_role", "collectstatic",
                   "create_user"):
        assert needed in names, f"the README's release steps lack {needed}"


def _server() -> dict[str, str]:
    settings = connection.settings_dict
    return {"host": settings["HOST"] or "127.0.0.1", "port": str(settings["PORT"] or 5432),
            "user": settings["USER"]}


def _admin(sql: str) -> None:
    import psycopg

    server = _server()
    with psycopg.connect(host=server["host"], port=server["port"], user=server["user"],
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def fresh_database() -> Iterator[dict[str, str]]:
    """A database of its own, owned by a new login role (not a superuser), and a login role for
    the application: what docs/audit.md has a superuser create once."""
    suffix = secrets.token_hex(4)
    names = {"database": f"assay_prodsteps_{suffix}", "owner": f"assay_owner_{suffix}",
             "app": f"assay_app_{suffix}"}
    _admin(f"CREATE ROLE {names['owner']} LOGIN")
    _admin(f"CREATE ROLE {names['app']} LOGIN")
    _admin(f"CREATE DATABASE {names['database']} OWNER {names['owner']}")
    try:
        yield names
    finally:
        _admin(f"DROP DATABASE IF EXISTS {names['database']} WITH (FORCE)")
        _admin(f"DROP ROLE IF EXISTS {names['app']}")
        _admin(f"DROP ROLE IF EXISTS {names['owner']}")


def _url(role: str, database: str) -> str:
    server = _server()
    return f"postgres://{role}@{server['host']}:{server['port']}/{database}"


SETTINGS = textwrap.dedent("""
    from config.settings.production import *  # noqa: F403
    from config.settings.production import STORAGES

    STORAGES = {**STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
""")


def _environment(tmp_path: Path, database_url: str) -> dict[str, str]:
    (tmp_path / "release_settings.py").write_text(SETTINGS, encoding="utf-8")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "release_settings",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
           "DATABASE_URL": database_url, "ASSAY_SECRET_KEY": secrets.token_urlsafe(64),
           "ASSAY_DATA_DIR": str(tmp_path / "data"), "ASSAY_STATIC_ROOT": str(tmp_path / "static"),
           # Nothing here may reach the shared RabbitMQ (other workers would take the task).
           "CELERY_BROKER_URL": "memory://"}
    for name in ("ASSAY_DB_APP_ROLE", "REDIS_URL", "PYTEST_XDIST_WORKER"):
        env.pop(name, None)  # the database cache and no role switching: the setup under test
    return env


# Runs as the application role: logs in through the test client and tries to change the trail.
AS_THE_APP_ROLE = textwrap.dedent("""
    import json, sys
    import django
    django.setup()
    from django.db import DatabaseError, connection, transaction
    from django.test import Client

    out = {}
    client = Client()
    out["login_page"] = client.get("/login/", secure=True).status_code
    answer = client.post("/login/", {"username": "admin", "password": sys.argv[1]}, secure=True)
    out["login"] = [answer.status_code, answer.headers.get("Location")]
    out["home"] = client.get("/", secure=True).status_code
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        out["role"] = list(cursor.fetchone())
        cursor.execute("SELECT action FROM core_auditevent ORDER BY seq DESC LIMIT 1")
        out["last_event"] = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM core_auditevent ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()[0]
    out["refused"] = {}
    for sql in ["UPDATE core_auditevent SET action = 'forged'",
                "DELETE FROM core_auditevent", "TRUNCATE core_auditevent",
                "ALTER TABLE core_auditevent DISABLE TRIGGER ALL",
                "INSERT INTO core_auditevent (seq, occurred_at, actor_username, request_id, "
                "action, object_type, object_id, payload, event_digest, chain_hash) VALUES "
                f"({head + 1}, now(), '', '', 'forged', '', '', '{{}}', repeat('a', 64), "
                "repeat('b', 64))"]:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
            out["refused"][sql.split()[0]] = None
        except DatabaseError as exc:
            out["refused"][sql.split()[0]] = str(exc).splitlines()[0]
    print(json.dumps(out))
""")


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_the_readme_release_steps_in_order_give_a_working_application_role(fresh_database,
                                                                          tmp_path):
    names = fresh_database
    owner_env = _environment(tmp_path, _url(names["owner"], names["database"]))
    for step in readme_release_steps():
        command = [sys.executable, *step[1:]]  # the locked environment's python
        command = [names["app"] if word == "assay_app" else word for word in command]
        if step[2] == "create_user":
            command += ["--password", PASSWORD]  # no terminal to ask on
        done = _run(command, owner_env)
        assert done.returncode == 0, f"{shlex.join(step)} failed:\n{done.stdout}\n{done.stderr}"

    app_env = _environment(tmp_path, _url(names["app"], names["database"]))
    app_env["ASSAY_SECRET_KEY"] = owner_env["ASSAY_SECRET_KEY"]
    done = _run([sys.executable, "-c", AS_THE_APP_ROLE, PASSWORD], app_env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["role"] == [names["app"], names["app"]]  # logged in as the app role, no SET ROLE
    assert out["login_page"] == 200
    assert out["login"][0] == 302, out
    assert out["home"] == 200
    assert out["last_event"] == "auth.login"  # the app role appended to the trail
    refused = out["refused"]
    for statement in ("UPDATE", "DELETE", "TRUNCATE"):
        assert refused[statement] and "permission denied" in refused[statement], refused
    assert refused["ALTER"] and "must be owner" in refused["ALTER"], refused
    assert refused["INSERT"] and "accepts only the next link of its chain" in refused["INSERT"]

    # The trail, read and verified by the application role, is whole.
    done = _run([sys.executable, "manage.py", "verify_audit"], app_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK:")
