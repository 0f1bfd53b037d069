"""The database goes down under a running web server (gunicorn, production connection handling)
and comes back: on a PostgreSQL cluster of the test's own, stopped and restarted for real.

While it is down the API answers 503 with Retry-After in its error shape, pages the plain
"briefly unavailable" page, a write leaves nothing behind, /healthz stays alive and /readyz names
the database. Once it is back — and after a restart between two requests, which kills the
connection the worker keeps — every request succeeds: no stale connection reaches a request.
"""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.db import OperationalError, connection

from core import services
from core.views import server_error
from registry import services as registry
from tests.conftest import PASSWORD
from tests.outage_services import OwnPostgres, own_web
from tests.registry.conftest import model_fields

pytestmark = pytest.mark.outage


def sign_in(base: str) -> requests.Session:
    browser = requests.Session()
    browser.get(f"{base}/login/", timeout=30)
    response = browser.post(f"{base}/login/", timeout=10, allow_redirects=False, data={
        "username": "dana", "password": PASSWORD,
        "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
    assert response.status_code == 302, response.text[:500]
    return browser


def test_a_database_outage_answers_503_and_heals_without_a_person(transactional_db, dana, teams,
                                                                   tmp_path):
    registry.model_create(actor=dana, team=teams["credit"], **model_fields(name="Scorecard"))
    _row, token = services.token_create(actor=dana, name="outage test", expires_in_days=1)
    settings.ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    database = OwnPostgres()
    database.start()
    web = None
    try:
        url = database.copy_database(connection.settings_dict, "assay")
        web = own_web(tmp_path / "web", env={
            "DJANGO_SETTINGS_MODULE": "tests.outage_settings", "DATABASE_URL": url,
            "ASSAY_DB_APP_ROLE": "", "ASSAY_TEST_ARTIFACT_DIR": str(settings.ARTIFACT_DIR)})
        web.start()
        base = f"http://127.0.0.1:{web.port}"
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        browser = sign_in(base)
        assert api.get(f"{base}/api/v1/models/", timeout=30).status_code == 200
        assert browser.get(f"{base}/", timeout=30).status_code == 200

        database.stop()
        listed = api.get(f"{base}/api/v1/models/", timeout=30)
        assert listed.status_code == 503
        assert int(listed.headers["Retry-After"]) > 0
        assert listed.json()["code"] == "unavailable"
        assert "database cannot be reached" in listed.json()["detail"]
        assert listed.json()["fields"] == {}
        written = api.post(f"{base}/api/v1/models/", timeout=10,
                           json={**model_fields(name="Written during the outage"),
                                 "team": teams["credit"].slug})
        assert written.status_code == 503 and written.json()["code"] == "unavailable"
        page = browser.get(f"{base}/", timeout=30)
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert "Assay is briefly unavailable" in page.text
        assert api.get(f"{base}/healthz", timeout=30).status_code == 200
        ready = requests.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")
        assert ready.json()["checks"]["storage"] == "ok"
        assert str(database.port) not in ready.text and "postgres" not in ready.text

        database.start()
        answers = [api.get(f"{base}/api/v1/models/", timeout=30) for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
        names = [m["name"] for m in answers[-1].json()["results"]]
        assert names == ["Scorecard"]  # nothing of the refused write was kept
        assert browser.get(f"{base}/", timeout=30).status_code == 200
        assert requests.get(f"{base}/readyz", timeout=30).json()["checks"]["database"] == "ok"

        # A restart between two requests kills the connection the worker keeps (CONN_MAX_AGE):
        # the health check replaces it before the next request uses it.
        database.restart()
        statuses = [api.get(f"{base}/api/v1/models/", timeout=30).status_code
                    for _ in range(5)]
        assert statuses == [200] * 5
    finally:
        if web is not None:
            web.stop()
        database.close()
    assert "Traceback" not in web.output() or "OperationalError" in web.output(), \
        web.output()[-3000:]


def test_an_outage_met_outside_a_view_is_answered_503_too(rf):
    """handler500: what fails in middleware (a session saved after the view) is still a 503."""
    for path, kind in (("/api/v1/models/", "application/json"), ("/models/", "text/html")):
        try:
            raise OperationalError("connection to server at 127.0.0.1 failed")
        except OperationalError:
            response = server_error(rf.get(path))
        assert response.status_code == 503 and response["Retry-After"] == "5"
        assert response["Content-Type"].startswith(kind)
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        assert server_error(rf.get("/api/v1/models/")).status_code == 500
