"""Settings for the end-to-end tests' worker and beat processes: the test settings, tasks sent to
a private queue, only the governance entries of the real beat schedule, and (when the test names
a folder) emails written as files there."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_TASK_DEFAULT_QUEUE = os.environ["ASSAY_TEST_QUEUE"]
CELERY_BEAT_SCHEDULE = {k: v for k, v in _SCHEDULE.items() if k.startswith("governance-")}
if os.environ.get("ASSAY_TEST_EMAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["ASSAY_TEST_EMAIL_DIR"]
