"""A run's charts, drawn by the one renderer (core.charts) from the run's stored results: ROC and
precision-recall curves and the confusion matrix (performance), selection rate per group with
confidence intervals (bias), the reliability diagram (calibration); part 2's robustness curves
and per-perturbation bars, SHAP importance bars (global and per group), PSI per feature with the
bands marked, selection rates before and after the mitigation what-if, and one row's SHAP bars
(``local_chart``). No Django here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import charts


@dataclass(frozen=True)
class Chart:
    """One chart of a run's page, with the check it belongs to."""

    check: str
    svg: charts.Svg


def _value(estimate: Any) -> float | None:
    return estimate.get("value") if isinstance(estimate, Mapping) else estimate


def check_sections(run: Any) -> list[dict[str, Any]]:
    """Per check of a run, in the order it ran: its status under the policy, why, its figures
    and its charts (the run page and the reports show the same)."""
    checks = (run.results or {}).get("checks", {})
    drawn = run_charts(run.results)
    return [{"name": name, "status": run.verdicts.get(name, {}).get("status"),
             "reasons": run.verdicts.get(name, {}).get("reasons", []),
             "figures": dict(sorted(checks.get(name, {}).get("figures", {}).items())),
             "charts": [c.svg for c in drawn if c.check == name],
             "result": checks.get(name, {}).get("result", {})}
            for name in run.checks]  # in the order they ran (stored JSON sorts its keys)


def run_charts(results: Mapping[str, Any] | None) -> list[Chart]:
    """The charts of a run's results, in the order of the checks (empty before it succeeded)."""
    if not results:
        return []
    checks = results.get("checks", {})
    out: list[Chart] = []
    if "performance" in checks:
        out.extend(Chart("performance", svg) for svg in _performance(checks["performance"]))
    if "bias" in checks:
        out.extend(Chart("bias", svg) for svg in _bias(checks["bias"]))
    if "calibration" in checks:
        out.extend(Chart("calibration", svg) for svg in _calibration(checks["calibration"]))
    for name, draw in (("robustness", _robustness), ("explainability", _explainability),
                       ("drift", _drift), ("mitigation", _mitigation)):
        if name in checks:
            out.extend(Chart(name, svg) for svg in draw(checks[name]))
    return out


def _performance(check: Mapping[str, Any]) -> list[charts.Svg]:
    result, figures = check["result"], check["figures"]
    out = []
    curves = result.get("curves", {})
    if "roc" in curves:
        roc = curves["roc"]
        out.append(charts.roc_curve([charts.RocCurve("Model", roc["x"], roc["y"],
                                                     figures.get("roc_auc"))]))
    if "pr" in curves:
        pr = curves["pr"]
        confusion = result.get("confusion") or {}
        counts = confusion.get("counts")
        prevalence = None
        if counts and len(counts) == 2:
            total = sum(sum(row) for row in counts)
            prevalence = sum(counts[1]) / total if total else None
        out.append(charts.pr_curve([charts.PrCurve("Model", pr["x"], pr["y"],
                                                   figures.get("pr_auc"))],
                                   prevalence=prevalence))
    confusion = result.get("confusion")
    if confusion:
        out.append(charts.confusion_matrix(
            confusion["counts"], [str(label) for label in confusion["labels"]],
            title=f"Confusion matrix at threshold {result.get('threshold')}"
            if result.get("threshold") is not None else "Confusion matrix"))
    return out


def _bias(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    out = []
    metric = "selection_rate" if result.get("task") != "regression" else "mae"
    for grouping in result.get("groupings", []):
        bars = []
        for group in grouping.get("groups", []):
            estimate = group.get("metrics", {}).get(metric) or {}
            bars.append(charts.Bar(str(group["label"]), _value(estimate),
                                   estimate.get("ci_low") if isinstance(estimate, Mapping) else None,
                                   estimate.get("ci_high") if isinstance(estimate, Mapping) else None,
                                   flagged=bool(group.get("small"))))
        if not bars:
            continue
        name = metric.replace("_", " ").capitalize()
        out.append(charts.group_bars(
            [charts.BarSeries(name, bars)], title=f"{name} by {grouping['name']}",
            y_label=name, x_label=grouping["name"], percent=metric == "selection_rate",
            y_range=(0, 1) if metric == "selection_rate" else None))
    return out


def _calibration(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    uniform = result.get("reliability", {}).get("uniform")
    if not uniform:
        return []
    return [charts.reliability_diagram([charts.CalibrationCurve(
        "Model (uniform bins)", uniform["mean_score"], uniform["observed_rate"],
        uniform["counts"])], title=f"Reliability diagram ({result.get('n_bins')} uniform bins)")]


# Global importance per group: the columns most important overall, one bar per group each.
GROUP_COLUMNS = 8


def _robustness(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    perturbations = {p["name"]: p for p in result.get("perturbations", [])}
    levels = result.get("settings", {}).get("noise_levels", {})
    classifier = result.get("task") == "classification"
    metric = "accuracy" if classifier else "RMSE"
    # By level: the stored results sort their keys, so the names come alphabetically.
    curve_names = sorted((name for name in levels if name in perturbations), key=levels.get)
    xs = [0.0] + [levels[name] for name in curve_names]
    series = []
    if classifier:
        series.append(charts.Series("Flip rate", xs, [0.0] + [
            perturbations[n]["flip_rate"] for n in curve_names]))
    series.append(charts.Series(f"{metric} drop", xs, [0.0] + [
        perturbations[n]["metric_drop"] for n in curve_names]))
    out = [charts.line_chart(
        series, title="Robustness under Gaussian noise",
        x_label="Noise (standard deviations of each numeric column)",
        y_label="Flip rate, accuracy drop" if classifier else "RMSE rise",
        y_percent=classifier)]
    drops = {name: p["metric_drop"] for name, p in perturbations.items()}
    out.append(charts.horizontal_bars(
        drops, title=f"Drop of {metric} per perturbation", x_label=f"{metric} drop",
        percent=classifier, top=None))
    if classifier:
        out.append(charts.horizontal_bars(
            {name: p["flip_rate"] for name, p in perturbations.items()},
            title="Decisions flipped per perturbation", x_label="Flip rate", percent=True,
            top=None))
    return out


def _explainability(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    space = str(result.get("output_space", "")).replace("_", " ")
    label = f"mean |SHAP| ({space})" if space else "mean |SHAP|"
    importance = result.get("importance", {})
    out = [charts.horizontal_bars(
        importance, title=f"Global importance over {result.get('sample_rows')} rows "
                          f"({result.get('method')} SHAP)", x_label=label)]
    top = sorted(importance, key=lambda c: -(importance[c] or 0.0))[:GROUP_COLUMNS]
    for feature, groups in result.get("group_importance", {}).items():
        if not groups:
            continue
        rows = result.get("group_rows", {}).get(feature, {})
        out.append(charts.group_bars(
            [charts.BarSeries(f"{group} ({rows.get(group, 0)} rows)",
                              [charts.Bar(column, values.get(column)) for column in top])
             for group, values in groups.items()],
            title=f"Importance per group of {feature} (the most important columns overall)",
            y_label=label, x_label="Column"))
    return out


def _drift(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    bands = result.get("psi_bands", {})
    moderate, significant = bands.get("moderate", 0.1), bands.get("significant", 0.25)
    psi = {f["column"]: f["psi"] for f in result.get("features", [])}
    if result.get("prediction"):
        psi["(prediction)"] = result["prediction"]["psi"]
    return [charts.horizontal_bars(
        psi, title="Population stability index per feature, against the reference data",
        x_label="PSI", top=None,
        references=[charts.Reference(moderate, f"moderate ≥ {moderate:g}"),
                    charts.Reference(significant, f"significant > {significant:g}")],
        bands=[charts.Band(moderate, significant, "Moderate drift", "warn"),
               charts.Band(significant, None, "Significant drift", "bad")])]


def _mitigation(check: Mapping[str, Any]) -> list[charts.Svg]:
    result = check["result"]
    out = []
    for feature in result.get("features", []):
        groups = feature.get("groups", [])
        if not groups:
            continue
        out.append(charts.group_bars(
            [charts.BarSeries(f"At the model's threshold {result.get('threshold')}",
                              [charts.Bar(g["group"], g["selection_rate_before"])
                               for g in groups]),
             charts.BarSeries("Under the what-if rules (expected)",
                              [charts.Bar(g["group"], g["selection_rate_after"])
                               for g in groups])],
            title=f"Selection rate per group of {feature['feature']}, before and after "
                  f"(analysis only, not applied)",
            y_label="Selection rate", percent=True, y_range=(0, 1), x_label=feature["feature"]))
    return out


def local_chart(explanation: Mapping[str, Any]) -> charts.Svg:
    """One row's SHAP contributions, signed: what pushed its score up or down from the base."""
    local = explanation["local"][0]
    space = str(explanation.get("output_space", "")).replace("_", " ")
    return charts.horizontal_bars(
        local["contributions"],
        title=f"Row {local['row'] + 1}: from the base value {local['base_value']:.4g} to "
              f"{local['prediction']:.4g} ({space})",
        x_label=f"SHAP value ({space})", top=None)
