"""The deployment pages' forms. The services check everything again (the API has no forms)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from core.models import User
from registry.models import ModelVersion, VersionState


def approved_versions(user: User, model_id: int | None = None) -> QuerySet[ModelVersion]:
    """The choices offered: approved versions the user may see (the service refuses one whose
    signatures do not back its approval, saying why)."""
    versions = ModelVersion.objects.visible_to(user).filter(
        state=VersionState.APPROVED).select_related("model").order_by("model__slug", "-number")
    return versions.filter(model_id=model_id) if model_id is not None else versions


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.model.name} v{obj.number} ({obj.model.slug})"


class EndpointForm(forms.Form):
    slug = forms.CharField(label="Name", max_length=64,
                           help_text="What applications call (/predict/<name>): letters, "
                                     "digits, - and _.")
    version = VersionChoice(queryset=ModelVersion.objects.none(), label="Version",
                            help_text="An approved version; it answers every request.")
    production = forms.BooleanField(
        required=False, initial=True,
        help_text="Production endpoints decide about people: a version's developers may not "
                  "deploy it to one.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = approved_versions(user)  # type: ignore[attr-defined]


class CanaryForm(forms.Form):
    version = VersionChoice(queryset=ModelVersion.objects.none(), label="Canary version")
    percent = forms.IntegerField(label="Share of requests (%)", min_value=1, max_value=100,
                                 help_text="1 to 100; the primary answers the rest.")

    def __init__(self, *args: Any, user: User, model_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = approved_versions(  # type: ignore[attr-defined]
            user, model_id)


class ShadowForm(forms.Form):
    version = VersionChoice(queryset=ModelVersion.objects.none(), label="Shadow version",
                            help_text="Sees every request; its answers are logged, never "
                                      "returned.")

    def __init__(self, *args: Any, user: User, model_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = approved_versions(  # type: ignore[attr-defined]
            user, model_id)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
