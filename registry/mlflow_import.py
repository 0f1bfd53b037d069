"""Importing an MLflow model registry into the inventory.

Each MLflow registered model becomes an Assay model of the chosen team, and each of its READY
versions a draft version, with its provenance kept (``MlflowSource``, ``MlflowVersionSource``).
A version with the ONNX flavor brings its ``.onnx`` file, checked like any upload (a refused
file imports nothing for that version and says why); any other flavor comes without an artifact
and with how to convert it. Importing again adds only what is new. A dry run reads the same and
writes nothing.

Imported versions are drafts whatever their MLflow stage: "Production" there is the developer's
word, not a validation here, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from core import audit, permissions
from core.audit import refuse
from core.errors import DomainError, ValidationFailed
from core.models import Team, User
from registry import services
from registry.mlflow import (
    MlflowError,
    MlflowModel,
    MlflowRegistry,
    MlflowVersion,
    in_production,
)
from registry.models import (
    DecisionType,
    MlflowSource,
    MlflowVersionSource,
    ModelVersion,
    RegisteredModel,
    Task,
)

# How to bring a flavor to ONNX, by MLflow flavor name; the first flavor a model has wins.
CONVERSION_HINTS = {
    "sklearn": "Convert it with skl2onnx (skl2onnx.to_onnx(model, X[:1])) and upload the .onnx "
               "file to this version.",
    "xgboost": "Convert it with onnxmltools (onnxmltools.convert_xgboost) and upload the .onnx "
               "file to this version.",
    "lightgbm": "Convert it with onnxmltools (onnxmltools.convert_lightgbm) and upload the .onnx "
                "file to this version.",
    "catboost": "Save it with model.save_model('model.onnx', format='onnx') and upload the file "
                "to this version.",
    "pytorch": "Export it with torch.onnx.export(model, example_input, 'model.onnx') and upload "
               "the file to this version.",
    "tensorflow": "Convert it with tf2onnx (python -m tf2onnx.convert --saved-model DIR --output "
                  "model.onnx) and upload the file to this version.",
    "keras": "Convert it with tf2onnx (tf2onnx.convert.from_keras) and upload the .onnx file to "
             "this version.",
}
GENERIC_HINT = ("Export the model to ONNX with the converter for its framework (see "
                "https://onnx.ai/supported-tools) and upload the .onnx file to this version.")
# Flavors every model has beside its own; they say nothing about how to convert it.
GENERIC_FLAVORS = {"python_function"}


@dataclass
class ImportLine:
    """One thing the import did, or would do in a dry run, or refused."""

    registered_model: str
    action: str  # "create model", "create version", "already imported", "skip", "refuse"
    detail: str
    mlflow_version: int | None = None
    assay_model: str = ""
    assay_version: int | None = None


@dataclass
class ImportReport:
    tracking_uri: str
    dry_run: bool
    lines: list[ImportLine] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for line in self.lines if line.action == action)

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (f"{verb} {self.count('create model')} model(s) and "
                f"{self.count('create version')} version(s); "
                f"{self.count('already imported')} already imported, "
                f"{self.count('skip')} skipped, {self.count('refuse')} refused.")

    def as_dict(self) -> dict[str, Any]:
        return {"tracking_uri": self.tracking_uri, "dry_run": self.dry_run,
                "summary": self.summary(), "lines": [asdict(line) for line in self.lines]}


Progress = Callable[[int, int, str], None]


def conversion_hint(flavors: Iterable[str]) -> str:
    for flavor in flavors:
        if flavor in CONVERSION_HINTS:
            return CONVERSION_HINTS[flavor]
    return GENERIC_HINT


def _choice(value: str, choices: list[str], what: str, tag: str, option: str) -> str:
    if value not in choices:
        raise ValidationFailed(
            f"The {what} is {value!r}, not one of {', '.join(choices)}. Tag the registered "
            f"model {tag}=… in MLflow or give {option}.", field=option.lstrip("-").replace("-", "_"))
    return value


def _model_fields(mlflow_model: MlflowModel, tracking_uri: str, task: str,
                  decision_type: str) -> dict[str, Any]:
    """The new Assay model's fields: MLflow's description as its purpose, the task and decision
    type from the ``assay.task`` / ``assay.decision_type`` tags or the import's defaults."""
    tags = mlflow_model.tags
    purpose = mlflow_model.description.strip() or (
        f"Imported from MLflow ({tracking_uri}, registered model {mlflow_model.name}) without "
        "a description. Write the model's purpose here before submitting it for validation.")
    return {
        "name": mlflow_model.name[:200],
        "purpose": purpose,
        "task": _choice(tags.get("assay.task", task), list(Task.values), "task", "assay.task",
                        "--task"),
        "decision_type": _choice(tags.get("assay.decision_type", decision_type),
                                 list(DecisionType.values), "decision type",
                                 "assay.decision_type", "--decision-type"),
    }


def _changelog(version: MlflowVersion, tracking_uri: str) -> str:
    lines = [f"Imported from MLflow: {version.registered_model} version {version.version} "
             f"at {tracking_uri} (stage {version.stage}"
             + (f", aliases {', '.join(version.aliases)}" if version.aliases else "") + ")."]
    if version.description.strip():
        lines.append(version.description.strip())
    return "\n".join(lines)


def _version_source(version: MlflowVersion, directory: str, flavors: list[str], hint: str,
                    metrics: dict[str, float]) -> dict[str, Any]:
    return {"mlflow_version": version.number, "source_uri": version.source[:1000],
            "model_directory": directory[:1000], "run_id": version.run_id[:64],
            "stage": version.stage[:32], "aliases": version.aliases, "tags": version.tags,
            "run_metrics": metrics, "flavors": flavors, "conversion_hint": hint}


class _Importer:
    def __init__(self, *, actor: User, registry: MlflowRegistry, team: Team, owner: User | None,
                 task: str, decision_type: str, dry_run: bool, progress: Progress | None) -> None:
        self.actor, self.registry, self.team, self.owner = actor, registry, team, owner
        self.task, self.decision_type, self.dry_run = task, decision_type, dry_run
        self.progress = progress or (lambda done, total, step: None)
        self.report = ImportReport(tracking_uri=registry.tracking_uri, dry_run=dry_run)

    def line(self, model: MlflowModel, action: str, detail: str, **extra: Any) -> None:
        self.report.lines.append(ImportLine(registered_model=model.name, action=action,
                                            detail=detail, **extra))

    def run(self, names: list[str] | None) -> ImportReport:
        found = self.registry.registered_models()
        if names:
            known = {m.name for m in found}
            missing = [n for n in names if n not in known]
            if missing:
                raise ValidationFailed(
                    f"The MLflow server has no registered model named {', '.join(missing)}. It "
                    f"has: {', '.join(sorted(known)) or 'none'}.", field="models")
            found = [m for m in found if m.name in names]
        for done, mlflow_model in enumerate(found):
            self.progress(done, len(found), f"Reading {mlflow_model.name}")
            try:
                self.import_model(mlflow_model)
            except DomainError as exc:
                self.line(mlflow_model, "refuse", exc.message)
        self.progress(len(found), len(found), "Done")
        return self.report

    def import_model(self, mlflow_model: MlflowModel) -> None:
        uri = self.registry.tracking_uri
        source = (MlflowSource.objects.select_related("model")
                  .filter(tracking_uri=uri, registered_model=mlflow_model.name).first())
        if source is None:
            slug = slugify(mlflow_model.name)[:100]
            taken = RegisteredModel.objects.filter(slug=slug).first()
            if taken is not None:
                self.line(mlflow_model, "refuse",
                          f"The inventory already has a model with the slug {slug!r} that was "
                          "not imported from this MLflow server. Rename one of them, then "
                          "import again.")
                return
            fields = _model_fields(mlflow_model, uri, self.task, self.decision_type)
            self.line(mlflow_model, "create model", f"{fields['task']}, {fields['decision_type']}"
                      f", team {self.team.slug}", assay_model=slug)
            model = None if self.dry_run else self.create_model(mlflow_model, fields, slug)
            imported: set[int] = set()
        else:
            model = source.model
            imported = set(source.versions.values_list("mlflow_version", flat=True))
        for version in self.registry.versions(mlflow_model):
            if version.number in imported:
                self.line(mlflow_model, "already imported", "", mlflow_version=version.number,
                          assay_model=model.slug if model else "")
            elif version.status != "READY":
                self.line(mlflow_model, "skip", f"Its status in MLflow is {version.status}; "
                          "import again once it is READY.", mlflow_version=version.number)
            else:
                try:
                    self.import_version(mlflow_model, model, version)
                except DomainError as exc:  # e.g. a refused artifact: the other versions go on
                    self.line(mlflow_model, "refuse", exc.message, mlflow_version=version.number,
                              assay_model=model.slug if model else "")

    def create_model(self, mlflow_model: MlflowModel, fields: dict[str, Any],
                     slug: str) -> RegisteredModel:
        with transaction.atomic():
            model = services.model_create(actor=self.actor, team=self.team, slug=slug,
                                          owner=self.owner, **fields)
            source = MlflowSource.objects.create(
                model=model, tracking_uri=self.registry.tracking_uri,
                registered_model=mlflow_model.name, description=mlflow_model.description,
                tags=mlflow_model.tags)
            audit.record(action="model.import_mlflow", actor=self.actor, obj=model, payload={
                "tracking_uri": source.tracking_uri, "registered_model": mlflow_model.name,
                "tags": mlflow_model.tags})
        return model

    def import_version(self, mlflow_model: MlflowModel, model: RegisteredModel | None,
                       version: MlflowVersion) -> None:
        directory = self.registry.model_directory(version)
        try:
            flavors = self.registry.model_flavors(directory)
        except MlflowError as exc:
            flavors, unreadable = {}, exc.message
        else:
            unreadable = ""
        names = sorted(flavors)
        own = [f for f in names if f not in GENERIC_FLAVORS]
        onnx_file = str((flavors.get("onnx") or {}).get("data") or "model.onnx") \
            if "onnx" in flavors else ""
        hint = "" if onnx_file else (unreadable or conversion_hint(own))
        production = " It is in production in MLflow but not validated here." \
            if in_production(version.stage, version.aliases) else ""
        detail = (f"with its ONNX artifact {onnx_file}" if onnx_file else
                  f"without an artifact (flavor {', '.join(own) or 'unknown'}): {hint}") \
            + production
        if self.dry_run or model is None:
            self.line(mlflow_model, "create version", detail, mlflow_version=version.number,
                      assay_model=model.slug if model else slugify(mlflow_model.name)[:100])
            return
        artifact = (self.registry.download(directory, onnx_file,
                                           max_bytes=settings.MAX_ARTIFACT_BYTES)
                    if onnx_file else None)
        metrics = self.registry.run_metrics(version.run_id)
        try:
            with transaction.atomic():
                created = services.version_create(
                    actor=self.actor, model=model, changelog=_changelog(version, self.registry
                                                                       .tracking_uri),
                    artifact=artifact, artifact_filename=onnx_file.rsplit("/", 1)[-1])
                provenance = _version_source(version, directory, names, hint, metrics)
                MlflowVersionSource.objects.create(version=created,
                                                   source=model.mlflow_source, **provenance)
                audit.record(action="version.import_mlflow", actor=self.actor, obj=created,
                             payload={"registered_model": mlflow_model.name,
                                      "tracking_uri": self.registry.tracking_uri,
                                      "artifact_sha256": created.artifact_sha256,
                                      **provenance})
        except IntegrityError:  # a concurrent import took this MLflow version first
            self.line(mlflow_model, "already imported", "by an import running at the same time",
                      mlflow_version=version.number, assay_model=model.slug)
            return
        finally:
            if artifact is not None:
                artifact.close()
        self.line(mlflow_model, "create version", detail, mlflow_version=version.number,
                  assay_model=model.slug, assay_version=created.number)


def import_from_mlflow(*, actor: User, tracking_uri: str, team: Team, owner: User | None = None,
                       task: str = "", decision_type: str = "", models: list[str] | None = None,
                       dry_run: bool = False, token: str = "",
                       progress: Progress | None = None) -> ImportReport:
    """Import the registered models of the MLflow server at ``tracking_uri`` (all, or those
    named in ``models``) into ``team``. ``task`` and ``decision_type`` apply where MLflow's
    ``assay.task`` / ``assay.decision_type`` tags do not say. A model that cannot be imported
    (a taken slug, a missing task, a refused artifact) is reported and the others go on."""
    if not permissions.can_create_model(actor, team):
        refuse(actor, f"Only administrators and data scientists of the team {team.name} can "
                      "import models into it.", attempted="import_mlflow", target=team)
    registry = MlflowRegistry(tracking_uri, token=token)
    return _Importer(actor=actor, registry=registry, team=team, owner=owner, task=task,
                     decision_type=decision_type, dry_run=dry_run,
                     progress=progress).run(models)


def imported_version(version: ModelVersion) -> MlflowVersionSource | None:
    """The version's MLflow provenance, if it was imported."""
    return MlflowVersionSource.objects.select_related("source").filter(version=version).first()
