"""Services of a test's own, on loopback, that it may stop and restart freely (issue 21): a
PostgreSQL cluster, a RabbitMQ node, a Redis server, and an Assay web server (gunicorn) in front
of them. Each listens on a free port, keeps its files in the test's temporary folder and is
stopped by the process id it was started with. The shared services (5432, 5672, 6379) are never
touched.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, what: str, process: subprocess.Popen | None = None
                  ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def _as(user: str, command: list[str]) -> list[str]:
    """``command`` run as ``user`` when the tests run as root (initdb and RabbitMQ refuse root)."""
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else command


def _give(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user)


@functools.cache
def _initdb_template(bin_dir: Path) -> Path:
    """An initdb'd, never started data folder that each OwnPostgres copies (removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix="assay-outage-pg-template-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _give(root, "postgres")
    subprocess.run(_as("postgres", [str(bin_dir / "initdb"), "-D", str(root / "data"), "-A",
                                    "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120)
    return root / "data"


class OwnPostgres:
    """A PostgreSQL cluster of the test's own: initdb in a folder of its own, then
    start/stop/restart; ``close()`` stops it and removes the folder."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not binaries:
            pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
        self.bin = Path(binaries[-1])
        # Not under pytest's tmp_path: the postgres user cannot enter root's private folders.
        self.root, self.port = Path(tempfile.mkdtemp(prefix="assay-outage-pg-")), free_port()
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        _give(self.root, "postgres")
        # A copy of one initdb per test process (initdb is most of a cluster's start-up).
        subprocess.run(["cp", "-a", str(_initdb_template(self.bin)), str(self.data)],
                       check=True, capture_output=True, timeout=60)

    def _ctl(self, *args: str) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c max_connections=40")
        subprocess.run(_as("postgres", [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                                        str(self.log), "-o", options, "-w", "-t", "30", *args]),
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def copy_database(self, source: dict, name: str) -> str:
        """A copy of the database ``source`` (Django's settings_dict) in this cluster; its URL."""
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", name], check=True, capture_output=True, timeout=30)
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", "-h",
             source["HOST"] or "127.0.0.1", "-p", str(source["PORT"] or 5432), "-U",
             source["USER"], source["NAME"]], check=True, capture_output=True, timeout=120)
        subprocess.run([str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h",
                        "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                       input=dump.stdout, check=True, capture_output=True, timeout=120)
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class OwnProcess:
    """A process started in a session of its own, stopped by its process group id; a server
    (``port``) counts as started once it listens."""

    def __init__(self, command: list[str], *, port: int | None, what: str, env: dict[str, str],
                 log: Path, boot_timeout: float = 30, home: Path | None = None) -> None:
        self.command, self.port, self.what, self.env = command, port, what, env
        self.log, self.boot_timeout, self.home = log, boot_timeout, home
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log.open("ab")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if self.port is not None:  # a server: started once it listens
            wait_for_port(self.port, self.boot_timeout, self.what, self.process)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        os.killpg(process.pid, sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=10)

    def close(self) -> None:
        """Stop it and remove its folder (when it has one of its own)."""
        self.stop()
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def own_redis(root: Path) -> OwnProcess:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    return OwnProcess(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(root)],
                      port=port, what="redis-server", env=dict(os.environ),
                      log=root / "redis.log", boot_timeout=10)


def own_rabbitmq() -> OwnProcess:
    """A second RabbitMQ node (its own node name, AMQP and distribution ports, database and
    logs, no plugins) beside the shared one; its guest user may connect from loopback."""
    server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not Path(server).exists():
        pytest.skip("rabbitmq-server is not installed")
    port, dist_port = free_port(), free_port()
    # Not under pytest's tmp_path: the rabbitmq user cannot enter root's private folders.
    root = Path(tempfile.mkdtemp(prefix="assay-outage-rabbitmq-"))
    (root / "enabled_plugins").write_text("[].\n")
    for path in (root, root / "enabled_plugins"):
        _give(path, "rabbitmq")
    env = {"PATH": os.environ["PATH"], "HOME": "/var/lib/rabbitmq",
           "RABBITMQ_NODENAME": f"outage_{port}@localhost",
           "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(dist_port), "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
           "RABBITMQ_LOG_BASE": str(root / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
           "RABBITMQ_CONFIG_FILE": str(root / "none"), "RABBITMQ_PID_FILE": str(root / "pid")}
    command = _as("rabbitmq", ["env", *(f"{k}={v}" for k, v in env.items()), server])
    node = OwnProcess(command, port=port, what="RabbitMQ node", env=dict(os.environ),
                      log=root / "rabbitmq.log", boot_timeout=60, home=root)
    node.url = f"amqp://guest:guest@127.0.0.1:{port}//"  # type: ignore[attr-defined]
    return node


class OwnWeb(OwnProcess):
    """gunicorn binds its port before its workers have loaded Django: started once /healthz
    answers."""

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer /healthz:\n{self.output()[-3000:]}")


def own_web(root: Path, *, env: dict[str, str], workers: int = 1) -> OwnWeb:
    """Assay under gunicorn (its production configuration, config/gunicorn.py)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    return OwnWeb([sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py",
                       "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
                      port=port, what="gunicorn", env={**os.environ, **env},
                      log=root / "web.log", boot_timeout=90)
