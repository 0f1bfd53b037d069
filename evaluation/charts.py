"""A run's charts, drawn by the one renderer (core.charts) from the run's stored results: ROC and
precision-recall curves and the confusion matrix (performance), selection rate per group with
confidence intervals (bias), the reliability diagram (calibration). No Django here."""

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
             "charts": [c.svg for c in drawn if c.check == name]}
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
