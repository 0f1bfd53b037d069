"""Reading an MLflow tracking server's model registry over its REST API (``/api/2.0/mlflow``).

Only what an import needs: registered models, their versions, a version's run metrics, and the
files of its model directory, fetched through the server's artifact proxy
(``mlflow-artifacts:``; MLflow 2 and 3 servers serve artifacts by default). Nothing here writes to
MLflow. Every failure is an ``MlflowError`` whose message says what went wrong and what to check.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests
import yaml

from core.errors import ValidationFailed

TIMEOUT_S = 30
PAGE_SIZE = 100
CHUNK = 1 << 16


class MlflowError(ValidationFailed):
    """The tracking server could not be read: unreachable, not MLflow, or refused a request."""


def in_production(stage: str, aliases: Iterable[str]) -> bool:
    """Whether MLflow says a version is in production: the Production stage (deprecated in
    MLflow, still used) or the conventional "champion" alias."""
    return stage == "Production" or "champion" in aliases


@dataclass(frozen=True)
class MlflowVersion:
    registered_model: str
    version: str
    source: str
    run_id: str
    stage: str
    status: str
    description: str
    tags: dict[str, str]
    aliases: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.version)


@dataclass(frozen=True)
class MlflowModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, list[str]]  # version -> its aliases


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(item["key"]): str(item.get("value", "")) for item in items or []}


class MlflowRegistry:
    """One tracking server, e.g. ``MlflowRegistry("http://mlflow.bank.internal:5000")``.
    ``token`` is sent as a Bearer token when the server sits behind authentication."""

    def __init__(self, tracking_uri: str, *, token: str = "", timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(tracking_uri.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MlflowError(f"The tracking URI {tracking_uri!r} is not an http(s) address. Give "
                              "the MLflow server's address, e.g. http://mlflow.internal:5000.",
                              field="tracking_uri")
        self.tracking_uri = tracking_uri.strip().rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, params: dict[str, Any] | None = None, *,
             stream: bool = False) -> requests.Response:
        url = f"{self.tracking_uri}{path}"
        try:
            response = self.session.get(url, params=params, timeout=self.timeout, stream=stream)
        except requests.RequestException as exc:
            raise MlflowError(f"The MLflow server at {self.tracking_uri} could not be reached "
                              f"({type(exc).__name__}). Check the address and that the server "
                              "is running.", field="tracking_uri") from exc
        if response.status_code in (401, 403):
            raise MlflowError(f"The MLflow server at {self.tracking_uri} refused access "
                              f"({response.status_code}). Give a token that may read its model "
                              "registry.", field="tracking_uri")
        if response.status_code >= 400:
            detail = response.text[:300]
            raise MlflowError(f"The MLflow server answered {response.status_code} to {path}: "
                              f"{detail}", field="tracking_uri")
        return response

    def _json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._get(path, params)
        try:
            body = response.json()
        except ValueError as exc:
            raise MlflowError(f"{self.tracking_uri} did not answer {path} with JSON: is it an "
                              "MLflow tracking server?", field="tracking_uri") from exc
        if not isinstance(body, dict):
            raise MlflowError(f"{self.tracking_uri} answered {path} with something other than "
                              "an MLflow object.", field="tracking_uri")
        return body

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            body = self._json(path, {**params, "max_results": PAGE_SIZE,
                                     **({"page_token": token} if token else {})})
            items.extend(body.get(key) or [])
            token = body.get("next_page_token") or ""
            if not token:
                return items

    def registered_models(self) -> list[MlflowModel]:
        found = self._pages("/api/2.0/mlflow/registered-models/search", "registered_models", {})
        models = []
        for item in found:
            aliases: dict[str, list[str]] = {}
            for alias in item.get("aliases") or []:
                aliases.setdefault(str(alias["version"]), []).append(str(alias["alias"]))
            models.append(MlflowModel(name=str(item["name"]),
                                      description=str(item.get("description") or ""),
                                      tags=_pairs(item.get("tags")), aliases=aliases))
        return sorted(models, key=lambda m: m.name)

    def versions(self, model: MlflowModel) -> list[MlflowVersion]:
        escaped = model.name.replace("'", "\\'")
        found = self._pages("/api/2.0/mlflow/model-versions/search", "model_versions",
                            {"filter": f"name='{escaped}'"})
        versions = [MlflowVersion(
            registered_model=model.name, version=str(item["version"]),
            source=str(item.get("source") or ""), run_id=str(item.get("run_id") or ""),
            stage=str(item.get("current_stage") or "None"),
            status=str(item.get("status") or "READY"),
            description=str(item.get("description") or ""), tags=_pairs(item.get("tags")),
            aliases=sorted(model.aliases.get(str(item["version"]), [])),
        ) for item in found]
        return sorted(versions, key=lambda v: v.number)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The run's latest value of each metric; {} when the version names no run."""
        if not run_id:
            return {}
        run = self._json("/api/2.0/mlflow/runs/get", {"run_id": run_id}).get("run") or {}
        return {str(m["key"]): float(m["value"])
                for m in (run.get("data") or {}).get("metrics") or []}

    def model_directory(self, version: MlflowVersion) -> str:
        """The artifact URI of the version's model directory (MLflow resolves ``models:/`` and
        ``runs:/`` sources to it)."""
        body = self._json("/api/2.0/mlflow/model-versions/get-download-uri",
                          {"name": version.registered_model, "version": version.version})
        return str(body.get("artifact_uri") or version.source)

    def _artifact_path(self, directory: str, name: str) -> str:
        """The proxy path of ``name`` inside ``directory``, or an MlflowError saying why Assay
        cannot read it through the tracking server."""
        parts = urlsplit(directory)
        if parts.scheme != "mlflow-artifacts":
            raise MlflowError(
                f"The model files are stored at {directory}, which Assay reads only through "
                "the tracking server's artifact proxy (mlflow-artifacts:). Start the server with "
                "--serve-artifacts, or upload the ONNX file to the imported version by hand.")
        return f"{parts.path.strip('/')}/{name}"

    def model_flavors(self, directory: str) -> dict[str, dict[str, Any]]:
        """The ``flavors`` section of the model directory's MLmodel file."""
        path = self._artifact_path(directory, "MLmodel")
        text = self._get(f"/api/2.0/mlflow-artifacts/artifacts/{quote(path)}").text
        try:
            mlmodel = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MlflowError(f"The MLmodel file at {directory} is not valid YAML: {exc}") from exc
        flavors = mlmodel.get("flavors") if isinstance(mlmodel, dict) else None
        if not isinstance(flavors, dict):
            raise MlflowError(f"The MLmodel file at {directory} names no flavors.")
        return {str(k): (v if isinstance(v, dict) else {}) for k, v in flavors.items()}

    def download(self, directory: str, name: str, *, max_bytes: int) -> BinaryIO:
        """One file of the model directory, streamed to a temporary file and refused past
        ``max_bytes`` (the upload cap)."""
        path = self._artifact_path(directory, name)
        response = self._get(f"/api/2.0/mlflow-artifacts/artifacts/{quote(path)}", stream=True)
        out = tempfile.TemporaryFile()  # noqa: SIM115 — returned open; the caller closes it
        size = 0
        try:
            with response:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MlflowError(f"{name} at {directory} is larger than the "
                                          f"{max_bytes:,}-byte artifact limit.")
                    out.write(chunk)
        except requests.RequestException as exc:
            out.close()
            raise MlflowError(f"Reading {name} from {directory} broke off "
                              f"({type(exc).__name__}); import again.") from exc
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out
