"""Forms for the inventory pages. They convert input; registry.services decides."""

from __future__ import annotations

from django import forms

from core import permissions
from core.models import Role, Team, User
from registry.models import ArtifactForm as ModelArtifactForm
from registry.models import (
    ChangeClass,
    DataSource,
    DecisionType,
    RegisteredModel,
    Sourcing,
    Task,
)


class ModelForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, required=False,
                           help_text="Leave empty to derive it from the name.")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), to_field_name="slug")
    purpose = forms.CharField(widget=forms.Textarea, help_text="The decision it informs, and how.")
    intended_use = forms.CharField(widget=forms.Textarea, required=False)
    intended_users = forms.CharField(widget=forms.Textarea, required=False)
    restrictions = forms.CharField(label="Restrictions on use", widget=forms.Textarea,
                                   required=False)
    business_line = forms.CharField(max_length=100, required=False)
    legal_entity = forms.CharField(
        max_length=100, required=False,
        help_text="The group company it is used in, e.g. 'Assay Bank UK'. With the business line "
                  "it decides which governance policy applies.")
    decision_type = forms.ChoiceField(choices=DecisionType.choices)
    task = forms.ChoiceField(choices=Task.choices)
    favourable_class = forms.CharField(
        max_length=100, required=False, initial="1",
        help_text="Classifiers: the favourable outcome as spelled in the label column, e.g. 1.")
    decision_threshold = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=0.5, required=False,
        help_text="Binary classifiers: a score at or above this is predicted favourable.")
    sourcing = forms.ChoiceField(choices=Sourcing.choices, initial=Sourcing.IN_HOUSE)
    vendor_name = forms.CharField(max_length=200, required=False)
    artifact_form = forms.ChoiceField(
        label="Form of the model", choices=ModelArtifactForm.choices,
        initial=ModelArtifactForm.ONNX, required=False,
        help_text="ONNX, or what the model is when it has no ONNX form (a scorecard, SAS, R, a "
                  "spreadsheet, a vendor's hosted API): it is then validated on uploaded "
                  "predictions and documentation, and never served by Assay's gateway.")
    contract_reference = forms.CharField(max_length=200, required=False,
                                         help_text="Vendor models: the contract's reference.")
    contract_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    contract_end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    renewal_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sla_terms = forms.CharField(label="SLA terms", widget=forms.Textarea(attrs={"rows": 3}),
                                required=False)
    contingency_plan = forms.CharField(
        label="Contingency and exit plan", widget=forms.Textarea(attrs={"rows": 3}),
        required=False, help_text="Vendor models: required before approval.")
    developers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), to_field_name="username", required=False,
        help_text="Data scientists of the model's team.")
    known_limitations = forms.CharField(widget=forms.Textarea, required=False)
    upstream_models = forms.ModelMultipleChoiceField(
        queryset=RegisteredModel.objects.none(), to_field_name="slug", required=False,
        help_text="Other models whose outputs this one uses.")
    linked_data_sources = forms.ModelMultipleChoiceField(
        queryset=DataSource.objects.all(), required=False, label="Data sources",
        help_text="The recorded data sources the model uses (record a new one under Data "
                  "sources first).")
    data_sources = forms.CharField(widget=forms.Textarea, required=False,
                                   label="Data source notes",
                                   help_text="Anything more about the data it uses.")
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. 'retail, pd'.")

    def __init__(self, *args, user, instance: RegisteredModel | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{f: getattr(instance, f) for f in (
                    "name", "slug", "purpose", "intended_use", "intended_users", "restrictions",
                    "business_line", "legal_entity", "decision_type", "task", "sourcing", "vendor_name",
                    "known_limitations", "data_sources", "favourable_class",
                    "decision_threshold", "artifact_form", "contract_reference",
                    "contract_start", "contract_end", "renewal_date", "sla_terms",
                    "contingency_plan")},
                "team": instance.team.slug,
                "developers": [u.username for u in instance.developers.all()],
                "upstream_models": [m.slug for m in instance.upstream_models.all()],
                "linked_data_sources": list(instance.linked_data_sources.all()),
                "tags": ", ".join(t.name for t in instance.tags.all()),
            }
        super().__init__(*args, **kwargs)
        # Model choice fields (declared on the form); the stubs type self.fields as plain Fields.
        teams = Team.objects.filter(
            pk__in=[t.pk for t in Team.objects.all() if permissions.can_create_model(user, t)])
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        # The developer picker offers only people who can develop: the data scientists of the
        # model's team (when registering, of the teams offered; the service checks the one
        # chosen) and, when editing, whoever develops the model already.
        developers = User.objects.filter(is_active=True, role_grants__role=Role.DATA_SCIENTIST,
                                         teams__in=[instance.team_id] if instance else teams)
        if instance is not None:
            developers = developers | instance.developers.all()
        self.fields["developers"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(pk__in=developers.values("pk")).order_by("username"))
        upstream = RegisteredModel.objects.visible_to(user)
        if instance is not None:
            upstream = upstream.exclude(pk=instance.pk)
            del self.fields["team"]  # owner of record: changed by an administrator's transfer
            del self.fields["slug"]
        self.fields["upstream_models"].queryset = upstream  # type: ignore[attr-defined]

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data.pop("tags", "").split(",") if t.strip()]
        # Left empty: the model's default (1 and 0.5) when registering, unchanged when editing.
        if data.get("decision_threshold") is None:
            data.pop("decision_threshold", None)
        if not (data.get("favourable_class") or "").strip():
            data.pop("favourable_class", None)
        if not data.get("artifact_form"):  # left out: ONNX when registering, kept when editing
            data.pop("artifact_form", None)
        return data


class DataSourceForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. 'Bureau scores (Experian)'.")
    system = forms.CharField(max_length=200, required=False,
                             help_text="The system of record holding it, e.g. 'EDW'.")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        to_field_name="username", required=False,
        help_text="Who answers for the data; you, when left empty.")
    description = forms.CharField(widget=forms.Textarea, required=False)

    def __init__(self, *args, instance: DataSource | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": instance.name, "system": instance.system,
                                 "owner": instance.owner.username,
                                 "description": instance.description}
        super().__init__(*args, **kwargs)

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("owner") is None:
            data.pop("owner", None)
        return data


def _monotone_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        label="Monotone features",
        help_text="Numeric inputs the score must move with in one direction, one per line: "
                  "<code>duration: decreasing</code>. The robustness check tests them.")


def parse_monotone(text: str) -> dict[str, str]:
    """``feature: direction`` lines into ``{feature: direction}`` (the service checks them
    against the inputs); a line without a colon is a mistake worth naming."""
    features = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, direction = line.partition(":")
        if not sep or not name.strip() or not direction.strip():
            raise forms.ValidationError(f"Write each monotone feature as 'feature: increasing' "
                                        f"or 'feature: decreasing'; got {line.strip()!r}.")
        features[name.strip()] = direction.strip().lower()
    return features


class MonotoneForm(forms.Form):
    monotone_features = _monotone_field()

    def clean_monotone_features(self) -> dict[str, str]:
        return parse_monotone(self.cleaned_data["monotone_features"])


class VersionForm(forms.Form):
    changelog = forms.CharField(widget=forms.Textarea, required=False,
                                help_text="What changed since the previous version, and why.")
    change_class = forms.ChoiceField(
        choices=ChangeClass.choices, required=False, widget=forms.RadioSelect,
        label="Change", help_text="How much this version changes the model, as the policy "
                                  "defines it (below); the validator confirms it.")

    def __init__(self, *args, first: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if first:  # a model's first version is no change
            del self.fields["change_class"]
        else:
            self.fields["change_class"].required = True
    artifact = forms.FileField(required=False, help_text=(
        "The model as an ONNX file. Pickle, joblib, PyTorch and skops files are refused: loading "
        "them can run arbitrary code. Convert with skl2onnx (zipmap=False) or torch.onnx."))
    training_data_description = forms.CharField(widget=forms.Textarea, required=False)
    training_data_sha256 = forms.RegexField(
        regex=r"^[0-9a-fA-F]{64}$", required=False, label="Training data SHA-256",
        error_messages={"invalid": "Give the digest as 64 hex characters (sha256sum output)."})
    monotone_features = _monotone_field()

    def clean_monotone_features(self) -> dict[str, str]:
        return parse_monotone(self.cleaned_data["monotone_features"])


class ArtifactForm(forms.Form):
    artifact = forms.FileField(help_text="The ONNX file.")


class VendorDocumentForm(forms.Form):
    document = forms.FileField(help_text="The vendor's documentation (any format; stored, "
                                         "never opened by Assay).")


class MlflowImportForm(forms.Form):
    tracking_uri = forms.CharField(label="MLflow tracking server", max_length=500,
                                   help_text="Its address, e.g. http://mlflow.internal:5000.")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), to_field_name="slug",
                                  help_text="The team the imported models join.")
    models = forms.CharField(label="Registered models", required=False,
                             help_text="Names separated by commas; empty imports all.")
    task = forms.ChoiceField(choices=[("", "from the assay.task tag"), *Task.choices],
                             required=False,
                             help_text="For models not tagged assay.task in MLflow.")
    decision_type = forms.ChoiceField(
        choices=[("", "from the assay.decision_type tag"), *DecisionType.choices],
        required=False, help_text="For models not tagged assay.decision_type in MLflow.")
    dry_run = forms.BooleanField(label="Dry run: say what would be imported, write nothing",
                                 required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(  # type: ignore[attr-defined]
            pk__in=[t.pk for t in Team.objects.all() if permissions.can_create_model(user, t)])

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"tracking_uri": data["tracking_uri"], "team": data["team"],
                "models": [n.strip() for n in data["models"].split(",") if n.strip()],
                "task": data["task"], "decision_type": data["decision_type"],
                "dry_run": data["dry_run"]}
