"""Settings of the web servers and workers the outage tests start (tests/outage_services.py):
the test settings with the production connection handling (connections kept for a minute and
checked before reuse), the test's own artifact folder, evaluations on the test's own queue, and
a short lease, re-send delay and retry backoff so recovery happens within seconds."""

import os
from pathlib import Path

from config.settings.test import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
ARTIFACT_DIR = Path(os.environ["ASSAY_TEST_ARTIFACT_DIR"])
KEY_DIR = Path(os.environ.get("ASSAY_TEST_KEY_DIR", str(ARTIFACT_DIR.parent / "keys")))
CELERY_TASK_ROUTES = {"evaluation.run_evaluation": {
    "queue": os.environ.get("ASSAY_TEST_QUEUE", "outage_evaluations")}}
EVALUATION_LEASE_S = int(os.environ.get("ASSAY_EVALUATION_LEASE_S", "6"))
# Retries after a lost connection 2, 4, 8, 16, 32 s on (a minute in all; the outages last
# seconds, a restart on a busy machine some more).
EVALUATION_RETRY_BACKOFF_S = int(os.environ.get("ASSAY_EVALUATION_RETRY_BACKOFF_S", "2"))
EVALUATION_REQUEUE_AFTER_S = int(os.environ.get("ASSAY_EVALUATION_REQUEUE_AFTER_S", "2"))
CHECKPOINT_FILE = Path(os.environ.get("ASSAY_TEST_CHECKPOINT_FILE", str(CHECKPOINT_FILE)))  # noqa: F405
