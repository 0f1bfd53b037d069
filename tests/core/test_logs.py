"""Structured logs: one JSON object per line carrying the request's or the task's id (the same id
the audit trail records), with secrets removed wherever they were logged; a real worker's log
lines are JSON too."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpResponse
from django.urls import path

from core.audit import task_context
from core.logs import JsonFormatter, RequestContextFilter, TextFormatter, logging_config, redact

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "assay_k3y9_Zt0pS3cr3tV4lu3xyz"


def line(formatter: logging.Formatter, message: str, *args, exc_info=None) -> str:
    record = logging.LogRecord("assay.test", logging.WARNING, __file__, 1, message, args,
                               exc_info)
    RequestContextFilter().filter(record)
    return formatter.format(record)


def test_a_line_is_one_json_object_with_time_level_logger_and_message():
    entry = json.loads(line(JsonFormatter(), "Run %s finished", 7))
    assert entry["message"] == "Run 7 finished"
    assert entry["level"] == "WARNING" and entry["logger"] == "assay.test"
    assert entry["time"].endswith("+00:00")
    assert entry["request_id"] is None  # outside a request or task


def test_inside_a_task_every_line_carries_the_tasks_id_as_the_audit_trail_does():
    with task_context("0f1e2d3c"):
        entry = json.loads(line(JsonFormatter(), "working"))
    assert entry["request_id"] == "task:0f1e2d3c"


def log_in_view(request):
    logging.getLogger("assay.test").warning("handling %s", request.path)
    return HttpResponse("ok")


urlpatterns = [path("logged/", log_in_view)]


@pytest.mark.urls("tests.core.test_logs")
def test_inside_a_request_every_line_carries_the_request_id(client, caplog):
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    lines: list[str] = []
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    logging.getLogger("assay.test").addHandler(handler)
    try:
        response = client.get("/logged/", HTTP_X_REQUEST_ID="req-12345678")
    finally:
        logging.getLogger("assay.test").removeHandler(handler)
    assert response["X-Request-ID"] == "req-12345678"
    assert [json.loads(text)["request_id"] for text in lines] == ["req-12345678"]


@pytest.mark.parametrize("message", [
    f"token {TOKEN} used",
    "Authorization: Token assay_abcd_0123456789abcdef",
    "login failed password=hunter2&user=dana",
    '{"username": "dana", "password": "hunter2"}',
    "Cookie: sessionid=abc123; csrftoken=def456",
    "ASSAY_SMTP_PASSWORD=hunter2",
])
def test_secrets_never_reach_a_line(message):
    for formatter in (JsonFormatter(), TextFormatter()):
        text = line(formatter, message)
        for secret in ("hunter2", "Zt0pS3cr3t", "0123456789abcdef", "abc123", "def456"):
            assert secret not in text, (formatter, text)
        assert "[redacted]" in text


def test_secrets_in_a_traceback_are_removed_too():
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        entry = json.loads(line(JsonFormatter(), "failed", exc_info=sys.exc_info()))
    assert "ValueError" in entry["exception"] and "Zt0pS3cr3t" not in entry["exception"]


def test_ordinary_words_are_left_alone():
    assert redact("3 tokens revoked for dana; password changed") == \
        "3 tokens revoked for dana; password changed"


def test_an_unknown_log_format_stops_start_up_with_the_choices():
    with pytest.raises(ImproperlyConfigured, match="use 'json' or 'text'"):
        logging_config(fmt="yaml", level="INFO")


@pytest.mark.worker
def test_a_real_workers_lines_are_json_and_its_tasks_lines_carry_the_task_id(
        transactional_db, tmp_path):
    from config.celery import app

    queue = f"logs_{uuid.uuid4().hex}"
    db = connection.settings_dict
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "-Q", queue,
         "-c", "1", "--pool", "solo", "-n", f"logs{uuid.uuid4().hex[:6]}@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # Its warning about running as root (tests here run as root) is printed, not logged.
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
             "PYTHONWARNINGS": "ignore:You're running the worker with superuser",
             "ASSAY_LOG_FORMAT": "json",
             "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        result = app.send_task("core.tasks.flush_security_counts", queue=queue)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None and not any(
                result.id in text and "succeeded" in text for text in list(lines)):
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        reader.join(timeout=10)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    output = "".join(lines)
    # Celery prints "Warm shutdown" itself when it stops, outside logging.
    not_json = [text for text in lines if text.strip() and not text.startswith("{")
                and "Warm shutdown" not in text]
    assert not not_json, not_json[:5]
    entries = [json.loads(text) for text in lines if text.startswith("{")]
    assert entries, "the worker printed nothing"
    succeeded = [e for e in entries if result.id in e["message"] and "succeeded" in e["message"]]
    assert succeeded, output[-2000:]
    assert succeeded[0]["request_id"] == f"task:{result.id}"
