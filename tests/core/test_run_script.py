"""scripts/run (issue 17, "Starting it"): started on free ports with a data folder of its own
(embedded mode: SQLite and the filesystem broker in that folder), it brings up the web server,
the gateway, a worker and beat, derives ASSAY_BASE_URL from the host and port, and names the
demo's files to upload; stopped, it stops them all. A part that cannot come up fails it at once,
non-zero, naming the part with the last lines of its log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.outage_services import ROOT, free_port

# Tests' own variables would point the script at the test database and broker.
_DROPPED = {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "ASSAY_BASE_URL",
            "ASSAY_ALLOWED_HOSTS", "PORT", "HOST", "GATEWAY_PORT"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One data folder for the module: the first run migrates and loads the demo, the later
    ones find it done."""
    return tmp_path_factory.mktemp("run-script")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED and
           not k.startswith("PYTEST_")}
    return {**env, "ASSAY_DATA_DIR": str(data_dir), "ASSAY_RUN_BOOT_TIMEOUT_S": "300", **extra}


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_it_starts_every_part_names_the_demo_files_and_stops_them(data_dir):
    port, gateway_port = free_port(), free_port()
    run = _start(_env(data_dir, PORT=str(port), GATEWAY_PORT=str(gateway_port)))
    output: list[str] = []
    try:
        # Each part is up in seconds (about a minute in all on CI); the deadline only bounds a
        # failure on a busy machine: the script's own boot timeout (above) fails it first.
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith("Logs:"):
                break
        text = "".join(output)
        assert f"Assay is running at http://127.0.0.1:{port}/" in text, text[-5000:]
        assert f"ASSAY_BASE_URL=http://127.0.0.1:{port}" in text
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{gateway_port}/metrics", timeout=10
                            ).status_code == 200
        for log in ("web", "gateway", "worker", "beat"):
            assert (data_dir / f"{log}.log").exists()
        onnx = data_dir / "demo" / "german_credit.onnx"
        data = data_dir / "demo" / "german_credit_test.csv"
        assert str(onnx) in text and str(data) in text
        assert onnx.read_bytes()[:2] and len(onnx.read_bytes()) > 1000
        rows = data.read_text().splitlines()
        assert "good_credit" in rows[0].split(",") and len(rows) == 251  # the 25 % test split

        run.send_signal(signal.SIGTERM)  # the script stops what it started
        assert run.wait(timeout=300) == 0
        assert not _listening(port) and not _listening(gateway_port)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)


def test_a_port_already_taken_fails_at_once_naming_it(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _start(_env(data_dir, PORT=str(port), GATEWAY_PORT=str(free_port())))
        out, _ = run.communicate(timeout=120)
    assert run.returncode == 1, out
    assert f"port {port} on 127.0.0.1 is already taken" in out


def test_a_part_that_does_not_come_up_fails_the_run_with_its_log(data_dir):
    """The worker cannot reach its broker (an unknown transport): the script stops everything
    and says so with the worker log's last lines."""
    port, gateway_port = free_port(), free_port()
    run = _start(_env(data_dir, PORT=str(port), GATEWAY_PORT=str(gateway_port),
                      CELERY_BROKER_URL="nosuch://"))
    try:
        out, _ = run.communicate(timeout=1800)  # a busy machine boots for minutes
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
    assert run.returncode == 1, out[-5000:]
    assert "the Celery worker did not come up (it exited with status" in out, out[-5000:]
    assert "nosuch" in out.split("did not come up")[1]  # the log's own words
    assert "Assay is running" not in out
    assert not _listening(port) and not _listening(gateway_port)  # the others were stopped


def test_the_address_in_emails_links_is_read_from_the_environment():
    """What scripts/run exports is what the worker's settings (and so the emails' links, built
    by governance.services.notifications from settings.ASSAY_BASE_URL) use."""
    env = {**{k: v for k, v in os.environ.items() if k not in _DROPPED},
           "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "ASSAY_BASE_URL": "http://assay.bank.example:8443"}
    read = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
                               " print(settings.ASSAY_BASE_URL)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert read.stdout.strip() == "http://assay.bank.example:8443"
