"""Paired charts of two runs, through the one renderer (core.charts): the chart kinds the run page
draws, with one series per run — ROC and precision-recall curves overlaid, selection rate per
group as grouped bars, reliability diagrams overlaid — and grouped bars for the part 2 checks'
per-perturbation, per-feature and per-column figures. No Django here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import charts
from evaluation.charts import Chart


def _check(results: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    return ((results or {}).get("checks") or {}).get(name)


def _estimate(value: Any) -> tuple[float | None, float | None, float | None]:
    if isinstance(value, Mapping):
        return value.get("value"), value.get("ci_low"), value.get("ci_high")
    return value, None, None


def paired_charts(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None, *,
                  left_name: str, right_name: str) -> list[Chart]:
    """The charts of two runs' results side by side, in the order of the checks."""
    names = (left_name, right_name)
    sides = (left, right)
    out: list[Chart] = []
    for check, draw in _DRAWERS.items():
        pair = tuple(_check(s, check) for s in sides)
        if any(pair):
            out.extend(Chart(check, svg) for svg in draw(pair, names))
    return out


def _performance(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    roc, pr = [], []
    for check, name in zip(pair, names, strict=True):
        if not check:
            continue
        curves = check["result"].get("curves") or {}
        figures = check.get("figures") or {}
        if "roc" in curves:
            roc.append(charts.RocCurve(name, curves["roc"]["x"], curves["roc"]["y"],
                                       figures.get("roc_auc")))
        if "pr" in curves:
            pr.append(charts.PrCurve(name, curves["pr"]["x"], curves["pr"]["y"],
                                     figures.get("pr_auc")))
    out = []
    if roc:
        out.append(charts.roc_curve(roc, title="ROC curves compared"))
    if pr:
        out.append(charts.pr_curve(pr, title="Precision\u2013recall curves compared"))
    return out


def _group_series(check: Mapping[str, Any] | None, metric: str) -> dict[str, list[charts.Bar]]:
    """Per grouping (sensitive feature), the bars of ``metric`` per group."""
    out: dict[str, list[charts.Bar]] = {}
    for grouping in (check or {}).get("result", {}).get("groupings", []):
        bars = out.setdefault(grouping["name"], [])
        for group in grouping.get("groups", []):
            value, low, high = _estimate(group.get("metrics", {}).get(metric))
            bars.append(charts.Bar(str(group["label"]), value, low, high,
                                   flagged=bool(group.get("small"))))
    return out


def _aligned(left: list[charts.Bar], right: list[charts.Bar]) -> tuple[list[charts.Bar], ...]:
    """Both runs' bars over the union of their groups, in one order (a group one run lacks is
    drawn as no value, not left out)."""
    labels = list(dict.fromkeys([b.label for b in left] + [b.label for b in right]))
    by = ({b.label: b for b in left}, {b.label: b for b in right})
    return tuple([side.get(label, charts.Bar(label, None)) for label in labels] for side in by)


def _bias(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    task = next(c for c in pair if c)["result"].get("task")
    metric = "mae" if task == "regression" else "selection_rate"
    left, right = (_group_series(c, metric) for c in pair)
    label = metric.replace("_", " ").capitalize()
    out = []
    for grouping in dict.fromkeys([*left, *right]):
        a, b = _aligned(left.get(grouping, []), right.get(grouping, []))
        out.append(charts.group_bars(
            [charts.BarSeries(names[0], a), charts.BarSeries(names[1], b)],
            title=f"{label} by {grouping}, compared", y_label=label, x_label=grouping,
            percent=metric == "selection_rate",
            y_range=(0, 1) if metric == "selection_rate" else None))
    return out


def _calibration(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    curves = []
    for check, name in zip(pair, names, strict=True):
        uniform = ((check or {}).get("result", {}).get("reliability") or {}).get("uniform")
        if uniform:
            curves.append(charts.CalibrationCurve(name, uniform["mean_score"],
                                                  uniform["observed_rate"], uniform["counts"]))
    if not curves:
        return []
    return [charts.reliability_diagram(curves, title="Reliability diagrams compared")]


def _paired_bars(per_side: list[dict[str, Any]], names: tuple[str, str], items: list[str], *,
                 title: str, y_label: str, x_label: str) -> list[charts.Svg]:
    """Grouped bars of per-item values, one series per run (an item a run lacks: no value)."""
    if not items:
        return []
    series = [charts.BarSeries(name, [charts.Bar(i, side.get(i)) for i in items])
              for side, name in zip(per_side, names, strict=True)]
    return [charts.group_bars(series, title=title, y_label=y_label, x_label=x_label)]


def _figure_bars(pair: tuple[Any, ...], names: tuple[str, str], *, prefix: str, title: str,
                 y_label: str, x_label: str) -> list[charts.Svg]:
    """Grouped bars of the figures named ``prefix<item>`` (e.g. ``flip_rate_noise_low``)."""
    per_side = [{k[len(prefix):]: v for k, v in ((c or {}).get("figures") or {}).items()
                 if k.startswith(prefix) and not k.endswith(("_ci_low", "_ci_high"))}
                for c in pair]
    items = list(dict.fromkeys([*per_side[0], *per_side[1]]))
    return _paired_bars(per_side, names, items, title=title, y_label=y_label, x_label=x_label)


def _robustness(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    return [*_figure_bars(pair, names, prefix="flip_rate_", title="Flip rate per perturbation, "
                          "compared", y_label="Flip rate", x_label="Perturbation"),
            *_figure_bars(pair, names, prefix="metric_drop_", title="Metric drop per "
                          "perturbation, compared", y_label="Metric drop",
                          x_label="Perturbation")]


def _keyed_bars(pair: tuple[Any, ...], names: tuple[str, str], values: Any, *, title: str,
                y_label: str, x_label: str, limit: int = 15) -> list[charts.Svg]:
    """Grouped bars of a per-item value (a feature's PSI, a column's importance) read from each
    run's result by ``values``; the ``limit`` largest items over both runs."""
    per_side = [values((c or {}).get("result") or {}) if c else {} for c in pair]
    items = sorted(set(per_side[0]) | set(per_side[1]),
                   key=lambda i: -max(abs(s.get(i) or 0.0) for s in per_side))[:limit]
    return _paired_bars(per_side, names, items, title=title, y_label=y_label, x_label=x_label)


def _drift(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    return _keyed_bars(pair, names,
                       lambda r: {f["column"]: f.get("psi") for f in r.get("features", [])},
                       title="PSI per feature, compared", y_label="PSI", x_label="Feature")


def _explainability(pair: tuple[Any, ...], names: tuple[str, str]) -> list[charts.Svg]:
    return _keyed_bars(pair, names, lambda r: dict(r.get("importance") or {}),
                       title="Mean |SHAP| per column, compared", y_label="Mean |SHAP|",
                       x_label="Column")


_DRAWERS = {"performance": _performance, "bias": _bias, "calibration": _calibration,
            "robustness": _robustness, "explainability": _explainability, "drift": _drift}
