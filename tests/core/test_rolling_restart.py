"""A rolling restart drops no request (issue 21), for the web app (config/gunicorn.py) and the
serving gateway (serving/gateway/gunicorn.conf.py), each run by gunicorn with its production
configuration on a loopback port of the test's own, under steady load with slow requests in
flight:

* HUP (new configuration or code): new workers start, the old ones finish their requests;
* USR2 then TERM to the old master (the bind hand-over): the new master inherits the listening
  socket, so no connection is refused, and the old one finishes what it was answering and exits 0;
* TERM to the last master: it stops accepting, finishes the requests in flight within the
  graceful timeout and exits.

Requests are answered 2xx/4xx throughout, never 5xx, never a reset or a refused connection,
whether each comes on a new connection or on a kept-alive one. One more test pins, without
load, what the gateway's worker (serving/gateway/worker.py) adds to gunicorn's gthread: when
stopped, it answers the connections it holds. The slow requests are the real apps behind a wrapper that holds a request a few seconds first
(tests/rolling_wsgi.py).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from core import services
from tests.outage_services import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.outage
HOLD_S = 4.0  # how long a slow request is held
GRACEFUL_S = 15


@dataclass
class Load:
    """Clients sending requests in a loop until stopped: some fast and some held for HOLD_S, each
    on a new connection, and some fast on a kept-alive connection (a pool, as a service calling
    the gateway keeps); every answer is kept (status, or the error's text)."""

    url: str
    headers: dict[str, str]
    answers: list[tuple[str, int | str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _client(self, kind: str) -> None:
        headers = {**self.headers, **({"X-Test-Hold": str(HOLD_S)} if kind == "slow" else {})}
        with requests.Session() as session:
            while not self.stopping.is_set():
                answer = request(self.url, headers, session if kind == "kept" else None)
                self.answers.append((kind, answer))
                if kind != "slow":
                    time.sleep(0.02)

    def start(self, fast: int = 3, slow: int = 2, kept: int = 2) -> Load:
        for kind in ["fast"] * fast + ["slow"] * slow + ["kept"] * kept:
            thread = threading.Thread(target=self._client, args=(kind,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=300)

    def failures(self) -> list[tuple[str, int | str]]:
        return [(kind, answer) for kind, answer in self.answers
                if not isinstance(answer, int) or answer >= 500]

    def count(self, kind: str) -> int:
        return sum(1 for k, answer in self.answers if k == kind and isinstance(answer, int))


def request(url: str, headers: dict[str, str], session: requests.Session | None = None
            ) -> int | str:
    """One GET: on a new connection closed after it, or on ``session``'s kept-alive one."""
    if session is None:
        headers = {**headers, "Connection": "close"}
    try:
        return (session or requests).get(url, headers=headers, timeout=300).status_code
    except requests.RequestException as error:
        return f"{type(error).__name__}: {error}"


def in_flight(url: str, headers: dict[str, str], n: int) -> tuple[list, list[threading.Thread]]:
    """``n`` slow requests sent now; their answers land in the returned list."""
    answers: list[int | str] = []
    slow = {**headers, "X-Test-Hold": str(HOLD_S)}
    threads = [threading.Thread(target=lambda: answers.append(request(url, slow)), daemon=True)
               for _ in range(n)]
    for thread in threads:
        thread.start()
    time.sleep(HOLD_S / 2)  # accepted and held by now
    return answers, threads


class Master:
    """A gunicorn master started by the test (its own process group), with a pid file."""

    def __init__(self, config: str, env: dict[str, str], root: Path, workers: int = 2) -> None:
        self.port, self.root = free_port(), root
        self.pidfile, self.log = root / "gunicorn.pid", root / "gunicorn.log"
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, gunicorn, "tests.rolling_wsgi", "-c", config, "--bind",
                 f"127.0.0.1:{self.port}", "--workers", str(workers), "--pid", str(self.pidfile)],
                cwd=ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, 300, "gunicorn", self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> int:
        """Workers that have loaded the app (the configurations' post_worker_init says so)."""
        return self.output().count("Worker ready (pid")

    def wait_for(self, condition, what: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what}:\n{self.output()[-4000:]}"
            time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # the re-executed master is in it too
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def rolling_restart(master: Master, url: str, headers: dict[str, str]) -> None:
    master.wait_for(lambda: master.ready() >= 2, "the workers to load the app")
    assert request(url, headers) == 200, master.output()[-4000:]
    load = Load(url, headers).start()
    try:
        time.sleep(2)
        # 1. HUP: new workers, the old ones finish and go.
        ready = master.ready()
        os.kill(master.process.pid, signal.SIGHUP)
        master.wait_for(lambda: master.ready() >= ready + 2, "new workers after HUP")
        time.sleep(HOLD_S + 2)

        # 2. USR2: a new master on the same socket; then TERM the old one with requests held.
        old = master.process.pid
        ready = master.ready()
        os.kill(old, signal.SIGUSR2)
        # The new master writes its pid beside the old one's (gunicorn.pid.2).
        new_pidfile = master.pidfile.with_name(master.pidfile.name + ".2")
        master.wait_for(lambda: new_pidfile.exists() and new_pidfile.read_text().strip() and
                        master.ready() >= ready + 2, "the new master and its workers after USR2")
        new = int(new_pidfile.read_text())
        assert new != old
        held, threads = in_flight(url, headers, 2)
        signalled = time.monotonic()
        os.kill(old, signal.SIGTERM)
        assert master.process.wait(timeout=GRACEFUL_S + 15) == 0, master.output()[-4000:]
        took = time.monotonic() - signalled
        for thread in threads:
            thread.join(timeout=300)
        assert held == [200, 200], (held, master.output()[-4000:])
        assert took < GRACEFUL_S + 5
        # The new master alone answers the load now. Its (sync) workers may both be holding
        # slow requests, each HOLD_S, so a fast answer can wait that long (plus a busy machine).
        answered = len(load.answers)
        master.wait_for(lambda: sum(1 for kind, answer in load.answers[answered:]
                                    if kind != "slow" and answer == 200) >= 5,
                        "the new master answering the load alone", timeout=3 * HOLD_S + 20)
        assert request(url, headers) == 200, master.output()[-4000:]
    finally:
        load.stop()
    assert not load.failures(), (load.failures()[:10], master.output()[-4000:])
    assert load.count("fast") > 20 and load.count("slow") >= 4, load.answers[-20:]

    # 3. TERM to the last master with requests in flight (one per worker, so each is accepted,
    # not waiting in the backlog): they finish, it stops, nothing listens.
    held, threads = in_flight(url, headers, 2)
    signalled = time.monotonic()
    os.kill(new, signal.SIGTERM)
    deadline = signalled + GRACEFUL_S + 15
    while alive(new) and time.monotonic() < deadline:
        time.sleep(0.1)
    took = time.monotonic() - signalled
    assert not alive(new), master.output()[-4000:]
    for thread in threads:
        thread.join(timeout=300)
    assert held == [200, 200], (held, master.output()[-4000:])
    assert HOLD_S / 4 < took < GRACEFUL_S + 5, took  # it waited for them, within the bound
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", master.port), timeout=2).close()
    assert master.output().count("Shutting down: Master") == 2, master.output()[-4000:]


def _env(wrapped: str) -> dict[str, str]:
    db = connection.settings_dict
    settings.ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    return {"DJANGO_SETTINGS_MODULE": "tests.outage_settings", "ASSAY_TEST_WRAPPED": wrapped,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "ASSAY_DB_APP_ROLE": "", "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
            "ASSAY_WEB_GRACEFUL_TIMEOUT_S": str(GRACEFUL_S),
            "GATEWAY_GRACEFUL_TIMEOUT_S": str(GRACEFUL_S),
            # Only the graceful timeout is under test: a busy machine must not run into the
            # request timeout (gunicorn kills the worker and answers 500).
            "ASSAY_WEB_TIMEOUT_S": "600", "GATEWAY_TIMEOUT_S": "600"}


def test_the_web_app_restarts_without_dropping_a_request(transactional_db, dana, tmp_path):
    _row, token = services.token_create(actor=dana, name="rolling restart", expires_in_days=1)
    master = Master("config/gunicorn.py", _env("config.wsgi"), tmp_path)
    try:
        rolling_restart(master, f"http://127.0.0.1:{master.port}/api/v1/models/",
                        {"Authorization": f"Token {token}"})
    finally:
        master.close()


def test_the_gateway_restarts_without_dropping_a_request(transactional_db, tmp_path):
    env = {**_env("serving.gateway.wsgi"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
           "ASSAY_GATEWAY_TRUSTED_KEYS": str(tmp_path / "trusted-keys.json")}
    (tmp_path / "prom").mkdir()
    master = Master("serving/gateway/gunicorn.conf.py", env, tmp_path)
    try:
        rolling_restart(master, f"http://127.0.0.1:{master.port}/metrics", {})
    finally:
        master.close()


def test_a_stopping_gateway_worker_answers_the_connections_it_holds(transactional_db, tmp_path):
    """The gateway's worker (serving/gateway/worker.py), stopped, still answers a request sent
    on a connection it had accepted before the stop and one sent on a kept-alive connection,
    each with Connection: close; stock gthread closes both unanswered."""
    env = {**_env("serving.gateway.wsgi"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
           "ASSAY_GATEWAY_TRUSTED_KEYS": str(tmp_path / "trusted-keys.json")}
    (tmp_path / "prom").mkdir()
    master = Master("serving/gateway/gunicorn.conf.py", env, tmp_path, workers=1)
    try:
        master.wait_for(lambda: master.ready() >= 1, "the worker to load the gateway")
        kept = http.client.HTTPConnection("127.0.0.1", master.port, timeout=60)
        kept.request("GET", "/metrics")
        first = kept.getresponse()
        first.read()
        assert first.status == 200 and first.getheader("Connection") != "close"
        silent = http.client.HTTPConnection("127.0.0.1", master.port, timeout=60)
        silent.connect()  # accepted by the worker, no request yet
        time.sleep(1)
        signalled = time.monotonic()
        os.kill(master.process.pid, signal.SIGTERM)
        time.sleep(1)  # the worker is draining now
        for conn in (kept, silent):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            response.read()
            assert (response.status, response.getheader("Connection")) == (200, "close"), \
                master.output()[-4000:]
            conn.close()
        assert master.process.wait(timeout=GRACEFUL_S + 15) == 0, master.output()[-4000:]
        # Nothing held it after the two requests: it exited well before the graceful timeout.
        assert time.monotonic() - signalled < GRACEFUL_S, master.output()[-4000:]
    finally:
        master.close()
