"""Settings of the worker processes the worker tests start (worker kill, fan-out): the test
settings, evaluation tasks routed to the test's own queue (no other worker on the shared RabbitMQ
takes them), the test's artifact folder, a short lease so the takeover happens within seconds,
and a Redis result backend for chords."""

import os
from pathlib import Path

from config.settings.test import *  # noqa: F403

CELERY_TASK_ROUTES = {name: {"queue": os.environ["ASSAY_TEST_QUEUE"]}
                      for name in ("evaluation.run_evaluation", "evaluation.evaluate_chunk",
                                   "evaluation.merge_chunks", "evaluation.explain_row")}
# Chords (a fanned-out run) count their chunks in Redis.
CELERY_RESULT_BACKEND = os.environ.get("ASSAY_TEST_RESULT_BACKEND", "redis://127.0.0.1:6379/0")
ARTIFACT_DIR = Path(os.environ["ASSAY_TEST_ARTIFACT_DIR"])
EVALUATION_LEASE_S = int(os.environ.get("ASSAY_EVALUATION_LEASE_S", "4"))
