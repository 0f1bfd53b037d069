"""gunicorn settings of the serving gateway (``gunicorn -c serving/gateway/gunicorn.conf.py
serving.gateway.wsgi``), shared by ``scripts/run`` and ``bench/gateway.py``.

Threaded workers keep connections alive (the sync worker closes each after one response, so
every request would pay a TCP handshake). gunicorn's sockets set TCP_NODELAY, so there is no
Nagle delay on small responses.
"""

import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = "serving.gateway.worker.DrainingThreadWorker"  # gthread that drains on stop
threads = int(os.environ.get("GATEWAY_THREADS", "4"))
keepalive = 5
# A request taking longer than this is killed; SIGTERM waits this long for requests in progress.
timeout = int(os.environ.get("GATEWAY_TIMEOUT_S", "30"))
graceful_timeout = int(os.environ.get("GATEWAY_GRACEFUL_TIMEOUT_S", "30"))
# One JSON line per request comes from the app (ASSAY_GATEWAY_REQUEST_LOG); no access log.
accesslog = None


def post_worker_init(worker: object) -> None:
    """Say when a worker has loaded the gateway and takes requests (a rolling restart waits for
    it before stopping the old master)."""
    worker.log.info("Worker ready (pid: %s)", worker.pid)  # type: ignore[attr-defined]
