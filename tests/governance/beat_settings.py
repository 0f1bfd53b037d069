"""Settings for the end-to-end waiver-expiry test's worker and beat processes: the test settings,
tasks sent to a private queue, and only the governance entries of the real beat schedule."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_TASK_DEFAULT_QUEUE = os.environ["ASSAY_TEST_QUEUE"]
CELERY_BEAT_SCHEDULE = {k: v for k, v in _SCHEDULE.items() if k.startswith("governance-")}
