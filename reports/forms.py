"""The model card's narrative form."""

from __future__ import annotations

from django import forms

from core.limits import TEXT_MAX


def _section(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=TEXT_MAX,
                           help_text=help_text, widget=forms.Textarea(attrs={"rows": 4}))


class ModelCardForm(forms.Form):
    overview = _section("Overview", "One paragraph for readers who know nothing of the model; "
                                    "left empty, the card shows the model's purpose.")
    limitations = _section("Limitations", "What the model cannot do or was not tested on.")
    tradeoffs = _section("Trade-offs", "What was given up for what (accuracy against "
                                       "fairness, simplicity against power…).")
    ethical_considerations = _section("Ethical considerations", "Risks to the people the "
                                                                "model decides about.")
    recommendations = _section("Caveats and recommendations", "How to use the model well, and "
                                                              "how each risk is mitigated.")
