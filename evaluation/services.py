"""Writes of the evaluation app: data sets, and runs from launch to their evidence.

Pages and the REST API call the same functions. A run's life:

* ``run_launch`` (a person) checks everything that can be checked before any work, freezes what
  the run will be computed on, and queues the task once the transaction commits;
* the task (evaluation.tasks, on a worker) calls ``run_execute``: ``run_claim`` takes the run
  with a lease (docs/evaluation.md), the engine computes while a heartbeat renews the lease and
  ``_Progress`` reports, and ``run_complete`` records the run's evidence, findings and audit
  event in one transaction — so a redelivered task never records twice;
* ``run_cancel`` (a person) stops it; ``run_reap`` (beat) hands runs whose worker died to a new
  task, or fails them as "worker lost" after ``EVALUATION_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, DomainError, ValidationFailed
from core.leases import Lease
from core.models import User
from evaluation import chunked, chunked_part2, engine, part2, sampled
from evaluation.metrics import MetricInputError
from evaluation.models import FINISHED, Dataset, Run, RunStatus
from evaluation.tables import (
    TableProblems,
    check_predictions,
    check_table,
    describe_columns,
    read_table,
    table_format,
)
from governance import gates
from governance import services as governance
from governance.models import CLOSED, EvidenceOrigin, EvidenceStatus, Severity
from registry import services as registry
from registry import storage
from registry.models import ModelVersion, RegisteredModel, Task
from registry.onnx_feed import FeedError

RUN_TASK = "evaluation.run_evaluation"
# Bounds on a run's options: enough for any real evaluation, not enough to wedge a worker.
OPTION_BOUNDS = {"seed": (0, 2**63 - 1), "n_bootstrap": (0, 5000),
                 "min_group_size": (1, 1_000_000), "n_bins": (2, 100), "shap_rows": (1, 5000)}


def run_queue(run_id: int) -> None:
    """Send the run's task to the broker (routed to the ``evaluations`` queue by settings).
    Services queue by name and never import the tasks module; tests replace this function."""
    current_app.send_task(RUN_TASK, args=[run_id])


RUN_LEASE = Lease(model=Run, state_field="status", queued=RunStatus.QUEUED,
                  running=RunStatus.RUNNING, lease_s_setting="EVALUATION_LEASE_S",
                  max_attempts_setting="EVALUATION_MAX_ATTEMPTS",
                  requeue_after_s_setting="EVALUATION_REQUEUE_AFTER_S")


# --- data sets ----------------------------------------------------------------------------------


def _clean_sensitive(features: Any) -> list[dict[str, Any]]:
    """``[{"column": name, "bins": {...} | None}]`` from what a form or the API sent."""
    if features in (None, ""):
        return []
    if not isinstance(features, list):
        raise ValidationFailed('Sensitive features are a list of {"column": name, "bins": '
                               '{"edges": [...], "labels": [...]} or null}.',
                               field="sensitive_features")
    out = []
    for item in features:
        if isinstance(item, str):
            item = {"column": item}
        if not isinstance(item, Mapping) or not isinstance(item.get("column"), str) \
                or not item["column"].strip() or set(item) - {"column", "bins"}:
            raise ValidationFailed('Each sensitive feature is {"column": name, "bins": '
                                   '{"edges": [...], "labels": [...]} or null}.',
                                   field="sensitive_features")
        out.append({"column": item["column"].strip(), "bins": item.get("bins")})
    return out


def _check_version_for(model: RegisteredModel, version: ModelVersion | None) -> ModelVersion:
    if version is None:
        version = model.versions.exclude(artifact_sha256="").order_by("-number").first()
    if version is None or version.model_id != model.pk:
        raise ValidationFailed("Upload a version's ONNX artifact first: a data set is checked "
                               "against the inputs the model takes.", field="version")
    if not version.has_artifact:
        raise ValidationFailed(f"Version {version.number} has no artifact yet; data is checked "
                               "against the artifact's inputs.", field="version")
    return version


def dataset_upload(*, actor: User, model: RegisteredModel, file: BinaryIO, filename: str,
                   name: str = "", label_column: str = "", sensitive_features: Any = None,
                   is_reference: bool = False, reference: Dataset | None = None,
                   version: ModelVersion | None = None,
                   predictions_column: str = "") -> Dataset:
    """Check a CSV or Parquet file against the model's version (by default its newest with an
    artifact) and store it, content-addressed; nothing is stored when anything is wrong.

    An evaluation data set needs its label column; ``sensitive_features`` lists the columns the
    bias check groups by, with bins for continuous ones (stored here, so every run groups the
    same way). A reference (training) data set needs only the model's inputs.

    A model with no ONNX form takes predictions files instead: the actual label, the model's
    own prediction per row (``predictions_column``: a score or the predicted label) and any
    sensitive columns; its outcomes analysis evaluates them (docs/no-artifact-models.md).
    """
    reason = permissions.reason_cannot_upload_dataset(actor, model)
    if reason:
        audit.refuse(actor, reason, attempted="dataset_upload", target=model)
    features = _clean_sensitive(sensitive_features)
    name = (name or filename or "data set").strip()[:200]
    if reference is not None and (reference.model_id != model.pk or not reference.is_reference):
        raise ValidationFailed("The reference must be a reference data set of the same model.",
                               field="reference")
    if is_reference and reference is not None:
        raise ValidationFailed("A reference data set has no reference of its own.",
                               field="reference")
    predictions_column = (predictions_column or "").strip()
    if model.has_onnx_form and predictions_column:
        raise ValidationFailed(f"{model.name} has an ONNX form: Assay scores its artifact itself. "
                               "Upload the evaluation data without a predictions column.",
                               field="predictions_column")
    if not model.has_onnx_form and (is_reference or reference is not None):
        raise ValidationFailed(f"{model.name} has no ONNX form, so there is no reference data "
                               "to compare its inputs with: upload a predictions file.",
                               field="is_reference")
    checked_against = _check_version_for(model, version) if model.has_onnx_form else None
    sha256, size = storage.sha256_of(file)
    if size == 0:
        raise ValidationFailed("The file is empty; choose the file again.", field="file")
    if size > settings.MAX_DATASET_BYTES:
        raise ValidationFailed(f"The file is {filesizeformat(size)}; data sets are limited to "
                               f"{filesizeformat(settings.MAX_DATASET_BYTES)} "
                               "(ASSAY_MAX_DATASET_MB).", field="file")
    file.seek(0)
    file_format = table_format(filename, file.read(4))
    try:
        frame = read_table(file, file_format)
        if checked_against is None:
            check_predictions(frame, task=model.task, label_column=label_column.strip(),
                              predictions_column=predictions_column,
                              favourable_class=model.favourable_class,
                              sensitive_features=features)
        else:
            check_table(frame, input_specs=checked_against.input_schema, task=model.task,
                        label_column=label_column.strip(),
                        favourable_class=model.favourable_class,
                        sensitive_features=features, needs_labels=not is_reference)
    except TableProblems as problems:
        against = f"version {checked_against.number} of the model" if checked_against \
            else "a predictions file"
        raise ValidationFailed(f"The data does not fit {against}: {problems.message}",
                               fields=problems.fields) from None
    storage.store(file, sha256)
    with transaction.atomic():
        dataset = Dataset.objects.create(
            model=model, name=name, is_reference=is_reference, reference=reference,
            filename=(filename or sha256)[:255], file_format=file_format, sha256=sha256,
            size=size, row_count=len(frame), columns=describe_columns(frame),
            label_column=label_column.strip(), sensitive_features=features,
            predictions_column=predictions_column, uploaded_by=actor)
        audit.record(action="evaluation.dataset_upload", actor=actor, obj=dataset, payload={
            "name": dataset.name, "filename": dataset.filename, "sha256": sha256, "size": size,
            "format": file_format, "rows": dataset.row_count, "label_column": dataset.label_column,
            "sensitive_features": features, "is_reference": is_reference,
            "reference": reference.sha256 if reference else None,
            "predictions_column": predictions_column,
            "checked_against_version": checked_against.number if checked_against else None})
    return dataset


# --- launching, cancelling ------------------------------------------------------------------


def _clean_options(options: Any) -> dict[str, int]:
    if options in (None, ""):
        options = {}
    if not isinstance(options, Mapping):
        raise ValidationFailed(f"Options are an object: {', '.join(OPTION_BOUNDS)}.",
                               field="options")
    unknown = sorted(set(options) - set(OPTION_BOUNDS))
    if unknown:
        raise ValidationFailed(f"Unknown options: {', '.join(unknown)}; use "
                               f"{', '.join(OPTION_BOUNDS)}.", field="options")
    clean = {k: v for k, v in engine.DEFAULT_OPTIONS.items() if k in OPTION_BOUNDS}
    for key, value in options.items():
        low, high = OPTION_BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(f"Option {key} is a whole number from {low} to {high}.",
                                   field="options")
        clean[key] = value
    return clean


def _clean_checks(checks: Any, model: RegisteredModel, dataset: Dataset) -> list[str]:
    if not isinstance(checks, list | tuple) or not checks or not all(
            isinstance(c, str) for c in checks):
        raise ValidationFailed(f"Choose at least one check among {', '.join(engine.RUN_CHECKS)}.",
                               field="checks")
    unknown = sorted(set(checks) - set(engine.RUN_CHECKS))
    if unknown:
        raise ValidationFailed(f"Unknown checks: {', '.join(unknown)}; choose among "
                               f"{', '.join(engine.RUN_CHECKS)}.", field="checks")
    if "bias" in checks and not dataset.sensitive_features:
        raise ValidationFailed(f"The bias check groups rows by sensitive features, and data set "
                               f"'{dataset.name}' names none; upload it with its sensitive "
                               "columns or leave bias out.", field="checks")
    if "calibration" in checks and model.task == Task.REGRESSION:
        raise ValidationFailed("Calibration needs predicted probabilities; a regression model "
                               "has none. Leave calibration out.", field="checks")
    for check in (c for c in part2.CHECKS if c in checks):
        tasks = part2.MODEL_TASKS[check]
        if model.task not in tasks:
            raise ValidationFailed(f"The {check} check is computed for "
                                   f"{' and '.join(t.replace('_', ' ') for t in tasks)} models; "
                                   f"this one is {model.get_task_display().lower()}. Leave "
                                   f"{check} out.", field="checks")
    if "drift" in checks and dataset.reference is None:
        raise ValidationFailed(f"The drift check compares the evaluation data with its reference "
                               f"(training) data, and data set '{dataset.name}' has none. Upload "
                               "the reference data set, then the evaluation data naming it as "
                               "its reference; or leave drift out.", field="checks")
    if "mitigation" in checks and not dataset.sensitive_features:
        raise ValidationFailed(f"The mitigation what-if sets thresholds per group of a sensitive "
                               f"feature, and data set '{dataset.name}' names none; upload it "
                               "with its sensitive columns or leave mitigation out.",
                               field="checks")
    return [c for c in engine.RUN_CHECKS if c in checks]


def _check_part2_inputs(version: ModelVersion, dataset: Dataset, checks: Sequence[str]) -> None:
    """What part 2's checks read besides the evaluation data, checked before any work: the
    reference data set's columns (drift) and the version's monotone features (robustness)."""
    reference = dataset.reference
    if "drift" in checks and reference is not None:
        missing = [spec["name"] for spec in version.input_schema
                   if spec["name"] not in reference.column_names]
        if missing:
            raise ValidationFailed(f"The reference data set '{reference.name}' lacks column(s) "
                                   f"{', '.join(map(repr, missing))}, which version "
                                   f"{version.number} takes as input; drift cannot compare "
                                   "them.", field="dataset")
    if "robustness" in checks:
        problem = registry.monotone_problems(version.monotone_features, version.input_schema)
        if problem:
            raise ValidationFailed(f"Version {version.number}'s monotone features no longer fit "
                                   f"its inputs: {problem} Correct them on the version.",
                                   field="monotone_features")


def mitigation_settings(version: ModelVersion) -> dict[str, Any]:
    """The what-if's constraint and disparity limit, from the thresholds the version's policy
    sets on bias: equalized odds against ``eo_difference`` when the policy bounds it, else
    demographic parity against ``dp_difference`` (or no limit)."""
    rules = gates.case_for(version).rules
    limits = {need.metric: need.threshold for need in (rules.required_evidence if rules else ())
              if need.check == "bias" and need.comparator == "<="
              and need.applies_to(version.model.task)}
    if limits.get("eo_difference") is not None:
        return {"constraint": "equalized_odds", "disparity_limit": limits["eo_difference"]}
    return {"constraint": "demographic_parity", "disparity_limit": limits.get("dp_difference")}


def run_launch(*, actor: User, version: ModelVersion, dataset: Dataset,
               checks: Sequence[str] = engine.DEFAULT_CHECKS, options: Any = None) -> Run:
    """Queue an evaluation of the version on the data set, with the model's favourable class and
    threshold as they are now. The task is sent once the transaction has committed."""
    case = gates.case_for(version)
    reason = permissions.reason_cannot_launch_evaluation(actor, case)
    if reason:
        audit.refuse(actor, reason, attempted="run_launch", target=version)
    model = version.model
    if dataset.model_id != model.pk:
        raise ValidationFailed("Choose a data set of this model.", field="dataset")
    if dataset.is_reference:
        raise ValidationFailed(f"'{dataset.name}' is a reference data set; evaluate on "
                               "evaluation data (with labels).", field="dataset")
    if not model.has_onnx_form:
        if not dataset.is_predictions:
            raise ValidationFailed(f"{model.name} has no ONNX form: evaluate it on a predictions "
                                   "file (its predictions beside the actual labels).",
                                   field="dataset")
        graph = [c for c in checks if c not in engine.PREDICTION_CHECKS]
        if graph:
            raise ValidationFailed(f"{', '.join(graph)}: not applicable without an artifact "
                                   f"(they run the model's graph, and {model.name} has no ONNX "
                                   f"form). Choose among {', '.join(engine.PREDICTION_CHECKS)}.",
                                   field="checks")
    elif dataset.is_predictions:
        raise ValidationFailed("This is a predictions file; Assay scores this model's artifact "
                               "itself. Choose evaluation data.", field="dataset")
    elif not version.has_artifact:
        raise ValidationFailed(f"Version {version.number} has no artifact to evaluate; upload "
                               "it first.", field="version")
    if version.state in CLOSED:
        raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}; it "
                       "is no longer evaluated.")
    missing = [spec["name"] for spec in version.input_schema
               if spec["name"] not in dataset.column_names]
    if missing:
        raise ValidationFailed(f"Data set '{dataset.name}' lacks column(s) "
                               f"{', '.join(map(repr, missing))}, which version {version.number} "
                               "takes as input.", field="dataset")
    checks = _clean_checks(list(checks), model, dataset)
    _check_part2_inputs(version, dataset, checks)
    clean_options = _clean_options(options)
    reference = dataset.reference
    with transaction.atomic():
        run = Run.objects.create(
            version=version, dataset=dataset, reference=reference,
            artifact_digest=version.artifact_sha256,
            dataset_digests=[dataset.sha256] + ([reference.sha256] if reference else []),
            checks=checks, policy_version=gates.policy_for(version),
            favourable_class=model.favourable_class if model.task != Task.REGRESSION else "",
            threshold=model.decision_threshold if model.task == Task.BINARY else None,
            options=clean_options, launched_by=actor)
        audit.record(action="evaluation.run_launch", actor=actor, obj=run, payload={
            "version": version.number, "dataset": dataset.sha256, "checks": checks,
            "artifact_digest": run.artifact_digest, "dataset_digests": run.dataset_digests,
            "favourable_class": run.favourable_class, "threshold": run.threshold,
            "options": clean_options,
            "policy_version": run.policy_version_id,
            "exploratory": bool(gates.launcher_conflict(actor, case))})
        # robust: with the broker down the launch still succeeds; the run waits as queued and
        # run_reap sends its task again once the broker is back.
        transaction.on_commit(lambda: run_queue(run.pk), robust=True)
    return run


def run_cancel(*, actor: User, run: Run) -> Run:
    """Stop a queued or running evaluation; a worker still computing it stops at its next
    step and records nothing."""
    case = gates.case_for(run.version)
    reason = permissions.reason_cannot_cancel_evaluation(actor, case, run.launched_by_id)
    if reason:
        audit.refuse(actor, reason, attempted="run_cancel", target=run)
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.status in FINISHED:
            raise Conflict(f"Run {locked.pk} is {locked.get_status_display().lower()} already; "
                           "only queued or running evaluations can be cancelled.")
        before = locked.status
        locked.status = RunStatus.CANCELLED
        locked.step = f"Cancelled by {actor.username}"
        locked.finished_at = timezone.now()
        locked.lease_expires_at = None
        locked.save(update_fields=["status", "step", "finished_at", "lease_expires_at"])
        audit.record(action="evaluation.run_cancel", actor=actor, obj=locked,
                     payload={"version": run.version.number, "status_before": before})
    return locked


# --- the worker's side --------------------------------------------------------------------------


class ConnectionLost(Exception):
    """The database went away while this worker held the run (attempt ``attempt``): transient.
    The task retries later and first hands the run back (``run_release``), so an outage never
    uses up the run's attempts nor fails it."""

    def __init__(self, run_id: int, attempt: int) -> None:
        super().__init__(f"the database connection was lost during attempt {attempt} of run "
                         f"{run_id}")
        self.run_id, self.attempt = run_id, attempt


def run_release(*, run_id: int, attempt: int) -> bool:
    """Give back a run whose attempt ``attempt`` lost its database connection: queued again, the
    attempt not counted. Nothing when another worker has taken it since. One audit event."""
    with transaction.atomic():
        if not Run.objects.filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt).update(
                status=RunStatus.QUEUED, attempts=attempt - 1, lease_expires_at=None,
                progress=0, step="Waiting: the database connection was lost",
                queued_at=timezone.now()):
            return False
        run = Run.objects.select_related("version").get(pk=run_id)
        audit.record(action="evaluation.run_release", actor=None, obj=run, payload={
            "version": run.version.number, "attempt": attempt,
            "reason": "database connection lost"})
    return True


class LeaseHeld(Exception):
    """Another worker holds the run's lease: try again once it may have run out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the run's lease is held for {seconds:.0f} s more")
        self.seconds = seconds


class RunStopped(Exception):
    """The run was cancelled, or taken over after this worker's lease ran out."""


def run_fail(run_id: int, *, error: str, attempt: int | None = None,
             expired_lease_only: bool = False) -> bool:
    """Mark the run failed with ``error`` (if it is still this attempt's, or its lease ran
    out); one audit event. Returns whether it did."""
    now = timezone.now()
    with transaction.atomic():
        rows = Run.objects.filter(pk=run_id, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
        if attempt is not None:
            rows = rows.filter(attempts=attempt)
        if expired_lease_only:
            rows = rows.filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
        if not rows.update(status=RunStatus.FAILED, error=error[:5000], finished_at=now,
                           lease_expires_at=None, step="Failed"):
            return False
        run = Run.objects.select_related("version").get(pk=run_id)
        audit.record(action="evaluation.run_fail", actor=None, obj=run, payload={
            "version": run.version.number, "attempts": run.attempts, "error": run.error})
    return True


def run_claim(*, run_id: int, task_id: str, worker: str) -> Run | None:
    """Take the run for this task: a queued run, or a running one whose lease has run out (its
    worker died). None when there is nothing to do (gone, finished, or failed now as "worker
    lost" after too many attempts); LeaseHeld when a live worker holds it."""
    now = timezone.now()
    with transaction.atomic():
        if RUN_LEASE.take(run_id, now=now, task_id=task_id[:64], worker=worker[:200]):
            run = Run.objects.select_related("version__model", "dataset", "launched_by").get(
                pk=run_id)
            audit.record(action="evaluation.run_start", actor=None, obj=run, payload={
                "version": run.version.number, "attempt": run.attempts, "worker": run.worker})
            return run
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status in FINISHED:
        return None
    if run.status == RunStatus.RUNNING and run.lease_expires_at and run.lease_expires_at >= now:
        raise LeaseHeld((run.lease_expires_at - now).total_seconds())
    run_fail(run_id, error=f"Worker lost: the run was started {run.attempts} times and its worker "
                        "stopped each time (killed, out of memory or restarted). Launch it "
                        "again; if it keeps failing, try a smaller data set.",
          expired_lease_only=True)
    return None


class _Progress:
    """Reports the engine's progress onto the run, and keeps the lease alive from a thread of
    its own while the engine computes (a long step must not let the lease run out under a
    live worker). Either notices when the run is no longer this attempt's: cancelled, or taken
    over by another worker after the lease ran out."""

    def __init__(self, run: Run) -> None:
        self.run_id, self.attempt = run.pk, run.attempts
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True,
                                        name=f"run-{run.pk}-lease")

    def __call__(self, percent: int, step: str) -> None:
        if self.lost.is_set() or not RUN_LEASE.renew(
                self.run_id, self.attempt, progress=max(1, min(99, percent)),
                step=step[:200]):
            self.lost.set()
            raise RunStopped()

    def _heartbeat(self) -> None:
        try:
            while not self._stop.wait(settings.EVALUATION_LEASE_S / 3):
                if not RUN_LEASE.renew(self.run_id, self.attempt):
                    self.lost.set()
                    return
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# Problems of the run's inputs: the run fails with the message (retrying cannot help).
INPUT_ERRORS = (engine.EngineError, MetricInputError, FeedError, TableProblems, ValueError,
                KeyError)


def chunked_run(task: str, size: int) -> bool:
    """Whether a run is evaluated in chunks: a data set above ``EVALUATION_CHUNKED_ABOVE_BYTES``,
    whatever the model's task (binary, multiclass, regression)."""
    return size > settings.EVALUATION_CHUNKED_ABOVE_BYTES


def run_execute(*, run_id: int, task_id: str, worker: str) -> str:
    """The task's body: claim, compute, record. Returns what happened (``succeeded``,
    ``failed``, ``stopped``, ``nothing to do``). Raises LeaseHeld (retry later) and transient
    errors (database, broker: the task retries)."""
    run = run_claim(run_id=run_id, task_id=task_id, worker=worker)
    if run is None:
        return "nothing to do"
    try:
        return _execute(run)
    except (OperationalError, InterfaceError) as exc:
        raise ConnectionLost(run.pk, run.attempts) from exc


def _execute(run: Run) -> str:
    version, dataset, reference = run.version, run.dataset, run.reference
    part2_checks = [c for c in run.checks if c in part2.CHECKS]
    if dataset.is_predictions:
        return _execute_predictions(run)
    try:
        with _Progress(run) as progress, contextlib.ExitStack() as files:
            with storage.open_stored(version.artifact_sha256) as f:
                model_bytes = f.read()
            data = files.enter_context(storage.open_stored(dataset.sha256))
            inputs = {"artifact_digest": run.artifact_digest,
                      "dataset_digests": run.dataset_digests}
            if chunked_run(version.model.task, dataset.size) \
                    and set(part2_checks) <= {*chunked_part2.CHECKS, *sampled.CHECKS}:
                # Robustness and drift merge across chunks; explanations and the mitigation
                # what-if work on seeded samples gathered from the chunks.
                reference_frame = None
                if reference is not None and {"drift", "explainability"} & set(part2_checks):
                    with storage.open_stored(reference.sha256) as ref:
                        reference_frame = read_table(ref, reference.file_format)
                outcome = chunked.evaluate_chunked(
                    model_bytes=model_bytes, input_specs=version.input_schema,
                    task=version.model.task, data=data, file_format=dataset.file_format,
                    label_column=dataset.label_column, favourable_class=run.favourable_class,
                    threshold=run.threshold, checks=run.checks,
                    sensitive_features=dataset.sensitive_features, options=run.options,
                    inputs=inputs, report=progress, chunk_rows=settings.EVALUATION_CHUNK_ROWS,
                    reference=reference_frame,
                    monotone=version.monotone_features if "robustness" in part2_checks
                    else None,
                    mitigation=mitigation_settings(version) if "mitigation" in part2_checks
                    else None)
            else:
                # The reference data: what drift compares with, and the SHAP background.
                reference_file = None
                if reference is not None and {"drift", "explainability"} & set(part2_checks):
                    reference_file = (files.enter_context(storage.open_stored(reference.sha256)),
                                      reference.file_format)
                outcome = engine.load_and_evaluate(
                    model_bytes=model_bytes, input_specs=version.input_schema,
                    task=version.model.task, data=data, file_format=dataset.file_format,
                    label_column=dataset.label_column, favourable_class=run.favourable_class,
                    threshold=run.threshold, checks=run.checks,
                    sensitive_features=dataset.sensitive_features, options=run.options,
                    inputs=inputs, reference=reference_file,
                    monotone=version.monotone_features if "robustness" in part2_checks else None,
                    mitigation=mitigation_settings(version) if "mitigation" in part2_checks
                    else None, report=progress)
            progress(95, "Recording the evidence")
    except RunStopped:
        return "stopped"
    except INPUT_ERRORS as exc:
        run_fail(run.pk, attempt=run.attempts, error=str(exc) or type(exc).__name__)
        return "failed"
    return _record(run, outcome)


def _execute_predictions(run: Run) -> str:
    """An outcomes analysis: the checks computed on a predictions file, no graph to run."""
    dataset = run.dataset
    try:
        with _Progress(run) as progress, storage.open_stored(dataset.sha256) as data:
            outcome = engine.load_and_evaluate_predictions(
                data=data, file_format=dataset.file_format, task=run.version.model.task,
                label_column=dataset.label_column, predictions_column=dataset.predictions_column,
                favourable_class=run.favourable_class, threshold=run.threshold,
                checks=run.checks, sensitive_features=dataset.sensitive_features,
                options=run.options, inputs={"artifact_digest": run.artifact_digest,
                                             "dataset_digests": run.dataset_digests},
                report=progress)
            progress(95, "Recording the evidence")
    except RunStopped:
        return "stopped"
    except INPUT_ERRORS as exc:
        run_fail(run.pk, attempt=run.attempts, error=str(exc) or type(exc).__name__)
        return "failed"
    return _record(run, outcome)


def _record(run: Run, outcome: engine.Outcome) -> str:
    """Record the computed outcome as the run's evidence (``run_complete``); the run fails with
    the reason when the version was closed meanwhile or the evidence is refused."""
    try:
        done = run_complete(run_id=run.pk, attempt=run.attempts, outcome=outcome)
    except DomainError as exc:
        run_fail(run.pk, attempt=run.attempts, error=exc.message)
        return "failed"
    return "succeeded" if done else "stopped"


def run_url(run: Run) -> str:
    return reverse("evaluation:run-detail", args=[run.pk])


def run_complete(*, run_id: int, attempt: int, outcome: engine.Outcome) -> bool:
    """Record a finished computation, once: in one transaction the run's results, one evidence
    record per check (with the status the bound policy gives its figures), a finding for each
    failing check, and one audit event. Only the attempt that holds the run records; a stale or
    duplicate worker, or a cancelled run, records nothing (returns False)."""
    with transaction.atomic():
        run = (Run.objects.select_for_update().select_related("version__model", "launched_by")
               .filter(pk=run_id).first())
        if run is None or run.status != RunStatus.RUNNING or run.attempts != attempt:
            return False
        version = run.version
        case = gates.case_for(version)
        verdicts: dict[str, dict[str, Any]] = {}
        for check in outcome.checks:
            figures = {k: v for k, v in check.figures.items()
                       if v is None or math.isfinite(v)}
            verdict = gates.check_verdict(version, check.name, figures, case)
            governance.evidence_record(
                version=version, check=check.name, status=verdict.status, figures=figures,
                digest=check.digest, source_url=run_url(run), actor=None,
                artifact_digest=run.artifact_digest, dataset_digests=run.dataset_digests,
                origin=EvidenceOrigin.RUN, launched_by=run.launched_by)
            verdicts[check.name] = {"status": str(verdict.status),
                                    "reasons": list(verdict.reasons)}
            if verdict.status == EvidenceStatus.FAILED:
                governance.finding_raise_from_check(
                    version=version, check=check.name, severity=Severity.HIGH,
                    title=f"The {check.name} check failed",
                    description=f"Evaluation run {run.pk} on data set {run.dataset_digests[0]}: "
                                + "; ".join(verdict.reasons),
                    figures={k: v for k, v in figures.items() if "[" not in k})
        now = timezone.now()
        run.status, run.progress, run.step = RunStatus.SUCCEEDED, 100, "Done"
        run.results, run.results_digest = outcome.results, outcome.digest
        run.verdicts, run.library_versions = verdicts, engine.library_versions()
        run.finished_at, run.lease_expires_at = now, None
        run.save(update_fields=["status", "progress", "step", "results", "results_digest",
                                "verdicts", "library_versions", "finished_at",
                                "lease_expires_at"])
        audit.record(action="evaluation.run_complete", actor=None, obj=run, payload={
            "version": version.number, "attempt": attempt, "results_digest": outcome.digest,
            "checks": {c.name: c.digest for c in outcome.checks},
            "statuses": {k: v["status"] for k, v in verdicts.items()},
            "launched_by": run.launched_by.username})
    return True


def run_reap() -> dict[str, int]:
    """Runs whose worker stopped renewing the lease: queued again for another worker to take
    over, or failed as "worker lost" once they used their attempts. Runs still queued
    ``EVALUATION_REQUEUE_AFTER_S`` after their task was sent (the broker was down at launch, or
    lost the message) have it sent again; a duplicate finds the run taken and does nothing.
    Called by beat."""
    now = timezone.now()
    resent = RUN_LEASE.resend_waiting(run_queue, now)
    requeued = failed = 0
    for pk, attempts in RUN_LEASE.expired(now):
        if attempts >= settings.EVALUATION_MAX_ATTEMPTS:
            failed += run_fail(pk, error=f"Worker lost: the run was started {attempts} times and "
                                      "its worker stopped each time. Launch it again.",
                            expired_lease_only=True)
        else:
            run_queue(pk)
            requeued += 1
    return {"requeued": requeued, "failed": failed, "resent": resent}
