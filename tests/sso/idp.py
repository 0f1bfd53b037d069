"""A real OpenID Connect provider for the tests: the npm ``oidc-provider`` package run by Node.js
on loopback (tests/sso/provider/provider.mjs), with its people in a JSON file the tests edit.

``idp_server`` starts one per test session for the Django test client (``http://testserver``);
``start_provider`` starts one for other addresses (the browser tests' live server). ``sso``
switches Assay's single sign-on on against it, as the documented settings would.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID = "assay"
CLIENT_SECRET = "assay-test-client-secret"
PROVIDER_NAME = "Test IdP"
IDP_PASSWORD = "idp-password-123"
GROUP_ROLES = {"mrm-validators": ["validator"], "mrm-board": ["review_board"],
               "mrm-risk": ["risk_officer"], "mrm-data-science": ["data_scientist"]}
GROUP_TEAMS = {"credit-modellers": ["credit"], "fraud-modellers": ["fraud"]}
PEOPLE = {
    "vera": {"sub": "idp-0001-vera", "name": "Vera Lind", "email": "vera@bank.example",
             "groups": ["mrm-validators", "credit-modellers"]},
    "boris": {"sub": "idp-0002-boris", "name": "Boris Kay", "email": "boris@bank.example",
              "groups": ["mrm-board"]},
    "nora": {"sub": "idp-0003-nora", "name": "Nora Unmapped", "email": "nora@bank.example",
             "groups": ["canteen-committee"]},
    "rescue": {"sub": "idp-0004-rescue", "name": "Res Cue", "email": "rescue@bank.example",
               "groups": ["mrm-board"]},
}


@dataclass
class Provider:
    issuer: str
    users_file: Path

    def reset(self) -> None:
        people = {name: {**person, "password": IDP_PASSWORD} for name, person in PEOPLE.items()}
        self.users_file.write_text(json.dumps(people))

    def set_groups(self, username: str, groups: list[str]) -> None:
        people = json.loads(self.users_file.read_text())
        people[username]["groups"] = groups
        self.users_file.write_text(json.dumps(people))

    def sign_in(self, authorize_url: str, username: str, password: str = IDP_PASSWORD,
                *, session: requests.Session | None = None) -> str:
        """Go through the provider's sign-in with a real HTTP client, from the authorization
        URL Assay redirected to, up to the redirect back to Assay; returns that URL."""
        session = session or requests.Session()
        url = authorize_url
        for _ in range(10):
            if not url.startswith(self.issuer):
                return url
            response = session.get(url, allow_redirects=False, timeout=10)
            if response.status_code == 200 and "/interaction/" in url:
                path = urlsplit(url).path
                response = session.post(urljoin(self.issuer, f"{path}/login"),
                                        data={"username": username, "password": password},
                                        allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), (response.status_code, response.text)
            url = urljoin(url, response.headers["Location"])
        raise AssertionError(f"the provider never sent the browser back (at {url})")


@contextlib.contextmanager
def start_provider(folder: Path, assay_urls: list[str]) -> Iterator[Provider]:
    """Run the provider until the block ends, accepting redirects back to these Assay sites."""
    if shutil.which("node") is None or not (PROVIDER_DIR / "node_modules").is_dir():
        pytest.fail("The single sign-on tests need Node.js and the test provider's packages: "
                    "`cd tests/sso/provider && npm ci` (scripts/test and .ci/run do it).",
                    pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    provider = Provider(issuer="", users_file=folder / "people.json")
    provider.reset()
    config = folder / "provider.json"
    config.write_text(json.dumps({
        "port": 0, "users_file": str(provider.users_file),
        "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [
            f"{base}{path}" for base in assay_urls
            for path in ("/sso/callback/", "/sso/reauth/callback/")],
            "post_logout_redirect_uris": [f"{base}/login/" for base in assay_urls]}]}))
    process = subprocess.Popen(["node", str(PROVIDER_DIR / "provider.mjs"), str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        if first[:1] != ["ready"]:
            pytest.fail(f"the test OIDC provider did not start (said {first!r})", pytrace=False)
        provider.issuer = first[1]
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory) -> Iterator[Provider]:
    with start_provider(tmp_path_factory.mktemp("idp"), ["http://testserver"]) as provider:
        yield provider


@pytest.fixture
def idp(idp_server) -> Provider:
    idp_server.reset()
    return idp_server


def enable_sso(settings, provider: Provider, *, break_glass: list[str] | None = None) -> None:
    """Assay's single sign-on settings, as ASSAY_OIDC_* and ASSAY_BREAK_GLASS_USERS set them."""
    settings.OIDC_ISSUER = provider.issuer
    settings.SSO_ENABLED = True
    settings.SSO_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_GROUP_ROLES = GROUP_ROLES
    settings.OIDC_GROUP_TEAMS = GROUP_TEAMS
    settings.OIDC_DEFAULT_ROLES = []
    settings.BREAK_GLASS_USERS = break_glass if break_glass is not None else ["rescue"]
    settings.AUTHENTICATION_BACKENDS = ["core.sso.backends.LocalPasswordBackend",
                                        "core.sso.backends.SsoBackend"]


@pytest.fixture
def sso(settings, idp) -> Provider:
    enable_sso(settings, idp)
    return idp


def sign_in_with_sso(client, provider: Provider, username: str, password: str = IDP_PASSWORD):
    """The whole sign-in from Assay's button: Assay -> provider -> Assay's callback. Returns
    the callback's response."""
    start = client.get("/sso/login/")
    assert start.status_code == 302, start
    back = provider.sign_in(start["Location"], username, password)
    assert back.startswith("http://testserver/sso/callback/"), back
    return client.get(back.removeprefix("http://testserver"))
