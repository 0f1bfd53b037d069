"""gunicorn's configuration for Assay (``gunicorn config.wsgi -c config/gunicorn.py``).

SIGTERM (a rolling restart, ``docker stop``, systemd) stops accepting connections and lets each
worker finish the request it is answering within ``graceful_timeout``, so a restart drops no
request; the orchestrator's own stop timeout must be longer (docs/outages.md).
"""

import os

bind = os.environ.get("ASSAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ASSAY_WEB_WORKERS", "2"))
# A request taking longer than this is killed (uploads of large artifacts included).
timeout = int(os.environ.get("ASSAY_WEB_TIMEOUT_S", "120"))
# How long SIGTERM waits for requests in progress before the workers are killed.
graceful_timeout = int(os.environ.get("ASSAY_WEB_GRACEFUL_TIMEOUT_S", "30"))
keepalive = 5
accesslog = "-"


def post_worker_init(worker: object) -> None:
    """Import every view (the URLconf) before the worker takes its first request: otherwise the
    first request each new worker answers after a restart pays for importing the evaluation and
    reporting libraries (seconds), and on a busy machine can run into ``timeout``."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (loading it is the point)
    worker.log.info("Worker ready (pid: %s)", worker.pid)  # type: ignore[attr-defined]
