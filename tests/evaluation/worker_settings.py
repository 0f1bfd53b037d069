"""Settings of the worker processes the worker-kill test starts: the test settings, evaluation
tasks routed to the test's own queue (no other worker on the shared RabbitMQ takes them), the
test's artifact folder, and a short lease so the takeover happens within seconds."""

import os
from pathlib import Path

from config.settings.test import *  # noqa: F403

CELERY_TASK_ROUTES = {"evaluation.run_evaluation": {"queue": os.environ["ASSAY_TEST_QUEUE"]}}
ARTIFACT_DIR = Path(os.environ["ASSAY_TEST_ARTIFACT_DIR"])
EVALUATION_LEASE_S = int(os.environ.get("ASSAY_EVALUATION_LEASE_S", "4"))
