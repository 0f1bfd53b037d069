"""A typed client over Assay's REST API (``/api/v1/``), for notebooks and pipelines.

Every call is one HTTP request with the person's API token (``Authorization: Token assay_…``).
An answer that is not 2xx raises :class:`AssayError` carrying Assay's own message, which says
what was wrong and how to fix it. The waits poll at a fixed interval until a deadline and raise
:class:`WaitTimeout` when it passes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# A run's states (evaluation.RunStatus) once it will not change any more.
RUN_FINISHED = frozenset({"succeeded", "failed", "cancelled"})
# A version's states (registry.VersionState) that end a wait for approval: approved is the
# one success; the others mean approval will not come without a person doing something.
APPROVED = "approved"
NOT_APPROVED = frozenset({"rejected", "changes_requested", "suspended", "retired", "draft"})

Json = dict[str, Any]


class AssayError(Exception):
    """Assay answered with an error (4xx/5xx), or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class WaitTimeout(AssayError):
    """A wait reached its deadline before the awaited state."""


class NotApproved(AssayError):
    """The version reached a state from which approval will not come by itself; ``version``
    is the version as Assay answered it."""

    def __init__(self, message: str, version: Json) -> None:
        super().__init__(message, body=version)
        self.version = version


@dataclass(frozen=True)
class Download:
    """A file Assay sent: its bytes, its name and the SHA-256 Assay stated for it (checked)."""

    content: bytes
    filename: str
    sha256: str


def _message(response: requests.Response) -> str:
    """Assay's own words for an error answer. The API's one error shape is
    ``{"detail": "…", "code": "…", "fields": {"field": ["message", …]}}``."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300].strip()}"
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return f"HTTP {response.status_code}: {body}"
    fields = body.get("fields") or {}
    named = [f"{field}: {' '.join(str(m) for m in messages)}"
             for field, messages in fields.items() if isinstance(messages, list)]
    return " ".join([body["detail"], *named])


class AssayClient:
    """Assay's REST API for one person.

    ``base_url`` is the site (``https://assay.example.org``); ``token`` a personal API token
    from the site's "API tokens" page. Both default to the ``ASSAY_URL`` and ``ASSAY_TOKEN``
    environment variables, so a token never needs to appear on a command line.
    """

    def __init__(self, base_url: str | None = None, token: str | None = None, *,
                 timeout: float = 60.0, session: requests.Session | None = None) -> None:
        base_url = base_url or os.environ.get("ASSAY_URL", "")
        token = token or os.environ.get("ASSAY_TOKEN", "")
        if not base_url:
            raise AssayError("No Assay address: pass base_url or set ASSAY_URL "
                             "(e.g. https://assay.example.org).")
        if not token:
            raise AssayError("No API token: pass token or set ASSAY_TOKEN (create one on "
                             "Assay's 'API tokens' page).")
        self.api = base_url.rstrip("/") + "/api/v1/"
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.session.headers["Accept"] = "application/json"

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.api + path.lstrip("/"),
                                            timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise AssayError(f"Could not reach Assay at {self.api}: {exc}") from exc
        if response.status_code >= 400:
            raise AssayError(_message(response), status=response.status_code,
                             body=response.text)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Json]:
        """Every item of a paginated list (the API's ``{"results": …, "next": …}``)."""
        body = self._json("GET", path, params=dict(params or {}))
        while True:
            yield from body["results"]
            if not body.get("next"):
                return
            body = self._json("GET", body["next"].split("/api/v1/", 1)[1])

    def _download(self, path: str, params: Mapping[str, Any] | None = None) -> Download:
        response = self._request("GET", path, params=dict(params or {}))
        content = response.content
        stated = response.headers.get("X-Content-SHA256", "")
        actual = hashlib.sha256(content).hexdigest()
        if stated and stated != actual:
            raise AssayError(f"The download from {path} was damaged in transit: Assay stated "
                             f"SHA-256 {stated}, the bytes received hash to {actual}.")
        disposition = response.headers.get("Content-Disposition", "")
        filename = disposition.split('filename="', 1)[1].rstrip('"') \
            if 'filename="' in disposition else path.rstrip("/").rsplit("/", 1)[-1]
        return Download(content=content, filename=filename, sha256=actual)

    # -- who am I ---------------------------------------------------------------------------

    def me(self) -> Json:
        """The person the token belongs to, with their roles and teams."""
        return self._json("GET", "me/")

    # -- inventory ----------------------------------------------------------------------------

    def register_model(self, *, name: str, team: str, task: str, decision_type: str,
                       **fields: Any) -> Json:
        """Register a model in the inventory (fields as in the API's ``POST /models/``:
        ``purpose``, ``intended_use``, ``developers``, ``favourable_class``, …)."""
        return self._json("POST", "models/", json={
            "name": name, "team": team, "task": task, "decision_type": decision_type,
            **fields})

    def model(self, slug: str) -> Json:
        return self._json("GET", f"models/{slug}/")

    def record_intake(self, slug: str, *, answers: Mapping[str, str], is_model: bool = True,
                      rationale: str = "") -> Json:
        """Answer the intake questionnaire; Assay derives the risk tier from the answers."""
        return self._json("PUT", f"intakes/{slug}/", json={
            "is_model": is_model, "answers": dict(answers), "rationale": rationale})

    def create_version(self, slug: str, *, artifact: str | Path | None = None,
                       **fields: Any) -> Json:
        """Add a draft version, with its ONNX artifact when given (``changelog``,
        ``training_data_description``, ``training_data_sha256`` …)."""
        if artifact is None:
            return self._json("POST", f"models/{slug}/versions/", json=fields)
        with open(artifact, "rb") as file:
            return self._json("POST", f"models/{slug}/versions/", data=_form(fields),
                              files={"artifact": (Path(artifact).name, file)})

    def upload_artifact(self, version_id: int, artifact: str | Path) -> Json:
        """Set a draft version's ONNX artifact."""
        with open(artifact, "rb") as file:
            return self._json("POST", f"versions/{version_id}/artifact/",
                              files={"artifact": (Path(artifact).name, file)})

    def version(self, version_id: int) -> Json:
        return self._json("GET", f"versions/{version_id}/")

    def find_version(self, slug: str, number: int) -> Json:
        """A model's version by its number (``v3`` is ``number=3``)."""
        for version in self._pages("versions/", {"model": slug}):
            if version["number"] == number:
                return version
        raise AssayError(f"Model '{slug}' has no version {number}, or you may not see it.",
                         status=404)

    # -- governance ---------------------------------------------------------------------------

    def submit(self, version_id: int) -> Json:
        """Submit a draft for validation; Assay notifies the validators. Returns the version's
        governance status (as :meth:`governance`)."""
        return self._json("POST", f"versions/{version_id}/submit/", json={})

    def governance(self, version_id: int) -> Json:
        """A version's state, tier, evidence, sign-offs and the actions open to you."""
        return self._json("GET", f"versions/{version_id}/governance/")

    def wait_for_approval(self, version_id: int, *, timeout: float = 3600.0,
                          poll: float = 10.0,
                          on_state: Callable[[str], None] | None = None) -> Json:
        """Wait until the version is approved; returns the version.

        Raises :class:`NotApproved` as soon as the version reaches a state from which approval
        will not come by itself (rejected, changes requested, suspended, retired, back to
        draft), and :class:`WaitTimeout` at the deadline.
        """
        deadline = time.monotonic() + timeout
        last = None
        while True:
            version = self.version(version_id)
            state = version["state"]
            if state != last and on_state:
                on_state(state)
            last = state
            if state == APPROVED:
                return version
            if state in NOT_APPROVED:
                raise NotApproved(f"Version {version['number']} of '{version['model']}' is "
                                  f"{state.replace('_', ' ')}: it will not be approved without "
                                  "further work.", version)
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"Version {version['number']} of '{version['model']}' is "
                                  f"still {state.replace('_', ' ')} after {timeout:g} s.",
                                  body=version)
            time.sleep(poll)

    def evidence(self, version_id: int) -> list[Json]:
        """Every evidence row of the version, newest first."""
        return list(self._pages(f"versions/{version_id}/evidence/"))

    def record_evidence(self, version_id: int, *, check: str, status: str,
                        figures: Mapping[str, Any], result: bytes, artifact: str | Path,
                        datasets: Sequence[str | Path] = (), source_url: str = "") -> Json:
        """Record evidence a tool outside Assay computed (a pipeline's own test), bound to the
        digests of the artifact and data sets it read. ``result`` is the tool's full result;
        Assay keeps its digest. Whether it counts is the policy's choice per check."""
        return self._json("POST", f"versions/{version_id}/evidence/", json={
            "check": check, "status": status, "figures": dict(figures),
            "digest": hashlib.sha256(result).hexdigest(),
            "artifact_digest": file_sha256(artifact),
            "dataset_digests": [file_sha256(path) for path in datasets],
            "source_url": source_url})

    def signatures(self, version_id: int) -> Json:
        """Whether the version is servable, and its artifact and approval signatures."""
        return self._json("GET", f"versions/{version_id}/signatures/")

    def signature_bundle(self, version_id: int, kind: str) -> Download:
        """The signed bundle of ``kind`` 'artifact' or 'approval' (a Sigstore-style bundle the
        offline verifier checks)."""
        return self._download(f"versions/{version_id}/signatures/{kind}/")

    def model_card(self, version_id: int, *, as_: str = "json") -> Download:
        """The version's model card: ``json`` (Model Card Toolkit v0.0.2) or ``markdown``."""
        return self._download(f"versions/{version_id}/model-card/", {"as": as_})

    # -- evaluation ---------------------------------------------------------------------------

    def upload_dataset(self, model: str, file: str | Path, *, label_column: str = "",
                       sensitive_features: Sequence[str | Mapping[str, Any]] = (),
                       name: str = "", version: int | None = None, is_reference: bool = False,
                       reference: int | None = None) -> Json:
        """Upload an evaluation (or, with ``is_reference``, a reference) data set, CSV or
        Parquet. ``sensitive_features`` names columns, or gives them with bins:
        ``["sex", {"column": "age", "bins": {"edges": [25, 60]}}]``."""
        features = [{"column": f} if isinstance(f, str) else dict(f)
                    for f in sensitive_features]
        fields: dict[str, Any] = {"model": model, "label_column": label_column,
                                  "sensitive_features": features, "name": name,
                                  "is_reference": is_reference}
        if version is not None:
            fields["version"] = version
        if reference is not None:
            fields["reference"] = reference
        with open(file, "rb") as handle:
            return self._json("POST", "datasets/", data=_form(fields),
                              files={"file": (Path(file).name, handle)})

    def launch_run(self, version_id: int, dataset_id: int, *,
                   checks: list[str] | None = None,
                   options: Mapping[str, Any] | None = None) -> Json:
        """Launch an evaluation run on a worker; returns the queued run."""
        body: dict[str, Any] = {"version": version_id, "dataset": dataset_id}
        if checks is not None:
            body["checks"] = checks
        if options is not None:
            body["options"] = dict(options)
        return self._json("POST", "runs/", json=body)

    def run(self, run_id: int) -> Json:
        return self._json("GET", f"runs/{run_id}/")

    def run_results(self, run_id: int) -> Json:
        """A finished run's results: per check, its status, figures and charts' data."""
        return self._json("GET", f"runs/{run_id}/results/")

    def wait_for_run(self, run_id: int, *, timeout: float = 3600.0, poll: float = 2.0,
                     on_progress: Callable[[Json], None] | None = None) -> Json:
        """Wait until the run has finished (succeeded, failed or cancelled); returns it.
        ``on_progress`` sees the run at each poll (its ``progress`` and ``status``)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if on_progress:
                on_progress(run)
            if run["status"] in RUN_FINISHED:
                return run
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"Run {run_id} is still {run['status']} after {timeout:g} s.",
                                  body=run)
            time.sleep(poll)


def _form(fields: Mapping[str, Any]) -> dict[str, str]:
    """Fields for a multipart form: lists and mappings as JSON, booleans as true/false, empty
    values left out."""
    form = {}
    for key, value in fields.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            form[key] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            form[key] = json.dumps(value)
        else:
            form[key] = str(value)
    return form


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_download(download: Download, folder: str | Path, name: str | None = None,
                   ) -> Path:
    """Write a download into ``folder`` under its own name (or ``name``)."""
    path = Path(folder) / (name or download.filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(download.content)
    return path


__all__ = ["APPROVED", "AssayClient", "AssayError", "Download", "NotApproved", "WaitTimeout",
           "file_sha256", "write_download"]
