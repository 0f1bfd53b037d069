"""The model card's machine-readable exports, built from the same facts as its page and PDF:
JSON following the Model Card Toolkit schema v0.0.2 (``reports/schemas/``), and Markdown in the
Hugging Face model card layout (YAML front matter, then the sections of its template)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.facts import Facts

SCHEMA_VERSION = "0.0.2"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "model_card.schema.v0.0.2.json"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else _text(value)


def _person(user: Any) -> str:
    return user.get_full_name() or user.username


def _lines(*texts: str) -> list[dict[str, str]]:
    return [{"description": text.strip()} for text in texts if text and text.strip()]


def performance_metrics(facts: Facts) -> list[dict[str, Any]]:
    """Every figure of every succeeded run, sliced by run and check; then the evidence's figures
    for checks recorded from outside Assay (no run of ours holds them)."""
    metrics: list[dict[str, Any]] = []
    checks_from_runs = set()
    for item in facts.runs:
        run = item["run"]
        for section in item["sections"]:
            checks_from_runs.add(section["name"])
            for name, value in section["figures"].items():
                metrics.append({"type": name, "value": _number(value),
                                "slice": f"{section['name']}, run {run.pk} on {run.dataset.name}"})
    for row in facts.evidence:
        if row.check_name in checks_from_runs:
            continue
        for name, value in sorted(row.figures.items()):
            metrics.append({"type": name, "value": _number(value),
                            "slice": f"{row.check_name} ({row.get_origin_display().lower()})"})
    return metrics


def mct_json(facts: Facts) -> dict[str, Any]:
    """The model card as Model Card Toolkit JSON (schema v0.0.2)."""
    version, model = facts.version, facts.version.model
    review = facts.review
    developers = [_person(d) for d in model.developers.all()]
    owners = [{"name": _person(model.owner), "contact": model.owner.email or model.team.name}]
    owners += [{"name": name, "contact": model.team.name} for name in developers]
    data: list[dict[str, Any]] = [{"name": "Training data",
             "description": version.training_data_description
             + (f" (SHA-256 {version.training_data_sha256})"
                if version.training_data_sha256 else "")}]
    data += [{"name": item["run"].dataset.name,
              "description": f"Evaluation data, {item['run'].dataset.row_count} rows, SHA-256 "
                             f"{item['run'].dataset.sha256}",
              "sensitive": {"sensitive_data": [
                  str(feature.get("column") if isinstance(feature, dict) else feature)
                  for feature in item["run"].dataset.sensitive_features]}}
             for item in facts.runs]
    approved = facts.approved_at
    card: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": model.name,
            "overview": facts.narrative.get("overview") or model.purpose,
            "documentation": model.purpose,
            "owners": owners,
            "version": {"name": str(version.number), "diff": version.changelog,
                        **({"date": approved.date().isoformat()} if approved else {})},
            "references": [],
            "path": f"{model.slug}/v{version.number}",
        },
        "model_parameters": {
            "model_architecture": f"{model.get_task_display()} (ONNX, artifact SHA-256 "
                                  f"{version.artifact_sha256 or 'none'})",
            "data": data,
            "input_format": "; ".join(f"{t.get('name')}: {t.get('element_type')}"
                                      for t in version.input_schema),
            "output_format": "; ".join(f"{t.get('name')}: {t.get('element_type')}"
                                       for t in version.output_schema),
        },
        "quantitative_analysis": {"performance_metrics": performance_metrics(facts)},
        "considerations": {
            "users": _lines(model.intended_users),
            "use_cases": _lines(model.intended_use),
            "limitations": _lines(model.known_limitations, facts.narrative.get("limitations", ""),
                                  review.limitations if review else "",
                                  *(f"Restriction: {model.restrictions}",)
                                  if model.restrictions else ()),
            "tradeoffs": _lines(facts.narrative.get("tradeoffs", "")),
            "ethical_considerations": [
                {"name": text, "mitigation_strategy": facts.narrative.get("recommendations", "")}
                for text in [facts.narrative.get("ethical_considerations", "")] if text]
            + [{"name": f"Finding: {f.title} ({f.get_severity_display().lower()}, "
                        f"{f.get_status_display().lower()})",
                "mitigation_strategy": f.resolution or f.remediation}
               for f in facts.fairness_findings],
        },
    }
    return card


def mct_json_text(facts: Facts) -> str:
    return json.dumps(mct_json(facts), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _yaml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def hf_markdown(facts: Facts) -> str:
    """The model card in the Hugging Face layout: YAML metadata, then its sections."""
    version, model = facts.version, facts.version.model
    review, narrative = facts.review, facts.narrative
    out = ["---", "library_name: onnx", f"tags: [{', '.join(['assay', model.task])}]",
           f"model_name: {_yaml_string(model.name)}", f"version: {version.number}"]
    metrics = performance_metrics(facts)
    if metrics:
        out += ["model-index:", f"- name: {_yaml_string(model.name)}", "  results:"]
        for metric in metrics:
            out += [f"  - task: {{type: {model.task}}}",
                    f"    dataset: {{name: {_yaml_string(metric['slice'])}, type: custom}}",
                    f"    metrics: [{{type: {_yaml_string(metric['type'])}, "
                    f"value: {metric['value']}}}]"]
    out += ["---", "", f"# Model Card for {model.name} v{version.number}", "",
            narrative.get("overview") or model.purpose, "", "## Model Details", "",
            "### Model Description", "", model.purpose, "",
            f"- **Developed by:** {', '.join(_person(d) for d in model.developers.all()) or '—'}",
            f"- **Owned by:** {_person(model.owner)} ({model.team.name})",
            f"- **Model type:** {model.get_task_display()}; {model.get_decision_type_display()}",
            f"- **Risk tier:** {facts.case.tier or 'not yet tiered'}"
            f"{f' under {facts.case.policy_version}' if facts.case.policy_version else ''}",
            f"- **Status:** {version.get_state_display()}",
            f"- **Artifact SHA-256:** `{version.artifact_sha256 or 'none'}`", "",
            "## Uses", "", "### Direct Use", "", model.intended_use or "—", "",
            "### Intended Users", "", model.intended_users or "—", "",
            "### Out-of-Scope Use", "", model.restrictions or "—", "",
            "## Bias, Risks, and Limitations", "",
            *[f"- {text}" for text in (model.known_limitations, narrative.get("limitations"),
                                       review.limitations if review else "") if text],
            *[f"- Fairness finding: {f.title} ({f.get_severity_display().lower()}, "
              f"{f.get_status_display().lower()})" for f in facts.fairness_findings], "",
            "### Recommendations", "", narrative.get("recommendations") or "—", "",
            "## Training Details", "", "### Training Data", "",
            version.training_data_description or "—", "",
            "## Evaluation", "", "### Results", ""]
    if metrics:
        out += ["| Slice | Metric | Value |", "| --- | --- | --- |"]
        out += [f"| {m['slice']} | {m['type']} | {m['value']} |" for m in metrics]
    else:
        out.append("No evaluation results yet.")
    out += ["", "## Conditions of Use", "",
            (review.conditions if review and review.conditions else "No conditions."), "",
            "## Approval", ""]
    out += [f"- {s.role}: {_person(s.signer)}, {s.get_decision_display().lower()} "
            f"{s.signed_at:%Y-%m-%d}" for s in facts.signoffs] or ["Not yet signed off."]
    return "\n".join(out) + "\n"
