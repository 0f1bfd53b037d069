"""The WSGI app of tests/core/test_rolling_restart.py: Assay's web app or its gateway (named by
``ASSAY_TEST_WRAPPED``: ``config.wsgi`` or ``serving.gateway.wsgi``), unchanged, except that a
request carrying ``X-Test-Hold: <seconds>`` is held that long first, so the test can have
requests in flight when it signals gunicorn."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

_app = importlib.import_module(os.environ["ASSAY_TEST_WRAPPED"]).application


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    hold = float(environ.get("HTTP_X_TEST_HOLD") or 0)
    if hold > 0:
        time.sleep(min(hold, 30.0))
    return _app(environ, start_response)
