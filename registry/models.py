"""The model inventory: every model the organisation runs, its versions and their artifacts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core import permissions, signing
from core.models import Team
from core.models.signing import SigningKey


class DecisionType(models.TextChoices):
    CREDIT = "credit", "Credit"
    PRICING = "pricing", "Pricing"
    FRAUD = "fraud", "Fraud"
    MARKETING = "marketing", "Marketing"
    HR = "hr", "HR"
    CLINICAL = "clinical", "Clinical"
    OTHER = "other", "Other"


class Task(models.TextChoices):
    BINARY = "binary_classification", "Binary classification"
    MULTICLASS = "multiclass_classification", "Multiclass classification"
    REGRESSION = "regression", "Regression"


class Sourcing(models.TextChoices):
    IN_HOUSE = "in_house", "In-house"
    VENDOR = "vendor", "Vendor"


class ArtifactForm(models.TextChoices):
    """What form the model itself takes: an ONNX graph Assay can run and serve, or one it can
    only validate on its outputs (uploaded predictions) and documentation."""

    ONNX = "onnx", "ONNX graph"
    SCORECARD = "scorecard", "Scorecard table"
    SAS = "sas", "SAS program"
    R = "r", "R model"
    SPREADSHEET = "spreadsheet", "Spreadsheet"
    VENDOR_API = "vendor_api", "Hosted vendor API"
    OTHER = "other", "Other (no ONNX form)"
class EntryKind(models.TextChoices):
    """What an inventory entry is: a model, or a tool that is not one (a spreadsheet, an
    end-user computing tool, a rules engine) kept in the inventory of record. Governance's
    intake decides it ("is it a model?")."""

    MODEL = "model", "Model"
    TOOL = "tool", "Non-model tool"


class VersionState(models.TextChoices):
    """A version's place in the lifecycle (transitions: governance)."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_VALIDATION = "in_validation", "In validation"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"
    RETIRED = "retired", "Retired"


class ChangeClass(models.TextChoices):
    """How much a new version changes the model (the policy defines each; governance decides
    what a minor change must show)."""

    MINOR = "minor", "Minor change"
    MAJOR = "major", "Major change"


class DataSourceQuerySet(models.QuerySet):
    def visible_to(self, user) -> DataSourceQuerySet:
        """The catalogue is open to every signed-in user (which models use a source is scoped
        to the models they may see)."""
        return self if permissions.is_authenticated(user) else self.none()


class DataSource(models.Model):
    """A data source models are built on or fed from (a warehouse table, a bureau feed), shared
    between models so that "which models use this data?" has an answer."""

    name = models.CharField(max_length=200, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="owned_data_sources",
                              help_text="Who answers for the data: its quality, access, changes.")
    system = models.CharField(max_length=200, blank=True,
                              help_text="The system of record holding it, e.g. 'EDW' or "
                                        "'Experian feed'.")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DataSourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RegisteredModelQuerySet(models.QuerySet):
    def visible_to(self, user) -> RegisteredModelQuerySet:
        """Models the user may see; everything else answers 404 (core.permissions.can_view)."""
        if permissions.sees_everything(user):
            return self
        if not permissions.is_authenticated(user):
            return self.none()
        developer = RegisteredModel.developers.through.objects.filter(
            registeredmodel_id=OuterRef("pk"), user_id=user.pk
        )
        assignee = RegisteredModel.assignees.through.objects.filter(
            registeredmodel_id=OuterRef("pk"), user_id=user.pk
        )
        return self.filter(Q(team_id__in=user.team_ids) | Q(owner_id=user.pk)
                           | Exists(developer) | Exists(assignee))


class RegisteredModel(models.Model):
    """One model in the inventory (or a non-model tool recorded for completeness)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    purpose = models.TextField()
    intended_use = models.TextField(blank=True)
    intended_users = models.TextField(blank=True)
    restrictions = models.TextField("restrictions on use", blank=True)
    business_line = models.CharField(max_length=100, blank=True)
    # The group company the model is used in; with the business line it picks the governance
    # policy that applies (governance.policy_scope).
    legal_entity = models.CharField(max_length=100, blank=True)
    decision_type = models.CharField(max_length=20, choices=DecisionType.choices)
    task = models.CharField(max_length=32, choices=Task.choices)
    sourcing = models.CharField(max_length=10, choices=Sourcing.choices, default=Sourcing.IN_HOUSE)
    # Kept by governance.services.intake_record from the intake's "is it a model?".
    kind = models.CharField(max_length=10, choices=EntryKind.choices, default=EntryKind.MODEL)
    # Classifiers: the favourable (positive) outcome, as it is spelled in the label column, and
    # the score at or above which a row is predicted favourable. Evaluation runs use both.
    favourable_class = models.CharField(
        max_length=100, default="1", blank=True,
        help_text="The favourable (positive) class as spelled in the label column, e.g. 1 or "
                  "'good'. Classifiers only.")
    decision_threshold = models.FloatField(
        default=0.5, help_text="A row is predicted favourable when its score is at or above "
                               "this (binary classifiers).")
    vendor_name = models.CharField(max_length=200, blank=True)
    artifact_form = models.CharField(
        max_length=12, choices=ArtifactForm.choices, default=ArtifactForm.ONNX,
        help_text="ONNX, or the form of a model with no ONNX artifact (validated on uploaded "
                  "predictions and documentation, never served by Assay's gateway).")
    # A vendor model's contract and service level, and the plan if the vendor fails or leaves.
    contract_reference = models.CharField(max_length=200, blank=True)
    contract_start = models.DateField(null=True, blank=True)
    contract_end = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    sla_terms = models.TextField("SLA terms", blank=True)
    contingency_plan = models.TextField(
        "contingency and exit plan", blank=True,
        help_text="What the business does if the vendor's model fails, changes or is withdrawn.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="owned_models")
    developers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                        related_name="developed_models")
    # People assigned to work on the model from outside its team (validators, reviewers): they
    # see it although it is not their team's. Governance's assignment services maintain this.
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                       related_name="assigned_models")
    known_limitations = models.TextField(blank=True)
    upstream_models = models.ManyToManyField("self", symmetrical=False, blank=True,
                                             related_name="downstream_models")
    # Free text from before data sources were entities (kept as notes; migration 0010 made an
    # entity of each line and linked it): the links below are the record.
    data_sources = models.TextField("data source notes", blank=True,
                                    help_text="Notes on the data used, beyond the linked sources.")
    linked_data_sources = models.ManyToManyField(DataSource, blank=True, related_name="models")
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    # The highest version number ever given, so a deleted draft's number is never reused.
    last_version_number = models.PositiveIntegerField(default=0)
    # The state of the newest version, kept by the services so the list filters without joins.
    status = models.CharField(max_length=20, choices=VersionState.choices, default=VersionState.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name", "id"], name="model_name_id"),
            models.Index(fields=["team", "name"], name="model_team_name"),
            models.Index(fields=["status", "name"], name="model_status_name"),
            models.Index(fields=["decision_type", "name"], name="model_decision_name"),
            models.Index(fields=["business_line", "name"], name="model_line_name"),
            models.Index(fields=["owner", "name"], name="model_owner_name"),
            models.Index(fields=["updated_at"], name="model_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_model_id(self) -> int:
        return self.pk

    @property
    def developer_ids(self) -> frozenset[int]:
        return frozenset(u.pk for u in self.developers.all())

    @property
    def has_onnx_form(self) -> bool:
        """Whether its versions carry an ONNX artifact (else: validated without one, never
        served)."""
        return self.artifact_form == ArtifactForm.ONNX

    @property
    def is_vendor(self) -> bool:
        return self.sourcing == Sourcing.VENDOR

    @property
    def is_idea(self) -> bool:
        """Registered (intake and tiering may be done) before any version exists."""
        return self.last_version_number == 0

    @property
    def assignee_ids(self) -> frozenset[int]:
        return frozenset(u.pk for u in self.assignees.all())


class VendorDocument(models.Model):
    """A vendor's documentation file for a vendor model (stored content-addressed)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE,
                              related_name="vendor_documents")
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.filename

    @property
    def audit_model_id(self) -> int:
        return self.model_id


class ModelVersionQuerySet(models.QuerySet):
    def visible_to(self, user) -> ModelVersionQuerySet:
        return self.filter(model__in=RegisteredModel.objects.visible_to(user).values("pk"))


class ModelVersion(models.Model):
    """One version of a model: the artifact that would be validated, approved and served."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    changelog = models.TextField(blank=True)
    # Declared by whoever creates the version (blank for a model's first version, which is no
    # change); the validator confirms or reclassifies it (governance.materiality).
    change_class = models.CharField(max_length=5, choices=ChangeClass.choices, blank=True)
    state = models.CharField(max_length=20, choices=VersionState.choices,
                             default=VersionState.DRAFT)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    artifact_filename = models.CharField(max_length=255, blank=True)
    input_schema = models.JSONField(default=list, blank=True)
    output_schema = models.JSONField(default=list, blank=True)
    artifact_meta = models.JSONField(default=dict, blank=True,
                                     help_text="ONNX IR version, operator sets, producer.")
    training_data_description = models.TextField(blank=True)
    training_data_sha256 = models.CharField(max_length=64, blank=True)
    monotone_features = models.JSONField(
        default=dict, blank=True,
        help_text="Numeric inputs the model's score must move with in one direction: "
                  '{"feature": "increasing" | "decreasing"}; the robustness check tests them.')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="unique_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug} v{self.number}"

    @property
    def audit_model_id(self) -> int:
        return self.model_id

    @property
    def has_artifact(self) -> bool:
        return bool(self.artifact_sha256)

    @property
    def artifact_is_frozen(self) -> bool:
        """The artifact may change only while the version is a draft."""
        return self.state != VersionState.DRAFT

    def is_servable(self) -> bool:
        """Approved, and both its artifact signature and approval attestation are in force: made
        for this artifact, by keys not revoked (docs/signing.md). An approval whose signatures
        are missing or were made by a revoked key that could not re-sign serves nothing."""
        return not self.servability_problems()

    def servability_problems(self) -> list[str]:
        """Why this version may not be served, one sentence each (none when it is servable):
        computed on every read, so an endpoint says so the moment its version is suspended,
        retired or its key revoked (a suspending waiver's expiry suspends the version)."""
        if self.state != VersionState.APPROVED:
            return [f"Version {self.number} is {self.get_state_display().lower()}, not approved."]
        if not self.model.has_onnx_form:
            return [f"Version {self.number} is approved for use outside Assay's gateway; it has "
                    f"no artifact to serve ({self.model.get_artifact_form_display()})."]
        if not self.has_artifact:
            return [f"Version {self.number} has no artifact."]
        return self.signature_problems()

    def current_signature(self, kind: str) -> VersionSignature | None:
        """The newest signature of ``kind`` (artifact or approval): the one that counts."""
        return self.signatures.filter(kind=kind).select_related("key").order_by(
            "-created_at", "-pk").first()

    @property
    def signature_kinds(self) -> tuple[str, ...]:
        """The signatures its approval carries: the artifact signature and the approval
        attestation; for a model with no ONNX form, which has no artifact, only the attestation
        (docs/signing.md)."""
        if self.model.has_onnx_form:
            return tuple(SignatureKind.values)
        return (SignatureKind.APPROVAL,)

    def signature_problems(self) -> list[str]:
        """Why this version's signatures do not back its approval, one line per kind (none when
        they do)."""
        return [problem for kind in self.signature_kinds
                if (problem := self.signature_problem(kind))]

    def signature_problem(self, kind: str) -> str:
        """Why the current signature of ``kind`` does not back the approval ("" when it does)."""
        signature = self.current_signature(kind)
        label = SignatureKind(kind).label.lower()
        if signature is None:
            return f"No {label} was signed."
        if signature.key.revoked_at is not None:
            return (f"The {label} was signed by key {signature.key.keyid[:16]}, revoked on "
                    f"{signature.key.revoked_at:%Y-%m-%d}.")
        if signature.artifact_sha256 != self.artifact_sha256:
            return f"The {label} is for another artifact."
        # The row alone proves nothing (whoever writes the table could add one): the bundle
        # must verify, for this artifact, with a key trusted for its purpose.
        try:
            signing.verify_signed_artifact(signature.bundle, purpose=kind,
                                           artifact_sha256=self.artifact_sha256)
        except signing.EnvelopeError as exc:
            return f"The {label} does not verify: {exc}."
        return ""

    @property
    def author_ids(self) -> frozenset[int]:
        """Everyone who created the version, uploaded its artifact or evidence for it, or edited
        its documentation (VersionAuthor)."""
        return frozenset(self.authors.values_list("user_id", flat=True))


class SignatureKind(models.TextChoices):
    ARTIFACT = "artifact", "Artifact signature"
    APPROVAL = "approval", "Approval attestation"


class VersionSignature(models.Model):
    """A Sigstore bundle signed for a version when it was approved (docs/signing.md): the
    artifact's OpenSSF Model Signing signature, or the approval attestation. Rows are only
    added: re-signing (a reinstatement, a revoked key) adds a newer row, which is the one that
    counts; the older ones stay as history."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="signatures")
    kind = models.CharField(max_length=10, choices=SignatureKind.choices)
    key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, to_field="keyid",
                            db_column="keyid", related_name="+")
    artifact_sha256 = models.CharField(max_length=64)
    bundle = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "kind", "-created_at", "-id"]
        indexes = [models.Index(fields=["version", "kind", "-created_at"],
                                name="signature_current")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.version_id} by {self.key_id[:16]}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def filename(self) -> str:
        """The download's name; model_signing's default is ``model.sig``."""
        version = self.version
        suffix = "model.sig" if self.kind == SignatureKind.ARTIFACT else "approval.intoto.json"
        return f"{version.model.slug}-v{version.number}.{suffix}"


class AuthorKind(models.TextChoices):
    """How someone authored a version: what makes them not independent of it."""

    CREATED = "created", "Created the version"
    ARTIFACT = "artifact", "Uploaded its artifact"
    DOCUMENTATION = "documentation", "Edited its documentation"
    EVIDENCE = "evidence", "Recorded evidence for it"


class VersionAuthor(models.Model):
    """Someone who authored a version, and how (one row per person and kind, the first time).

    Written by the services that make the write (the registry's for creating, uploading and
    editing; governance's for evidence), inside their transaction, beside the audit event that
    names the same actor. Governance's independence rules read it: an author never validates or
    signs off the version.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="authors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+")
    kind = models.CharField(max_length=16, choices=AuthorKind.choices)
    first_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["version", "first_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user", "kind"],
                                    name="one_author_row_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.version}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id


class MlflowSource(models.Model):
    """The MLflow registered model an Assay model was imported from (``registry.mlflow_import``);
    a later import of the same tracking server adds only versions not yet imported."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE,
                                 related_name="mlflow_source")
    tracking_uri = models.CharField(max_length=500)
    registered_model = models.CharField(max_length=256)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tracking_uri", "registered_model"],
                                    name="one_model_per_mlflow_registered_model"),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model} at {self.tracking_uri}"


class MlflowVersionSource(models.Model):
    """Provenance of an imported version: the MLflow version, its source and run, its stage and
    aliases there, the run's metrics (the developer's own figures, not evidence), its flavors,
    and, when it came without an ONNX artifact, how to convert it."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE,
                                   related_name="mlflow_source")
    source = models.ForeignKey(MlflowSource, on_delete=models.CASCADE, related_name="versions")
    mlflow_version = models.PositiveIntegerField()
    source_uri = models.CharField(max_length=1000)
    model_directory = models.CharField(max_length=1000, blank=True)
    run_id = models.CharField(max_length=64, blank=True)
    stage = models.CharField(max_length=32, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    run_metrics = models.JSONField(default=dict, blank=True)
    flavors = models.JSONField(default=list, blank=True)
    conversion_hint = models.TextField(blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["source", "mlflow_version"]
        constraints = [
            models.UniqueConstraint(fields=["source", "mlflow_version"],
                                    name="one_version_per_mlflow_version"),
        ]

    def __str__(self) -> str:
        return f"{self.source.registered_model} v{self.mlflow_version}"

    @property
    def in_production_in_mlflow(self) -> bool:
        from registry.mlflow import in_production

        return in_production(self.stage, self.aliases)


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class MlflowImport(models.Model):
    """An import from MLflow asked for through the API or the page, run by a worker
    (``registry.mlflow_jobs``); its report lists what was created, skipped and refused."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    tracking_uri = models.CharField(max_length=500)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+")
    registered_models = models.JSONField(default=list, blank=True)
    task = models.CharField(max_length=32, blank=True)
    decision_type = models.CharField(max_length=20, blank=True)
    dry_run = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=ImportState.choices,
                             default=ImportState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]

    def __str__(self) -> str:
        return f"MLflow import {self.pk} from {self.tracking_uri}"

    @property
    def is_finished(self) -> bool:
        return self.state in (ImportState.DONE, ImportState.FAILED)
