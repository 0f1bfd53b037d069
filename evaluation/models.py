"""Evaluation data sets and runs: what a validator scores a version on, and each scoring."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from governance.models import PolicyVersion
from registry.models import ModelVersion, RegisteredModel


class DatasetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


class DatasetQuerySet(models.QuerySet):
    def visible_to(self, user) -> DatasetQuerySet:
        """Data sets of the models the user may see (anything else answers 404)."""
        return self.filter(model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def filenames_of(self, version: ModelVersion, digests: list[str]) -> dict[str, str]:
        """The file name of each of the version's model's data sets among ``digests`` (SHA-256
        -> name): how the approval attestation of a version with no artifact names them."""
        return dict(self.filter(model_id=version.model_id, sha256__in=digests)
                    .order_by("-uploaded_at", "-pk").values_list("sha256", "filename"))


class Dataset(models.Model):
    """A file of rows a model is evaluated on, reusable across the model's versions.

    The file is stored content-addressed under ``sha256`` (registry.storage) and never changes.
    ``sensitive_features`` is a list of ``{"column": name, "bins": {"edges": [...], "labels":
    [...]} | null}``: continuous columns are grouped by the bins stored here, so every run on
    this data set groups the rows the same way. A reference (training) data set has no label
    requirement and no sensitive features of its own; an evaluation data set may name one.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    is_reference = models.BooleanField(
        default=False, help_text="A reference (training) data set rather than evaluation data.")
    # Data sets are deleted only with their model (a draft-only model recorded by mistake), and
    # then together with everything that points at them: CASCADE, not PROTECT, which would
    # refuse that deletion although the runs go with it.
    reference = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="+",
                                  help_text="The reference (training) data set, if any.")
    filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10, choices=DatasetFormat.choices)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    columns = models.JSONField(default=list, help_text="[{name, dtype}] in file order.")
    label_column = models.CharField(max_length=200, blank=True)
    # A predictions file (a model with no ONNX form): the column holding the model's own
    # prediction per row (a score or a predicted label), evaluated instead of running a graph.
    predictions_column = models.CharField(max_length=200, blank=True)
    sensitive_features = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def is_predictions(self) -> bool:
        """A file of the model's own predictions with the actual labels (outcomes analysis)."""
        return bool(self.predictions_column)

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    @property
    def sensitive_columns(self) -> list[str]:
        return [f["column"] for f in self.sensitive_features]


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A run in one of these states will not change again.
FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class RunQuerySet(models.QuerySet):
    def visible_to(self, user) -> RunQuerySet:
        return self.filter(version__in=ModelVersion.objects.visible_to(user).values("pk"))


class Run(models.Model):
    """One evaluation of a version on a data set: queued by a person, carried out by a worker.

    What it was computed on is frozen at launch (the artifact digest, the data sets' digests, the
    favourable class, threshold and settings), so a result can always be traced to its inputs.
    A worker takes the run with a lease (``lease_expires_at``) that it renews while working; a
    redelivered task may take a run over only once the lease has run out (evaluation.services).
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                related_name="evaluation_runs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="runs")
    reference = models.ForeignKey(Dataset, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="+")
    artifact_digest = models.CharField(max_length=64)
    dataset_digests = models.JSONField(default=list, help_text="Evaluation, then reference.")
    checks = models.JSONField(default=list)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+")
    favourable_class = models.CharField(max_length=100, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    options = models.JSONField(default=dict, help_text="Seed, bootstrap replicates, bins...")
    status = models.CharField(max_length=10, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    results = models.JSONField(null=True, blank=True)
    results_digest = models.CharField(max_length=64, blank=True)
    verdicts = models.JSONField(default=dict, blank=True,
                                help_text="Per check, the status the bound policy gave its "
                                          "figures and why: {check: {status, reasons}}.")
    library_versions = models.JSONField(default=dict, blank=True)
    launched_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now, help_text=(
        "When its task was last sent to the broker; a run still queued long after is sent "
        "again (evaluation.services.run_reap)."))
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="run_status_lease")]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RunChunk(models.Model):
    """The sums of one chunk of a run fanned out to several workers (evaluation/fanout.py), kept
    until the run's chunks are merged. One row per (run, attempt, stage, chunk): a chunk task
    delivered twice writes nothing the second time, and the run's progress counts these rows.
    ``index`` -1 holds the merged first stage, written once by whichever merge gets there
    first."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks")
    attempt = models.PositiveSmallIntegerField()
    stage = models.PositiveSmallIntegerField()
    index = models.IntegerField()
    sums = models.BinaryField()
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "attempt", "stage", "index"],
                                               name="run_chunk_once")]

    def __str__(self) -> str:
        return f"chunk {self.index} (stage {self.stage}) of run {self.run_id}"


class RowExplanationQuerySet(models.QuerySet):
    def visible_to(self, user) -> RowExplanationQuerySet:
        return self.filter(run__in=Run.objects.visible_to(user).values("pk"))


class RowExplanation(models.Model):
    """One row of a run's evaluation data explained (SHAP) on a worker, as the run explains.

    Asked for by a person (``evaluation.explanations.explanation_request``), computed by a
    worker with the same lease as a run, polled by the run page. The result is bound to what it
    was computed on: the version's artifact digest and the data sets' digests, copied from the
    run. ``row`` is the row's number in the file, 1 = the first row under the header.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="row_explanations")
    row = models.PositiveIntegerField()
    artifact_digest = models.CharField(max_length=64)
    dataset_digests = models.JSONField(default=list, help_text="Evaluation, then reference.")
    status = models.CharField(max_length=10, choices=RunStatus.choices,
                              default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    result_digest = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RowExplanationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"],
                                name="row_explanation_status_lease")]

    def __str__(self) -> str:
        return f"row {self.row} of {self.run}"

    @property
    def audit_model_id(self) -> int:
        return self.run.version.model_id

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED
