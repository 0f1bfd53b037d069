"""The Celery application shared by the web process, workers and beat."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("assay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Audit events a task records carry its id (core.audit.task_context), as a request's carry the
# request id. Entered before each task and left after it, in the process that runs the task.
_task_contexts: dict[str, Any] = {}


@task_prerun.connect
def _enter_task_context(task_id: str | None = None, **_: Any) -> None:
    from core.audit import task_context

    if task_id:
        context = task_context(task_id)
        context.__enter__()
        _task_contexts[task_id] = context


@task_postrun.connect
def _leave_task_context(task_id: str | None = None, **_: Any) -> None:
    context = _task_contexts.pop(task_id or "", None)
    if context is not None:
        context.__exit__(None, None, None)


# Readiness for whoever started this process (scripts/run): when ASSAY_READY_FILE is set, the
# worker writes its process id there once it consumes from the broker, and beat once its
# scheduler runs. A file, not a line in the log, so that it does not depend on the log format.
@worker_ready.connect
@beat_init.connect
def _mark_ready(**_: Any) -> None:
    path = os.environ.get("ASSAY_READY_FILE")
    if path:
        partial = f"{path}.{os.getpid()}.tmp"
        with open(partial, "w") as out:
            out.write(f"{os.getpid()}\n")
        os.replace(partial, path)
