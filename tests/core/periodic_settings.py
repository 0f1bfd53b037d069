"""Settings of the worker and beats of tests/core/test_periodic.py: the test settings, tasks on
the test's own queue, and a beat schedule of two entries every ASSAY_TEST_PERIOD_S seconds: the
test's probe (which counts its runs) and a real one (the security-count flush)."""

import os

from config.settings.test import *  # noqa: F403

_PERIOD_S = float(os.environ.get("ASSAY_TEST_PERIOD_S", "2"))
CELERY_TASK_DEFAULT_QUEUE = os.environ["ASSAY_TEST_QUEUE"]
CELERY_IMPORTS = ["tests.core.periodic_probe"]
CELERY_BEAT_SCHEDULE = {
    "probe": {"task": "tests.periodic_probe", "schedule": _PERIOD_S},
    "audit-flush-security-counts": {"task": "core.tasks.flush_security_counts",
                                    "schedule": _PERIOD_S},
}
