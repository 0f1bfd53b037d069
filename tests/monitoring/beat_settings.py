"""Settings for the end-to-end test's worker and beat: the test settings, tasks on a private
queue, only the monitoring scan of the real beat schedule (every second), the test's artifact
folder (the validated reference data is read from it), and rows counted as soon as they are a
second old."""

import os
from pathlib import Path

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_TASK_DEFAULT_QUEUE = os.environ["ASSAY_TEST_QUEUE"]
CELERY_BEAT_SCHEDULE = {k: {**v, "schedule": 1.0} for k, v in _SCHEDULE.items()
                        if k.startswith("monitoring-")}
ARTIFACT_DIR = Path(os.environ["ASSAY_TEST_ARTIFACT_DIR"])
MONITORING_LOG_LAG_S = 1
