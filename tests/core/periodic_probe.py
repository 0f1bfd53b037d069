"""A periodic task for tests/core/test_periodic.py, declared like Assay's own (core.periodic):
each run appends the time it ran to the file the test names, so the test can count runs."""

from __future__ import annotations

import os
import time

from core.periodic import periodic_task

PROBE_TASK = "tests.periodic_probe"


@periodic_task(PROBE_TASK)
def periodic_probe() -> float:
    """Record one run."""
    now = time.time()
    with open(os.environ["ASSAY_TEST_PROBE_FILE"], "a") as runs:
        runs.write(f"{now:.3f} {os.getpid()}\n")
    return now
