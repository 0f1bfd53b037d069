"""Page forms: they shape input; governance.services decides."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.utils.text import slugify

from core.limits import TEXT_MAX
from core.models import Role, User
from governance.gates import WAIVABLE_KINDS
from governance.models import (
    CommentKind,
    Conclusion,
    Decision,
    FindingCategory,
    FindingStatus,
    NotificationKind,
    Policy,
    ReviewConclusion,
    RootCause,
    Severity,
    SR117Area,
    ToolCriticality,
    ToolKind,
)
from governance.policy import SIGNOFF_ROLES, Definition
from governance.policy_edit import LINE_HELP, LineError, requirement_from_line, requirement_line
from registry.models import ChangeClass


def add_questionnaire(form: forms.Form, definition: Definition | None) -> list[str]:
    """One choice field ``q_<key>`` per question of the policy's questionnaire; the keys."""
    keys = []
    for q in definition.questions if definition else []:
        form.fields[f"q_{q['key']}"] = forms.ChoiceField(
            label=f"{q['label']} (weight {q['weight']})", required=False,
            choices=[("", "—")] + [(o["value"], f"{o.get('label', o['value'])} "
                                                f"({o['score']})") for o in q["options"]])
        keys.append(q["key"])
    return keys


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
        self.question_keys = add_questionnaire(self, definition)

    def answers(self) -> dict[str, str]:
        if not self.cleaned_data.get("is_model"):
            return {}
        return {k: self.cleaned_data.get(f"q_{k}") or "" for k in self.question_keys}

    def add_error_for(self, key: str, message: str) -> None:
        self.add_error(f"q_{key}" if f"q_{key}" in self.fields else None, message)


class UseCaseForm(forms.Form):
    """One more use of a model, tiered by the same questionnaire as its intake."""

    name = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea, required=False,
                                  help_text="What decisions it supports, for whom.")
    business_line = forms.CharField(max_length=100, required=False)

    def __init__(self, *args: Any, definition: Definition | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.question_keys = add_questionnaire(self, definition)

    def answers(self) -> dict[str, str]:
        return {k: self.cleaned_data.get(f"q_{k}") or "" for k in self.question_keys}


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
    independence_attested = forms.BooleanField(
        required=False, label="I attest that I am independent of this version",
        help_text="Taking the validation yourself: you had no part in developing or using it, "
                  "and have no conflict of interest in validating it.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A model choice field (declared above); the stubs type self.fields as plain Fields.
        self.fields["validator"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            is_active=True, role_grants__role=Role.VALIDATOR).order_by("username")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, required=False)


class ClassifyChangeForm(forms.Form):
    """The validator's decision on a version's declared change (governance.services.materiality)."""

    change_class = forms.ChoiceField(choices=ChangeClass.choices, widget=forms.RadioSelect,
                                     label="The change is")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                           help_text="Why; required when you reclassify it.")


class PolicyDeclineForm(forms.Form):
    """Why a policy draft is declined (or withdrawn by its drafter): required, the drafter reads
    it and it stays with the version."""

    reason = forms.CharField(label="Why you decline it", max_length=TEXT_MAX,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Its drafter reads this; it stays with the version.")


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
    independence_attested = forms.BooleanField(
        required=False, label="I attest my independence of this version",
        help_text="Needed once, if you have not attested it when you took the validation: you "
                  "had no part in developing or using it and have no conflict of interest.")


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

    def __init__(self, *args: Any, roles: list[str], signs_at_provider: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if signs_at_provider:
            # Under single sign-on the signature is a fresh sign-in at the identity provider.
            del self.fields["password"]
        # A choice field (declared above); the stubs type self.fields as plain Fields.
        self.fields["role"].choices = [  # type: ignore[attr-defined]
            ("", "(the first role still needed)"), *((r, Role(r).label) for r in roles)]


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    description = forms.CharField(widget=forms.Textarea, required=False)
    severity = forms.ChoiceField(choices=Severity.choices)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="Empty: 30, 60 or 90 days by severity.")
    category = forms.ChoiceField(choices=[("", "Not classified yet"), *FindingCategory.choices],
                                 required=False)
    root_cause = forms.ChoiceField(choices=[("", "Not classified yet"), *RootCause.choices],
                                   required=False)
    sr117_area = forms.ChoiceField(label="SR 11-7 area", required=False,
                                   choices=[("", "Not classified yet"), *SR117Area.choices])


class FindingClassifyForm(forms.Form):
    """The finding taxonomy, as the validator sets or corrects it."""

    category = forms.ChoiceField(choices=[("", "Not classified"), *FindingCategory.choices],
                                 required=False)
    root_cause = forms.ChoiceField(choices=[("", "Not classified"), *RootCause.choices],
                                   required=False)
    sr117_area = forms.ChoiceField(label="SR 11-7 area", required=False,
                                   choices=[("", "Not classified"), *SR117Area.choices])


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


class PolicyDraftForm(forms.Form):
    """A new version of a policy, drafted from another one: the questionnaire's weights, the
    cut-offs and, per tier, the revalidation cadence, the sign-off quorum and the required
    evidence. It only shapes input: ``definition()`` returns the draft, which
    governance.services.policy_version_create validates as it does for the API."""

    notes = forms.CharField(
        label="What changes and why", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown to the person who approves the draft, and kept with the version.")
    new_policy_name = forms.CharField(
        label="As a new policy named", max_length=100, required=False,
        help_text="Leave empty to draft a new version of this policy. A name starts another "
                  "policy (e.g. \"SR 11-7 Retail\"), current beside this one over its own scope.")
    business_lines = forms.CharField(
        label="Business lines it governs", required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line (or separated by commas), as models spell their business line. "
                  "Empty with no legal entity: the default policy for every model no other "
                  "current policy covers.")
    legal_entities = forms.CharField(
        label="Legal entities it governs", required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line. A model takes the current policy naming both its legal entity and "
                  "business line, else its legal entity, else its business line, else the "
                  "default.")
    cutoff_tier1 = forms.FloatField(label="Tier 1 from (points)",
                                    help_text="Minimum questionnaire points for tier 1.")
    cutoff_tier2 = forms.FloatField(label="Tier 2 from (points)",
                                    help_text="Minimum points for tier 2; fewer is tier 3.")

    TIERS = ("1", "2", "3")

    def __init__(self, *args: Any, base: dict[str, Any], business_lines: list[str] | None = None,
                 legal_entities: list[str] | None = None, **kwargs: Any) -> None:
        self.base = base
        super().__init__(*args, **kwargs)
        self.fields["business_lines"].initial = "\n".join(business_lines or [])
        self.fields["legal_entities"].initial = "\n".join(legal_entities or [])
        self.fields["cutoff_tier1"].initial = base["questionnaire"]["cutoffs"]["tier1"]
        self.fields["cutoff_tier2"].initial = base["questionnaire"]["cutoffs"]["tier2"]
        self.question_fields = []
        for q in base["questionnaire"]["questions"]:
            name = f"weight_{q['key']}"
            self.fields[name] = forms.FloatField(label=f"Weight of “{q['label']}”",
                                                 initial=q["weight"])
            self.question_fields.append(name)
        self.tier_fields: dict[str, list[str]] = {}
        for tier in self.TIERS:
            rules = base["tiers"][tier]
            names = [f"t{tier}_months"]
            self.fields[f"t{tier}_months"] = forms.IntegerField(
                label=f"Tier {tier}: revalidate every (months)",
                initial=rules["revalidation_months"])
            for role in SIGNOFF_ROLES:
                name = f"t{tier}_{role}"
                self.fields[name] = forms.IntegerField(
                    label=f"Tier {tier}: sign-offs by {Role(role).label.lower()}s",
                    initial=rules["signoffs"].get(role, 0), required=False,
                    help_text="0 or empty: this role need not sign.")
                names.append(name)
            self.fields[f"t{tier}_evidence"] = forms.CharField(
                label=f"Tier {tier}: required evidence", required=False,
                widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}), help_text=LINE_HELP,
                initial="\n".join(requirement_line(r) for r in rules["required_evidence"]))
            names.append(f"t{tier}_evidence")
            self.tier_fields[tier] = names

    def clean_new_policy_name(self) -> str:
        name = " ".join(self.cleaned_data.get("new_policy_name", "").split())
        if name and not slugify(name):
            raise forms.ValidationError("Name the policy with letters or digits.")
        if name and Policy.objects.filter(slug=slugify(name)).exists():
            raise forms.ValidationError(f"A policy named like {name!r} exists already: draft a "
                                        "version of it from its page, or choose another name.")
        return name

    @property
    def new_policy_slug(self) -> str:
        return slugify(self.cleaned_data.get("new_policy_name", ""))

    def _clean_evidence(self, tier: str) -> list[dict[str, Any]]:
        # A line left as it was keeps its item exactly as stored (defaults spelled out or not).
        unchanged = {requirement_line(item): item
                     for item in self.base["tiers"][tier]["required_evidence"]}
        items = []
        for line in self.cleaned_data.get(f"t{tier}_evidence", "").splitlines():
            if line.strip():
                try:
                    item = requirement_from_line(line)
                except LineError as error:
                    raise forms.ValidationError(str(error)) from None
                items.append(unchanged.get(requirement_line(item), item))
        return items

    def clean_t1_evidence(self) -> list[dict[str, Any]]:
        return self._clean_evidence("1")

    def clean_t2_evidence(self) -> list[dict[str, Any]]:
        return self._clean_evidence("2")

    def clean_t3_evidence(self) -> list[dict[str, Any]]:
        return self._clean_evidence("3")

    def definition(self) -> dict[str, Any]:
        """The draft: the base definition with the form's values in place."""
        data = self.cleaned_data
        draft = copy.deepcopy(self.base)
        draft["questionnaire"]["cutoffs"] = {"tier1": _plain(data["cutoff_tier1"]),
                                             "tier2": _plain(data["cutoff_tier2"])}
        for q in draft["questionnaire"]["questions"]:
            q["weight"] = _plain(data[f"weight_{q['key']}"])
        for tier in self.TIERS:
            rules = draft["tiers"][tier]
            rules["revalidation_months"] = data[f"t{tier}_months"]
            rules["signoffs"] = {role: data[f"t{tier}_{role}"] for role in SIGNOFF_ROLES
                                 if data.get(f"t{tier}_{role}")}
            rules["required_evidence"] = data[f"t{tier}_evidence"]
        return draft

    def place_errors(self, errors: list[str]) -> None:
        """Put the policy's validation messages (``definition_errors``) beside the fields they
        are about; the others above the form."""
        for message in errors:
            self.add_error(self._field_for(message), message)

    def _field_for(self, message: str) -> str | None:
        where = message.split(":", 1)[0]
        if where.startswith("questionnaire.cutoffs"):
            return "cutoff_tier2"
        for tier in self.TIERS:
            if where.startswith(f"tiers.{tier}.revalidation_months"):
                return f"t{tier}_months"
            if where.startswith(f"tiers.{tier}.required_evidence"):
                return f"t{tier}_evidence"
            if where.startswith(f"tiers.{tier}.signoffs"):
                role = where.removeprefix(f"tiers.{tier}.signoffs").lstrip(".")
                return f"t{tier}_{role}" if role in SIGNOFF_ROLES else f"t{tier}_{SIGNOFF_ROLES[0]}"
        if where.startswith("questionnaire.questions["):
            index = where.removeprefix("questionnaire.questions[").split("]", 1)[0]
            if index.isdigit() and int(index) < len(self.question_fields):
                return self.question_fields[int(index)]
        return None


def _plain(number: float) -> float | int:
    """2.0 → 2: a whole number stays whole in the stored definition."""
    return int(number) if number.is_integer() else number


class DiligenceAnswerForm(forms.Form):
    item = forms.CharField(max_length=50, widget=forms.HiddenInput)
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             help_text="The answer and the evidence it rests on.")
    evidence_reference = forms.CharField(max_length=300, required=False,
                                         help_text="Where the evidence is: a document, a link.")


class DiligenceReviewForm(forms.Form):
    item = forms.CharField(max_length=50, widget=forms.HiddenInput)
    decision = forms.ChoiceField(choices=[("accepted", "Accept"), ("rejected", "Reject")],
                                 widget=forms.RadioSelect)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                              help_text="Required when rejecting: what is missing.")


class VendorReleaseForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="As the vendor names it, e.g. 2026.2.")
    released_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ToolForm(forms.Form):
    """Registering an inventory entry as a tool: its kind, criticality and usage; the controls
    of its criticality's checklist that are in place (``control``, checked values)."""

    kind = forms.ChoiceField(choices=ToolKind.choices)
    criticality = forms.ChoiceField(choices=ToolCriticality.choices, widget=forms.RadioSelect,
                                    help_text="Sets its controls and how often it is reviewed "
                                              "(the current policy).")
    usage = forms.CharField(widget=forms.Textarea, required=False,
                            help_text="Who uses it, for what, and how often.")


class ToolCriticalityForm(forms.Form):
    """Changing a registered tool's criticality, and why (its workflow follows the policy)."""

    criticality = forms.ChoiceField(
        choices=ToolCriticality.choices, widget=forms.RadioSelect, label="New criticality",
        help_text="Sets its controls, how often and by whom it is reviewed (the current policy); "
                  "the next review falls due that long after its last one.")
    reason = forms.CharField(widget=forms.Textarea, required=False,
                             help_text="Why it changes: what the tool is used for now.")


class ToolReviewForm(forms.Form):
    still_in_use = forms.TypedChoiceField(
        label="Is the tool still in use as registered?", coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        choices=[("yes", "Yes: it stays in the register until its next review"),
                 ("no", "No: retire it from the register")])
    notes = forms.CharField(widget=forms.Textarea, required=False,
                            help_text="What the review found: how it is used now, any change.")


def checked_controls(data: Any) -> dict[str, bool]:
    """The controls checked on a tool form (its ``control`` checkboxes), each as in place."""
    return dict.fromkeys(data.getlist("control"), True)


class OwnerAttestationForm(forms.Form):
    """The owner's periodic attestation: each part confirmed (the service refuses otherwise,
    saying what to do instead)."""

    entry_complete = forms.BooleanField(
        required=False, label="The inventory entry is complete and accurate")
    used_as_approved = forms.BooleanField(
        required=False, label="The model is used as it was approved")
    within_conditions = forms.BooleanField(
        required=False, label="The model is used within the conditions and limits of its "
                              "approval")
    comment = forms.CharField(widget=forms.Textarea, required=False,
                              help_text="Anything the next reader should know (optional).")
