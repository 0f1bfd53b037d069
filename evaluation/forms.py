"""Forms of the evaluation pages. They convert input; evaluation.services decides."""

from __future__ import annotations

from typing import Any

from django import forms

from evaluation.engine import DEFAULT_CHECKS, DEFAULT_OPTIONS, PREDICTION_CHECKS, RUN_CHECKS
from evaluation.models import Dataset
from registry.models import ModelVersion, RegisteredModel


class DatasetForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8, with a header row) or Parquet. It is checked "
                                     "against the version's inputs before it is stored.")
    name = forms.CharField(max_length=200, required=False,
                           help_text="Leave empty to use the file's name.")
    label_column = forms.CharField(max_length=200, required=False,
                                   help_text="The column holding the true outcome.")
    sensitive_columns = forms.CharField(
        max_length=2000, required=False,
        help_text="Columns the bias check groups by, comma-separated, e.g. 'sex, age'.")
    bins = forms.CharField(
        max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Bins of continuous sensitive columns, one per line: "
                  "<code>age: 25, 60</code> makes &lt;25, 25 to &lt;60 and ≥60.")
    predictions_column = forms.CharField(
        max_length=200, required=False,
        help_text="Models with no ONNX form: the column holding the model's own prediction per "
                  "row (a score from 0 to 1, or the predicted label).")
    is_reference = forms.BooleanField(required=False, label="This is reference (training) data")
    reference = forms.ModelChoiceField(queryset=Dataset.objects.none(), required=False,
                                       help_text="The reference (training) data, if uploaded.")
    version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False,
                                     to_field_name="number", empty_label="Newest with an artifact",
                                     help_text="The version whose inputs the data must fit.")

    def __init__(self, *args: Any, model: RegisteredModel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reference"].queryset = (  # type: ignore[attr-defined]
            model.datasets.filter(is_reference=True))
        self.fields["version"].queryset = (  # type: ignore[attr-defined]
            model.versions.exclude(artifact_sha256=""))

    def clean_bins(self) -> dict[str, dict[str, list[float]]]:
        bins = {}
        for line in self.cleaned_data["bins"].splitlines():
            if not line.strip():
                continue
            column, sep, edges = line.partition(":")
            try:
                values = [float(e) for e in edges.split(",") if e.strip()]
            except ValueError:
                values = []
            if not sep or not column.strip() or not values:
                raise forms.ValidationError(f"Write bins as 'column: edge, edge'; got {line!r}.")
            bins[column.strip()] = {"edges": values}
        return bins

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        columns = [c.strip() for c in data["sensitive_columns"].split(",") if c.strip()]
        bins = data["bins"]
        unknown = sorted(set(bins) - set(columns))
        features: list[dict[str, Any]] = [{"column": c, "bins": bins.get(c)} for c in columns]
        # A binned column not listed as sensitive is a mistake worth naming, not ignoring.
        features += [{"column": c, "bins": bins[c]} for c in unknown]
        return {"file": data["file"], "filename": data["file"].name, "name": data["name"],
                "label_column": data["label_column"], "sensitive_features": features,
                "is_reference": data["is_reference"], "reference": data["reference"],
                "version": data["version"], "predictions_column": data["predictions_column"]}


CHECK_LABELS = {"explainability": "Explainability (SHAP)", "drift": "Drift against the reference",
                "mitigation": "Mitigation what-if (analysis only)"}


class RunForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), label="Evaluation data")
    checks = forms.MultipleChoiceField(
        choices=[(c, CHECK_LABELS.get(c, c.capitalize())) for c in RUN_CHECKS],
        initial=list(DEFAULT_CHECKS),
        widget=forms.CheckboxSelectMultiple,
        help_text="Tier 1 requires robustness and explainability. Drift needs a reference data "
                  "set named by the evaluation data; mitigation needs a sensitive feature.")
    n_bootstrap = forms.IntegerField(min_value=0, max_value=5000, initial=200,
                                     label="Bootstrap replicates",
                                     help_text="For the confidence intervals; 0 for none.")
    seed = forms.IntegerField(min_value=0, initial=0, help_text="Same seed, same figures.")
    shap_rows = forms.IntegerField(min_value=1, max_value=5000, initial=500, required=False,
                                   label="Rows explained (SHAP)",
                                   help_text="A seeded sample of the evaluation data. Tree "
                                             "ensembles take milliseconds per row, other models "
                                             "about half a second.")

    def __init__(self, *args: Any, version: ModelVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = (  # type: ignore[attr-defined]
            version.model.datasets.filter(is_reference=False))
        if not version.model.has_onnx_form:  # an outcomes analysis of predictions files
            self.fields["dataset"].label = "Predictions file"
            self.fields["checks"].choices = [  # type: ignore[attr-defined]
                (c, c.capitalize()) for c in PREDICTION_CHECKS]
            self.fields["checks"].help_text = (
                "Robustness, explainability, drift and the mitigation what-if run the model's "
                "graph: not applicable without an artifact.")

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"dataset": data["dataset"], "checks": data["checks"],
                "options": {"n_bootstrap": data["n_bootstrap"], "seed": data["seed"],
                            "shap_rows": data["shap_rows"] or DEFAULT_OPTIONS["shap_rows"]}}


