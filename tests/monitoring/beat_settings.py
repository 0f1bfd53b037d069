"""Settings for the end-to-end test's worker and beat: the test settings, tasks on a private
queue, only the monitoring scan of the real beat schedule (every second), and rows counted as
soon as they are a second old."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_TASK_DEFAULT_QUEUE = os.environ["ASSAY_TEST_QUEUE"]
CELERY_BEAT_SCHEDULE = {k: {**v, "schedule": 1.0} for k, v in _SCHEDULE.items()
                        if k.startswith("monitoring-")}
MONITORING_LOG_LAG_S = 1
