"""Page forms: they shape input; governance.services decides."""

from __future__ import annotations

from typing import Any

from django import forms

from core.models import Role, User
from governance.gates import WAIVABLE_KINDS
from governance.models import (
    CommentKind,
    Conclusion,
    Decision,
    FindingStatus,
    NotificationKind,
    ReviewConclusion,
    Severity,
)
from governance.policy import Definition


class IntakeForm(forms.Form):
    """The intake question and, for models, one choice per questionnaire question of the policy."""

    is_model = forms.TypedChoiceField(
        label="Is this a model?", coerce=lambda v: v == "yes", widget=forms.RadioSelect,
        choices=[("yes", "Yes: a quantitative method turning inputs into estimates used for "
                         "decisions"),
                 ("no", "No: a rule set, report or spreadsheet (recorded, not validated)")])
    rationale = forms.CharField(widget=forms.Textarea, required=False,
                                help_text="Why it is (or is not) a model.")

    def __init__(self, *args: Any, definition: Definition | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.question_keys = []
        for q in definition.questions if definition else []:
            self.fields[f"q_{q['key']}"] = forms.ChoiceField(
                label=f"{q['label']} (weight {q['weight']})", required=False,
                choices=[("", "—")] + [(o["value"], f"{o.get('label', o['value'])} "
                                                    f"({o['score']})") for o in q["options"]])
            self.question_keys.append(q["key"])

    def answers(self) -> dict[str, str]:
        if not self.cleaned_data.get("is_model"):
            return {}
        return {k: self.cleaned_data.get(f"q_{k}") or "" for k in self.question_keys}

    def add_error_for(self, key: str, message: str) -> None:
        self.add_error(f"q_{key}" if f"q_{key}" in self.fields else None, message)


class OverrideRequestForm(forms.Form):
    tier = forms.TypedChoiceField(coerce=int, choices=[(1, "Tier 1"), (2, "Tier 2"),
                                                       (3, "Tier 3")])
    justification = forms.CharField(widget=forms.Textarea, required=False)


class OverrideDecisionForm(forms.Form):
    approve = forms.TypedChoiceField(coerce=lambda v: v == "yes", widget=forms.RadioSelect,
                                     choices=[("yes", "Approve the override"),
                                              ("no", "Reject it")])
    comment = forms.CharField(widget=forms.Textarea, required=False)


class AssignForm(forms.Form):
    validator = forms.ModelChoiceField(queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A model choice field (declared above); the stubs type self.fields as plain Fields.
        self.fields["validator"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            is_active=True, role_grants__role=Role.VALIDATOR).order_by("username")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=False)


class ReviewForm(forms.Form):
    conceptual_soundness = forms.CharField(widget=forms.Textarea, required=False)
    data_quality = forms.CharField(label="Data quality and relevance", widget=forms.Textarea,
                                   required=False)
    outcomes_analysis = forms.CharField(widget=forms.Textarea, required=False,
                                        help_text="Back-testing, or a benchmark against a "
                                                  "challenger or baseline.")
    implementation_verification = forms.CharField(widget=forms.Textarea, required=False)
    artifact_sha256 = forms.CharField(label="SHA-256 of the artifact you reviewed",
                                      required=False,
                                      help_text="Download the artifact and run sha256sum.")
    limitations = forms.CharField(widget=forms.Textarea, required=False)
    conclusion = forms.ChoiceField(choices=Conclusion.choices, widget=forms.RadioSelect)
    conditions = forms.CharField(widget=forms.Textarea, required=False,
                                 help_text="Conditions of use, when approving with conditions.")


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    role = forms.ChoiceField(required=False, choices=[])
    comment = forms.CharField(widget=forms.Textarea, required=False)
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="Optional, with an approval: conditions you attach (limits of use, "
                  "follow-ups). They are listed in the signed approval attestation.")
    password = forms.CharField(widget=forms.PasswordInput, required=False,
                               help_text="Re-enter your password: it is your electronic "
                                         "signature.")

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A choice field (declared above); the stubs type self.fields as plain Fields.
        self.fields["role"].choices = [  # type: ignore[attr-defined]
            ("", "(the first role still needed)"), *((r, Role(r).label) for r in roles)]


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea, required=False)
    severity = forms.ChoiceField(choices=Severity.choices)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="Empty: 30, 60 or 90 days by severity.")


class FindingMoveForm(forms.Form):
    to = forms.ChoiceField(choices=FindingStatus.choices, widget=forms.HiddenInput)
    text = forms.CharField(widget=forms.Textarea, required=False)


class CommentForm(forms.Form):
    kind = forms.ChoiceField(choices=CommentKind.choices)
    body = forms.CharField(widget=forms.Textarea, required=False)
    reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AttachmentForm(forms.Form):
    file = forms.FileField()


class WaiverForm(forms.Form):
    covers = forms.ChoiceField(label="Covers", choices=[],
                               help_text="The blocking item the waiver lifts.")
    reason = forms.CharField(widget=forms.Textarea, required=False)
    compensating_controls = forms.CharField(widget=forms.Textarea, required=False)
    limits_of_use = forms.CharField(widget=forms.Textarea, required=False)
    expires_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     help_text="UTC.")

    def __init__(self, *args: Any, blockers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A choice field (declared above); the stubs type self.fields as plain Fields.
        self.fields["covers"].choices = [  # type: ignore[attr-defined]
            (f"{b.kind}:{b.key}", b.message) for b in blockers if b.kind in WAIVABLE_KINDS]


class PeriodicReviewForm(forms.Form):
    performance = forms.CharField(widget=forms.Textarea, required=False,
                                  help_text="How the model performed since its last review.")
    changes = forms.CharField(widget=forms.Textarea, required=False,
                              help_text="Changes in use, data or environment.")
    limitations = forms.CharField(widget=forms.Textarea, required=False)
    conclusion = forms.ChoiceField(choices=ReviewConclusion.choices, widget=forms.RadioSelect)
    conditions = forms.CharField(widget=forms.Textarea, required=False)


class PreferencesForm(forms.Form):
    """One checkbox per notification kind: email it or not."""

    def __init__(self, *args: Any, current: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in NotificationKind.choices:
            self.fields[kind] = forms.BooleanField(label=f"Email: {label}", required=False,
                                                   initial=current.get(kind, True))
