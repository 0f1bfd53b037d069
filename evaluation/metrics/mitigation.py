"""Mitigation what-if: which group-specific thresholds would meet a disparity limit, at what cost.

fairlearn's ``ThresholdOptimizer`` (``prefit=True``, over the model's own scores) searches, on the
evaluation data, the per-group decision rules that maximise accuracy subject to demographic parity
(equal selection rates) or equalized odds (equal true and false positive rates). This is analysis
for the data scientist and the validator: the result says what such rules would look like and what
they would cost in accuracy, carries ``applied: false`` and the caveat below, and nothing in Assay
ever applies it to a model.

The rules fairlearn finds are often randomised: for a group, "above t0 with probability p0, above
t1 with probability p1" (and, for equalized odds, "else a coin of probability c with probability
p_ignore"). They are reported as they are. The rates and the accuracy "after" are their expected
values over that randomisation, computed exactly rather than by drawing, so the same data always
gives the same figures. They are measured on the data the rules were fitted on, which flatters
them; a fair estimate needs held-out data.

A run does this for every sensitive feature (:func:`what_if_per_feature`): one set of rules per
feature, its figures suffixed ``[feature]`` as the bias check's are, and the unsuffixed figures
the worst over the features. Above ``SAMPLE_ROWS`` rows it works on a seeded sample of the rows
(:func:`sample_positions`, a function of the row count and the seed only, so a data set read in
chunks analyses exactly the rows one pass would).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.metrics.results import to_json_safe

CHECK = "mitigation"
# fairlearn sorts every group's scores and keeps several copies of the data: above this many rows
# the what-if works on a seeded sample of them.
SAMPLE_ROWS = 200_000
CONSTRAINTS = ("demographic_parity", "equalized_odds")
CAVEAT = (
    "Analysis only; nothing was applied to the model. Group-specific decision thresholds treat "
    "people differently because of a protected characteristic, which is unlawful in some "
    "domains: in US consumer credit, for one, the Equal Credit Opportunity Act and Regulation B "
    "prohibit taking such a characteristic into account when deciding on credit. Some of these "
    "rules are also randomised, so two identical applicants could get different decisions. Take "
    "legal advice before acting on them; lowering disparity by changing the model or its data "
    "is usually the path open to you."
)


@dataclass(frozen=True)
class GroupRule:
    """One group's rule, and its rates before (the model's threshold) and after (the rule)."""

    group: str
    rows: int
    rule: tuple[dict[str, Any], ...]  # each {"probability", "operation", "threshold"}
    ignore: dict[str, float] | None  # equalized odds: {"probability", "constant"} or None
    selection_rate_before: float
    selection_rate_after: float
    true_positive_rate_before: float | None
    true_positive_rate_after: float | None
    false_positive_rate_before: float | None
    false_positive_rate_after: float | None

    @property
    def randomised(self) -> bool:
        used = [part for part in self.rule if part["probability"] > 0]
        return len(used) > 1 or bool(self.ignore and self.ignore["probability"] > 0)


@dataclass(frozen=True)
class MitigationResult:
    """What fairlearn's ThresholdOptimizer would do on the evaluation data; never applied."""

    constraint: str  # "demographic_parity" or "equalized_odds"
    threshold: float  # the model's own decision threshold ("before")
    disparity_limit: float | None  # the policy's limit on the disparity, if it sets one
    disparity_before: float
    disparity_after: float
    accuracy_before: float
    accuracy_after: float
    groups: tuple[GroupRule, ...]
    rows: int  # rows analysed (rows without a group are left out)
    caveat: str = CAVEAT
    applied: bool = False

    @property
    def randomised(self) -> bool:
        return any(g.randomised for g in self.groups)

    def meets_limit(self, disparity: float) -> bool | None:
        return None if self.disparity_limit is None else disparity <= self.disparity_limit

    def figures(self) -> dict[str, float | int | None]:
        """Flat figures (see docs/evaluation-part2.md); informative, not a pass/fail."""
        return to_json_safe({  # type: ignore[no-any-return]
            "mitigation_disparity_before": self.disparity_before,
            "mitigation_disparity_after": self.disparity_after,
            "mitigation_accuracy_before": self.accuracy_before,
            "mitigation_accuracy_after": self.accuracy_after,
            "mitigation_accuracy_cost": self.accuracy_before - self.accuracy_after,
        })

    def as_dict(self) -> dict[str, Any]:
        return to_json_safe({  # type: ignore[no-any-return]
            "check": CHECK, "applied": self.applied, "caveat": self.caveat,
            "constraint": self.constraint, "objective": "accuracy",
            "threshold": self.threshold, "disparity_limit": self.disparity_limit,
            "disparity_before": self.disparity_before, "disparity_after": self.disparity_after,
            "meets_limit_before": self.meets_limit(self.disparity_before),
            "meets_limit_after": self.meets_limit(self.disparity_after),
            "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after,
            "randomised": self.randomised, "rows": self.rows,
            "groups": [{**vars(g), "randomised": g.randomised} for g in self.groups],
            "figures": self.figures(),
        })


def _score_estimator() -> Any:
    """The model as fairlearn sees it: its input X is the score column, returned as is."""
    from sklearn.base import BaseEstimator

    class Scores(BaseEstimator):  # type: ignore[misc]
        def fit(self, X: Any, y: Any) -> Scores:
            return self

        def predict(self, X: Any) -> np.ndarray:
            return np.asarray(X, dtype=np.float64)[:, 0]

        def __sklearn_is_fitted__(self) -> bool:
            return True  # the scores come from the registered model: nothing to fit

    return Scores()


def threshold_what_if(scores: np.ndarray, labels: np.ndarray, group_codes: np.ndarray,
                      group_labels: Sequence[str], *, constraint: str = "demographic_parity",
                      threshold: float = 0.5, disparity_limit: float | None = None,
                      grid_size: int = 1000) -> MitigationResult:
    """Fit ThresholdOptimizer on the scores and labels (1 = favourable), per group.

    ``group_codes`` index ``group_labels``; rows with a negative code have no group and are
    left out. The disparity is the largest difference between groups in selection rate
    (demographic parity) or the larger of those in true and false positive rate (equalized odds).
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in CONSTRAINTS:
        raise ValueError(f"The constraint is one of {', '.join(CONSTRAINTS)}, not {constraint!r}.")
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    codes = np.asarray(group_codes)
    if not (scores.shape == y.shape == codes.shape) or scores.ndim != 1:
        raise ValueError("Give one score, one label and one group code per row.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("Labels must be 0 or 1 (1 = the favourable outcome).")
    if codes.max(initial=-1) >= len(group_labels):
        raise ValueError(f"A group code is {codes.max()}, but only {len(group_labels)} group "
                         f"labels were given.")
    keep = (codes >= 0) & np.isfinite(scores)
    scores, y, codes = scores[keep], y[keep].astype(int), codes[keep]
    present = np.unique(codes)
    if len(present) < 2:
        raise ValueError("The what-if needs rows from at least two groups.")
    if constraint == "equalized_odds":
        for code in present:
            if len(np.unique(y[codes == code])) < 2:
                raise ValueError(f"Group {group_labels[code]!r} has only one outcome; equalized "
                                 f"odds needs both outcomes in every group.")
    names = np.asarray(group_labels, dtype=object)[codes]
    optimizer = ThresholdOptimizer(estimator=_score_estimator(), constraints=constraint,
                                   objective="accuracy_score", grid_size=grid_size, prefit=True,
                                   predict_method="predict")
    optimizer.fit(scores.reshape(-1, 1), y, sensitive_features=names)
    rules = optimizer.interpolated_thresholder_.interpolation_dict

    before = (scores >= threshold).astype(np.float64)
    after = np.zeros(len(scores))
    groups = []
    for code in present:
        label = str(group_labels[code])
        members = codes == code
        rule = rules[group_labels[code]]
        after[members] = _positive_probability(rule, scores[members])
        groups.append(GroupRule(
            group=label, rows=int(members.sum()), rule=_describe(rule),
            ignore=({"probability": float(rule.p_ignore),
                     "constant": float(rule.prediction_constant)}
                    if "p_ignore" in rule else None),
            selection_rate_before=float(before[members].mean()),
            selection_rate_after=float(after[members].mean()),
            true_positive_rate_before=_rate(before, y, members, 1),
            true_positive_rate_after=_rate(after, y, members, 1),
            false_positive_rate_before=_rate(before, y, members, 0),
            false_positive_rate_after=_rate(after, y, members, 0)))
    return MitigationResult(
        constraint=constraint, threshold=threshold, disparity_limit=disparity_limit,
        disparity_before=_disparity(groups, constraint, "before"),
        disparity_after=_disparity(groups, constraint, "after"),
        accuracy_before=_accuracy(before, y), accuracy_after=_accuracy(after, y),
        groups=tuple(groups), rows=len(scores))


def _positive_probability(rule: Any, scores: np.ndarray) -> np.ndarray:
    """P(favourable decision) per row under the group's (possibly randomised) rule."""
    probability = rule.p0 * rule.operation0(scores) + rule.p1 * rule.operation1(scores)
    if "p_ignore" in rule:
        probability = rule.p_ignore * rule.prediction_constant \
            + (1 - rule.p_ignore) * probability
    return np.asarray(probability, dtype=np.float64)


def _describe(rule: Any) -> tuple[dict[str, Any], ...]:
    return tuple({"probability": float(p), "operation": op.operator,
                  "threshold": float(op.threshold)}
                 for p, op in ((rule.p0, rule.operation0), (rule.p1, rule.operation1)))


def _rate(decisions: np.ndarray, y: np.ndarray, members: np.ndarray, outcome: int
          ) -> float | None:
    """Expected share of favourable decisions among the group's rows with this outcome."""
    rows = members & (y == outcome)
    return float(decisions[rows].mean()) if rows.any() else None


def _accuracy(decisions: np.ndarray, y: np.ndarray) -> float:
    """Expected accuracy of (possibly randomised) decisions: P(decision = outcome)."""
    return float(np.mean(np.where(y == 1, decisions, 1.0 - decisions)))


def _disparity(groups: list[GroupRule], constraint: str, when: str) -> float:
    def spread(name: str) -> float:
        values = [getattr(g, f"{name}_{when}") for g in groups]
        present = [v for v in values if v is not None]
        return max(present) - min(present) if present else 0.0

    if constraint == "demographic_parity":
        return spread("selection_rate")
    return max(spread("true_positive_rate"), spread("false_positive_rate"))


def sample_positions(rows: int, seed: int, size: int | None = None) -> np.ndarray:
    """The rows the what-if analyses: all of them up to ``size`` (``SAMPLE_ROWS``), else
    ``size`` of them drawn without replacement by ``seed`` (sorted). Depends on the row count
    and the seed only."""
    size = SAMPLE_ROWS if size is None else size
    if rows <= size:
        return np.arange(rows, dtype=np.int64)
    rng = np.random.default_rng([seed, 2])  # a stream of its own, not SHAP's sample
    return np.sort(rng.choice(rows, size=size, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class FeatureWhatIf:
    """The what-if for one sensitive feature, or why it could not be computed."""

    feature: str
    result: MitigationResult | None
    reason: str = ""  # when result is None


@dataclass(frozen=True)
class MitigationByFeature:
    """The what-if per sensitive feature; never applied."""

    constraint: str
    threshold: float
    disparity_limit: float | None
    features: tuple[FeatureWhatIf, ...]
    sample: dict[str, Any]  # {"rows", "analysed", "drawn", "seed"}
    caveat: str = CAVEAT
    applied: bool = False

    def figures(self) -> dict[str, float | int | None]:
        """Per feature ``mitigation_*[feature]``; unsuffixed, the worst over the features
        (largest disparity and cost, lowest accuracy), as the bias check's summary."""
        out: dict[str, Any] = {}
        per = {f.feature: f.result.figures() for f in self.features if f.result is not None}
        for name, worst in (("mitigation_disparity_before", max),
                            ("mitigation_disparity_after", max),
                            ("mitigation_accuracy_before", min),
                            ("mitigation_accuracy_after", min),
                            ("mitigation_accuracy_cost", max)):
            values = [float(v[name]) for v in per.values() if v[name] is not None]  # type: ignore[arg-type]
            out[name] = worst(values) if values else None
        out["mitigation_rows"] = self.sample["analysed"]
        for feature, figures in per.items():
            out.update({f"{name}[{feature}]": value for name, value in figures.items()})
        return to_json_safe(out)  # type: ignore[no-any-return]

    def as_dict(self) -> dict[str, Any]:
        features = []
        for f in self.features:
            entry: dict[str, Any] = {"feature": f.feature, "reason": f.reason}
            if f.result is not None:
                full = f.result.as_dict()
                entry.update({k: full[k] for k in (
                    "disparity_before", "disparity_after", "meets_limit_before",
                    "meets_limit_after", "accuracy_before", "accuracy_after", "randomised",
                    "rows", "groups")})
            features.append(entry)
        return to_json_safe({  # type: ignore[no-any-return]
            "check": CHECK, "applied": self.applied, "caveat": self.caveat,
            "constraint": self.constraint, "objective": "accuracy",
            "threshold": self.threshold, "disparity_limit": self.disparity_limit,
            "randomised": any(f.result.randomised for f in self.features if f.result),
            "sample": self.sample, "features": features, "figures": self.figures(),
        })


def what_if_per_feature(scores: np.ndarray, labels: np.ndarray,
                        groups: Sequence[tuple[str, np.ndarray, Sequence[str]]], *,
                        constraint: str = "demographic_parity", threshold: float = 0.5,
                        disparity_limit: float | None = None, sample: dict[str, Any],
                        grid_size: int = 1000) -> MitigationByFeature:
    """:func:`threshold_what_if` for each ``(feature, codes, labels)`` of ``groups`` on the
    same rows. A feature it cannot be computed for (one group only, or one outcome in a group
    under equalized odds) is kept with the reason; ValueError when no feature can be."""
    features = []
    for feature, codes, group_labels in groups:
        try:
            features.append(FeatureWhatIf(feature, threshold_what_if(
                scores, labels, codes, group_labels, constraint=constraint,
                threshold=threshold, disparity_limit=disparity_limit, grid_size=grid_size)))
        except ValueError as problem:
            features.append(FeatureWhatIf(feature, None, str(problem)))
    if not any(f.result is not None for f in features):
        raise ValueError("The what-if could not be computed for any sensitive feature: "
                         + "; ".join(f"{f.feature}: {f.reason}" for f in features))
    return MitigationByFeature(constraint=constraint, threshold=threshold,
                               disparity_limit=disparity_limit, features=tuple(features),
                               sample=dict(sample))
