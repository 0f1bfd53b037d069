"""Drift between the reference data and the evaluation data: per feature, and of the predictions.

Everything is computed from counts in bins fixed by the reference, so chunks of either data set
merge exactly (counts add up) and the statistics are computed once from the merged counts:

1. :func:`binning` fixes the bins from the reference data (all of it, or a seeded sample of it
   when it is too large to read at once: the bins only need to be fixed, not optimal).
2. :func:`count` counts a data set, or a chunk of one, into those bins; ``Counts.merge`` adds
   chunks together.
3. :func:`drift` computes the statistics from the reference's and the evaluation's counts.

Numeric columns (and the predictions):

* **PSI** over up to 10 bins whose edges are the reference's deciles (inverted-CDF quantiles,
  so every edge is a value of the reference). Bins are closed on the right, ``(e[k-1], e[k]]``;
  the lowest is open below and the highest open above, so evaluation values beyond the
  reference's range land in the outer bins. Repeated edges (a value holding more than a tenth of
  the reference) are merged, which gives a heavily tied column fewer bins. Missing values are a
  bin of their own.
* **KS** statistic from the same kind of bins, finer: up to 1000 edges at the reference's
  quantiles. The empirical CDFs are compared at every edge, which gives a lower bound D_binned
  of the exact statistic D; between two edges each CDF can only rise by the share of its values
  lying strictly inside that bin, so D <= D_binned + ``ks_error_bound``, the largest such share
  (values equal to an edge are counted separately to make this tight). A column with few
  distinct values, all of them edges, gets its exact D with a bound of 0. The p-value is the
  asymptotic two-sided one of ``scipy.stats.ks_2samp(method="asymp")`` evaluated at D_binned.
  Missing values are left out of KS.

Categorical columns: PSI and a chi-square test of homogeneity (``scipy.stats.chi2_contingency``
without Yates' correction) over the reference's categories, one bin for categories the reference
never had and one for missing values (bins empty in both data sets are left out of the test).

PSI is ``sum((e - r) * ln(e / r))`` over the bins' shares r (reference) and e (evaluation), a
share below 1e-4 counted as 1e-4 so that an empty bin gives a large but finite term. Conventional
bands, the defaults here: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 significant.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.metrics.results import to_json_safe

CHECK = "drift"
PSI_BINS = 10
KS_BINS = 1000
PSI_EPSILON = 1e-4
PSI_BANDS = (0.1, 0.25)  # stable below the first, significant above the second
PREDICTION = "prediction"


@dataclass(frozen=True)
class NumericBins:
    """Edges from the reference: PSI's deciles and KS's finer quantiles."""

    psi_edges: tuple[float, ...]
    ks_edges: tuple[float, ...]


@dataclass(frozen=True)
class Binning:
    """The bins of every column (numeric edges or categorical categories) and of the scores."""

    numeric: Mapping[str, NumericBins]
    categorical: Mapping[str, tuple[Any, ...]]
    prediction: NumericBins | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)


@dataclass(frozen=True)
class NumericCounts:
    """A numeric column's values counted into its bins."""

    psi: tuple[int, ...]  # per PSI bin: len(psi_edges) + 1
    ks: tuple[int, ...]  # per KS bin: len(ks_edges) + 1
    ks_at_edge: tuple[int, ...]  # values equal to each KS edge (included in ks)
    missing: int

    def merge(self, other: NumericCounts) -> NumericCounts:
        return NumericCounts(psi=_add(self.psi, other.psi), ks=_add(self.ks, other.ks),
                             ks_at_edge=_add(self.ks_at_edge, other.ks_at_edge),
                             missing=self.missing + other.missing)


@dataclass(frozen=True)
class CategoricalCounts:
    """A categorical column's values counted per reference category."""

    categories: tuple[int, ...]
    unseen: int  # values the reference never had
    missing: int

    def merge(self, other: CategoricalCounts) -> CategoricalCounts:
        return CategoricalCounts(categories=_add(self.categories, other.categories),
                                 unseen=self.unseen + other.unseen,
                                 missing=self.missing + other.missing)


@dataclass(frozen=True)
class Counts:
    """One data set (or chunk) counted into the bins: per column, and the predictions."""

    rows: int
    columns: Mapping[str, NumericCounts | CategoricalCounts]
    prediction: NumericCounts | None = None

    def merge(self, other: Counts) -> Counts:
        if list(self.columns) != list(other.columns) or \
                (self.prediction is None) != (other.prediction is None):
            raise ValueError("Cannot merge counts of different columns.")
        prediction = None
        if self.prediction is not None and other.prediction is not None:
            prediction = self.prediction.merge(other.prediction)
        return Counts(rows=self.rows + other.rows,
                      columns={name: _merge_counts(counts, other.columns[name])
                               for name, counts in self.columns.items()},
                      prediction=prediction)


@dataclass(frozen=True)
class FeatureDrift:
    """The drift of one column (or of the predictions)."""

    column: str
    kind: str  # "numeric" or "categorical"
    psi: float
    band: str  # "stable", "moderate" or "significant"
    reference_rows: int
    evaluation_rows: int
    bins: tuple[str, ...]  # labels of the PSI bins
    reference_shares: tuple[float, ...]
    evaluation_shares: tuple[float, ...]
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    ks_error_bound: float | None = None  # exact KS <= ks_statistic + ks_error_bound
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    chi2_dof: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return to_json_safe(vars(self))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DriftResult:
    """Drift of every column and of the predictions, with the bands used."""

    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None = None
    psi_bands: tuple[float, float] = PSI_BANDS
    settings: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, float | int | None]:
        """Flat figures for policy thresholds (see docs/evaluation-part2.md)."""
        psis = [f.psi for f in self.features if f.psi is not None]
        ks = [f.ks_statistic for f in self.features if f.ks_statistic is not None]
        figures: dict[str, float | int | None] = {
            "max_psi": max(psis) if psis else None,
            "features_drifted": sum(f.band == "significant" for f in self.features),
            "features_moderate_drift": sum(f.band == "moderate" for f in self.features),
            "max_ks_statistic": max(ks) if ks else None,
            "prediction_psi": self.prediction.psi if self.prediction else None,
            "prediction_ks_statistic": self.prediction.ks_statistic if self.prediction
            else None,
        }
        return to_json_safe(figures)  # type: ignore[no-any-return]

    def as_dict(self) -> dict[str, Any]:
        return to_json_safe({  # type: ignore[no-any-return]
            "check": CHECK, "psi_bands": {"moderate": self.psi_bands[0],
                                          "significant": self.psi_bands[1]},
            "settings": self.settings,
            "features": [f.as_dict() for f in self.features],
            "prediction": self.prediction.as_dict() if self.prediction else None,
            "figures": self.figures(),
        })


def binning(reference: pd.DataFrame, columns: Sequence[str], *,
            reference_scores: np.ndarray | None = None, psi_bins: int = PSI_BINS,
            ks_bins: int = KS_BINS) -> Binning:
    """Bins fixed by the reference: numeric dtypes get quantile edges, other columns categories."""
    absent = [c for c in columns if c not in reference.columns]
    if absent:
        raise ValueError(f"The reference data lacks the column(s) {', '.join(absent)}.")
    if psi_bins < 2 or ks_bins < psi_bins:
        raise ValueError("Use at least 2 PSI bins, and at least as many KS bins.")
    numeric: dict[str, NumericBins] = {}
    categorical: dict[str, tuple[Any, ...]] = {}
    for name in columns:
        series = reference[name]
        if _is_numeric(series):
            numeric[name] = _numeric_bins(series.to_numpy(dtype=np.float64, na_value=np.nan),
                                          psi_bins, ks_bins)
        else:
            categorical[name] = tuple(sorted(set(series.dropna().unique()),
                                             key=lambda v: (type(v).__name__, str(v))))
    prediction = None
    if reference_scores is not None:
        prediction = _numeric_bins(np.asarray(reference_scores, dtype=np.float64), psi_bins,
                                   ks_bins)
    return Binning(numeric=numeric, categorical=categorical, prediction=prediction)


def count(frame: pd.DataFrame, bins: Binning, *, scores: np.ndarray | None = None) -> Counts:
    """Count ``frame``'s columns (and ``scores``, if the binning has prediction bins)."""
    absent = [c for c in bins.columns if c not in frame.columns]
    if absent:
        raise ValueError(f"The data lacks the column(s) {', '.join(absent)}.")
    if (scores is None) != (bins.prediction is None):
        raise ValueError("Give scores exactly when the binning has prediction bins.")
    columns: dict[str, NumericCounts | CategoricalCounts] = {}
    for name, edges in bins.numeric.items():
        if not _is_numeric(frame[name]):
            raise ValueError(f"Column {name!r} is numeric in the reference but not in this data.")
        columns[name] = _count_numeric(frame[name].to_numpy(dtype=np.float64, na_value=np.nan),
                                       edges)
    for name, categories in bins.categorical.items():
        series = frame[name]
        missing = series.isna().to_numpy()
        codes = pd.Categorical(series.astype(object), categories=categories).codes
        per_category = np.bincount(codes[codes >= 0], minlength=len(categories))
        columns[name] = CategoricalCounts(
            categories=tuple(int(c) for c in per_category),
            unseen=int(((codes < 0) & ~missing).sum()), missing=int(missing.sum()))
    prediction = None
    if scores is not None and bins.prediction is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(frame),):
            raise ValueError(f"There are {len(frame)} rows but {scores.size} scores.")
        prediction = _count_numeric(scores, bins.prediction)
    return Counts(rows=len(frame), columns=columns, prediction=prediction)


def drift(bins: Binning, reference: Counts, evaluation: Counts, *,
          psi_bands: tuple[float, float] = PSI_BANDS) -> DriftResult:
    """Drift statistics from the two data sets' counts in the same bins."""
    if list(reference.columns) != list(evaluation.columns):
        raise ValueError("The reference and the evaluation were counted over different columns.")
    features = []
    for name in bins.columns:
        ref, ev = reference.columns[name], evaluation.columns[name]
        if isinstance(ref, NumericCounts) and isinstance(ev, NumericCounts):
            features.append(_numeric_drift(name, bins.numeric[name], ref, ev, psi_bands))
        elif isinstance(ref, CategoricalCounts) and isinstance(ev, CategoricalCounts):
            features.append(_categorical_drift(name, bins.categorical[name], ref, ev,
                                               psi_bands))
        else:
            raise ValueError(f"Column {name!r} was counted as different kinds.")
    prediction = None
    if bins.prediction is not None and reference.prediction is not None \
            and evaluation.prediction is not None:
        prediction = _numeric_drift(PREDICTION, bins.prediction, reference.prediction,
                                    evaluation.prediction, psi_bands)
    settings = {"psi_bins": max((len(b.psi_edges) + 1 for b in bins.numeric.values()),
                                default=PSI_BINS),
                "psi_epsilon": PSI_EPSILON, "chi2_correction": False}
    return DriftResult(features=tuple(features), prediction=prediction, psi_bands=psi_bands,
                       settings=settings)


def drift_frames(reference: pd.DataFrame, evaluation: pd.DataFrame, columns: Sequence[str], *,
                 reference_scores: np.ndarray | None = None,
                 evaluation_scores: np.ndarray | None = None, psi_bins: int = PSI_BINS,
                 ks_bins: int = KS_BINS,
                 psi_bands: tuple[float, float] = PSI_BANDS) -> DriftResult:
    """Drift between two frames held in memory: bin, count both, compare."""
    if (reference_scores is None) != (evaluation_scores is None):
        raise ValueError("Give the scores of both data sets, or of neither.")
    bins = binning(reference, columns, reference_scores=reference_scores, psi_bins=psi_bins,
                   ks_bins=ks_bins)
    return drift(bins, count(reference, bins, scores=reference_scores),
                 count(evaluation, bins, scores=evaluation_scores), psi_bands=psi_bands)


# Stored aggregates: bins and counts as plain JSON, so counts of a window (ongoing monitoring
# stores one per window of the prediction log) are merged later without reading the rows again.

def binning_as_dict(bins: Binning) -> dict[str, Any]:
    def numeric(b: NumericBins) -> dict[str, list[float]]:
        return {"psi_edges": list(b.psi_edges), "ks_edges": list(b.ks_edges)}
    return {"numeric": {name: numeric(b) for name, b in bins.numeric.items()},
            "categorical": {name: list(c) for name, c in bins.categorical.items()},
            "prediction": numeric(bins.prediction) if bins.prediction else None}


def binning_from_dict(data: Mapping[str, Any]) -> Binning:
    def numeric(b: Mapping[str, Any]) -> NumericBins:
        return NumericBins(psi_edges=tuple(float(e) for e in b["psi_edges"]),
                           ks_edges=tuple(float(e) for e in b["ks_edges"]))
    return Binning(numeric={name: numeric(b) for name, b in data["numeric"].items()},
                   categorical={name: tuple(c) for name, c in data["categorical"].items()},
                   prediction=numeric(data["prediction"]) if data.get("prediction") else None)


def counts_as_dict(counts: Counts) -> dict[str, Any]:
    def one(c: NumericCounts | CategoricalCounts) -> dict[str, Any]:
        if isinstance(c, NumericCounts):
            return {"psi": list(c.psi), "ks": list(c.ks), "ks_at_edge": list(c.ks_at_edge),
                    "missing": c.missing}
        return {"categories": list(c.categories), "unseen": c.unseen, "missing": c.missing}
    return {"rows": counts.rows, "columns": {name: one(c) for name, c in counts.columns.items()},
            "prediction": one(counts.prediction) if counts.prediction else None}


def counts_from_dict(data: Mapping[str, Any]) -> Counts:
    def one(c: Mapping[str, Any]) -> NumericCounts | CategoricalCounts:
        if "psi" in c:
            return NumericCounts(psi=tuple(c["psi"]), ks=tuple(c["ks"]),
                                 ks_at_edge=tuple(c["ks_at_edge"]), missing=int(c["missing"]))
        return CategoricalCounts(categories=tuple(c["categories"]), unseen=int(c["unseen"]),
                                 missing=int(c["missing"]))
    prediction = one(data["prediction"]) if data.get("prediction") else None
    if prediction is not None and not isinstance(prediction, NumericCounts):
        raise ValueError("The predictions' counts are numeric.")
    return Counts(rows=int(data["rows"]),
                  columns={name: one(c) for name, c in data["columns"].items()},
                  prediction=prediction)


def psi(reference_counts: Sequence[int], evaluation_counts: Sequence[int]) -> float:
    """Population stability index of two count vectors over the same bins (see above)."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    ev = np.asarray(evaluation_counts, dtype=np.float64)
    if ref.sum() == 0 or ev.sum() == 0:
        return math.nan
    r = np.maximum(ref / ref.sum(), PSI_EPSILON)
    e = np.maximum(ev / ev.sum(), PSI_EPSILON)
    return float(np.sum((e - r) * np.log(e / r)))


def band(value: float, bands: tuple[float, float] = PSI_BANDS) -> str:
    if not math.isfinite(value):
        return "unknown"
    return "stable" if value < bands[0] else "moderate" if value <= bands[1] else "significant"


# ---------------------------------------------------------------------------------------------

def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _numeric_bins(values: np.ndarray, psi_bins: int, ks_bins: int) -> NumericBins:
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return NumericBins(psi_edges=(), ks_edges=())
    deciles = np.quantile(finite, np.arange(1, psi_bins) / psi_bins, method="inverted_cdf")
    fine = np.quantile(finite, np.linspace(0, 1, ks_bins + 1), method="inverted_cdf")
    return NumericBins(psi_edges=tuple(float(e) for e in np.unique(deciles)),
                       ks_edges=tuple(float(e) for e in np.unique(fine)))


def _count_numeric(values: np.ndarray, bins: NumericBins) -> NumericCounts:
    """Rows per bin (e[k-1], e[k]] (and below the first edge, above the last), and per KS edge
    the rows equal to it. The values are sorted once and the edges looked up in them: on a
    million rows that is one sort instead of a binary search per row per binning."""
    missing = np.isnan(values)
    present = np.sort(values[~missing])
    psi_edges = np.asarray(bins.psi_edges, dtype=np.float64)
    ks_edges = np.asarray(bins.ks_edges, dtype=np.float64)

    def per_bin(edges: np.ndarray) -> np.ndarray:
        at_most = np.searchsorted(present, edges, side="right")  # rows <= each edge
        return np.diff(np.r_[0, at_most, len(present)])

    below = np.searchsorted(present, ks_edges, side="left")
    return NumericCounts(
        psi=_ints(per_bin(psi_edges)), ks=_ints(per_bin(ks_edges)),
        ks_at_edge=_ints(np.searchsorted(present, ks_edges, side="right") - below),
        missing=int(missing.sum()))


def _numeric_drift(name: str, bins: NumericBins, ref: NumericCounts, ev: NumericCounts,
                   bands: tuple[float, float]) -> FeatureDrift:
    from scipy import stats

    value = psi([*ref.psi, ref.missing], [*ev.psi, ev.missing])
    labels = (*_interval_labels(bins.psi_edges), "missing")
    n_ref, n_ev = sum(ref.ks), sum(ev.ks)
    ks_statistic = ks_pvalue = ks_bound = None
    if n_ref and n_ev:
        cdf_ref = np.cumsum(ref.ks)[:-1] / n_ref  # F(e[k]) for every edge
        cdf_ev = np.cumsum(ev.ks)[:-1] / n_ev
        ks_statistic = float(np.max(np.abs(cdf_ref - cdf_ev), initial=0.0))
        inside_ref = np.asarray(ref.ks) - np.append(ref.ks_at_edge, 0)
        inside_ev = np.asarray(ev.ks) - np.append(ev.ks_at_edge, 0)
        ks_bound = float(max((inside_ref / n_ref).max(), (inside_ev / n_ev).max()))
        m, n = sorted((float(n_ref), float(n_ev)), reverse=True)
        ks_pvalue = float(np.clip(stats.kstwo.sf(ks_statistic, np.round(m * n / (m + n))),
                                  0, 1))
    return FeatureDrift(
        column=name, kind="numeric", psi=value, band=band(value, bands),
        reference_rows=n_ref + ref.missing, evaluation_rows=n_ev + ev.missing, bins=labels,
        reference_shares=_shares([*ref.psi, ref.missing]),
        evaluation_shares=_shares([*ev.psi, ev.missing]),
        ks_statistic=ks_statistic, ks_pvalue=ks_pvalue, ks_error_bound=ks_bound)


def _categorical_drift(name: str, categories: tuple[Any, ...], ref: CategoricalCounts,
                       ev: CategoricalCounts, bands: tuple[float, float]) -> FeatureDrift:
    from scipy import stats

    ref_counts = [*ref.categories, ref.unseen, ref.missing]
    ev_counts = [*ev.categories, ev.unseen, ev.missing]
    value = psi(ref_counts, ev_counts)
    table = np.array([ref_counts, ev_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi2 = chi2_p = dof = None
    if table.shape[1] >= 2 and table.sum(axis=1).all():
        test = stats.chi2_contingency(table, correction=False)
        chi2, chi2_p, dof = float(test.statistic), float(test.pvalue), int(test.dof)
    return FeatureDrift(
        column=name, kind="categorical", psi=value, band=band(value, bands),
        reference_rows=sum(ref_counts), evaluation_rows=sum(ev_counts),
        bins=(*map(str, categories), "(unseen)", "missing"),
        reference_shares=_shares(ref_counts), evaluation_shares=_shares(ev_counts),
        chi2_statistic=chi2, chi2_pvalue=chi2_p, chi2_dof=dof)


def _interval_labels(edges: tuple[float, ...]) -> tuple[str, ...]:
    bounds = ["-inf", *(f"{e:.6g}" for e in edges), "inf"]
    return tuple(f"({lo}, {hi}]" if hi != "inf" else f"({lo}, inf)"
                 for lo, hi in itertools.pairwise(bounds))


def _shares(counts: Sequence[int]) -> tuple[float, ...]:
    total = sum(counts)
    return tuple(c / total if total else math.nan for c in counts)


def _ints(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if len(a) != len(b):
        raise ValueError("Cannot merge counts over different bins.")
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _merge_counts(a: NumericCounts | CategoricalCounts, b: NumericCounts | CategoricalCounts
                  ) -> NumericCounts | CategoricalCounts:
    if isinstance(a, NumericCounts) and isinstance(b, NumericCounts):
        return a.merge(b)
    if isinstance(a, CategoricalCounts) and isinstance(b, CategoricalCounts):
        return a.merge(b)
    raise ValueError("Cannot merge numeric counts with categorical counts.")

