"""Sensitive features as integer group codes: continuous columns binned by stored edges,
categorical columns encoded, and several combined into their intersection.

A ``Grouping`` is one code per row (0 <= code < len(labels)) and the labels of the codes. Its
label set is fixed by the bins or categories and always ends with ``MISSING``, the group of rows
whose value is missing (None, NaN or empty text), so that the codes of two chunks of one data set
mean the same groups. Groups no row falls into are simply not reported by the checks.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evaluation.metrics.inputs import MetricInputError, json_label

MISSING = "(missing)"
# Intersections are counted over every combination of values (so that chunks agree); more cells
# than this is a grouping too fine to judge and too large to bootstrap.
MAX_CELLS = 4096
# Feature names appear in figure names such as ``dp_difference[sex&age]``.
_RESERVED = "&[]"


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise MetricInputError(f"A sensitive feature needs a name (text), got {name!r}.")
    if any(c in name for c in _RESERVED):
        raise MetricInputError(f"Sensitive feature name {name!r} may not contain any of "
                               f"{' '.join(_RESERVED)} (they build intersection and figure "
                               "names); rename the column.")
    return name


def _format_edge(edge: float) -> str:
    return f"{edge:g}"


@dataclass(frozen=True)
class BinSpec:
    """How a continuous column is cut into groups: ``edges`` e_0 < e_1 < ... < e_m give m + 1
    bins, each closed on the left and open on the right: (-inf, e_0), [e_0, e_1), ...,
    [e_m, +inf). So with edges (25, 60) an age of 25 is in the middle bin and 60 in the last.
    ``labels`` names the bins in order; by default ``<25``, ``25 to <60``, ``≥60``."""

    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        edges, labels = self.edges, self.labels
        if not isinstance(edges, tuple) or not edges:
            raise MetricInputError("Bins need at least one edge, e.g. edges [25, 60].")
        for edge in edges:
            if isinstance(edge, bool) or not isinstance(edge, numbers.Real) \
                    or not math.isfinite(float(edge)):
                raise MetricInputError(f"Bin edges must be finite numbers; got {edge!r}.")
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise MetricInputError(f"Bin edges must be strictly increasing; got "
                                   f"{list(edges)}.")
        if not isinstance(labels, tuple) or len(labels) != len(edges) + 1:
            raise MetricInputError(f"{len(edges)} edges make {len(edges) + 1} bins, so give "
                                   f"{len(edges) + 1} labels; got {len(labels)}.")
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise MetricInputError(f"Bin labels must be non-empty text; got {label!r}.")
            if label == MISSING:
                raise MetricInputError(f"{MISSING!r} is the label of missing values; choose "
                                       "another bin label.")
        if len(set(labels)) != len(labels):
            raise MetricInputError(f"Bin labels must differ from each other; got {list(labels)}.")

    @classmethod
    def of(cls, edges: Sequence[float], labels: Sequence[str] | None = None) -> BinSpec:
        """Bins with the given edges; labels ``<e0``, ``e0 to <e1``, ..., ``≥em`` unless given."""
        edge_tuple = tuple(edges)
        if labels is None:
            if not edge_tuple or not all(isinstance(e, numbers.Real) for e in edge_tuple):
                cls(edge_tuple, ())  # raises the error about the edges
            shown = [_format_edge(float(e)) for e in edge_tuple]
            labels = ([f"<{shown[0]}"]
                      + [f"{a} to <{b}" for a, b in itertools.pairwise(shown)]
                      + [f"≥{shown[-1]}"])
        return cls(tuple(float(e) if isinstance(e, numbers.Real) and not isinstance(e, bool)
                         else e for e in edge_tuple), tuple(labels))

    @classmethod
    def from_dict(cls, data: Any) -> BinSpec:
        """Read ``{"edges": [...], "labels": [...]}`` (labels optional), as stored with a data
        set."""
        if not isinstance(data, Mapping) or not isinstance(data.get("edges"), list):
            raise MetricInputError('Bins are {"edges": [numbers], "labels": [texts] (optional)}.')
        unknown = set(data) - {"edges", "labels"}
        if unknown:
            raise MetricInputError(f"Unknown keys in bins: {', '.join(sorted(unknown))}.")
        labels = data.get("labels")
        if labels is not None and not isinstance(labels, list):
            raise MetricInputError("Bin labels must be a list of texts.")
        return cls.of(data["edges"], labels)

    def as_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "labels": list(self.labels)}

    def bin_of(self, values: NDArray[np.float64]) -> NDArray[np.intp]:
        """The bin of each value (NaN goes to the last bin: the caller handles missing)."""
        return np.searchsorted(np.asarray(self.edges), values, side="right").astype(np.intp)


@dataclass(frozen=True, eq=False)
class Grouping:
    """One sensitive feature (or an intersection of several) as a group code per row."""

    name: str
    codes: NDArray[np.intp]
    labels: tuple[str, ...]
    features: tuple[str, ...]  # the feature itself, or the intersected features
    parts: tuple[tuple[str, ...], ...]  # per label, the value of each of ``features``

    @property
    def size(self) -> int:
        return len(self.labels)


def _single(name: str, codes: NDArray[np.intp], labels: Sequence[str]) -> Grouping:
    return Grouping(name=name, codes=codes, labels=tuple(labels), features=(name,),
                    parts=tuple((label,) for label in labels))


def _missing_mask(values: pd.Series) -> NDArray[np.bool_]:
    missing = np.asarray(values.isna(), dtype=bool)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype(str).str.strip()
        missing |= np.asarray(text == "", dtype=bool)
    return missing


def bin_column(name: str, values: ArrayLike, bins: BinSpec) -> Grouping:
    """Group a continuous column by ``bins``; missing values form the ``MISSING`` group and any
    other value that is not a number is an error."""
    _check_name(name)
    series = pd.Series(np.asarray(values)) if not isinstance(values, pd.Series) \
        else values.reset_index(drop=True)
    missing = _missing_mask(series)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = np.asarray(numeric.isna(), dtype=bool) & ~missing
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(series[bad])[:3])
        raise MetricInputError(f"Sensitive feature {name!r} is binned, so its values must be "
                               f"numbers; {int(bad.sum())} rows are not (e.g. {examples}).")
    floats = np.asarray(numeric, dtype=np.float64)
    codes = bins.bin_of(floats)
    codes[missing] = len(bins.labels)
    return _single(name, codes, (*bins.labels, MISSING))


def encode_column(name: str, values: ArrayLike,
                  categories: Sequence[Any] | None = None) -> Grouping:
    """Group a categorical column by its values, compared as text (1 and "1" are one group).
    The groups are ``categories`` in the given order if given (another value is an error), else
    the values found, sorted as text; then ``MISSING``."""
    _check_name(name)
    series = pd.Series(np.asarray(values)) if not isinstance(values, pd.Series) \
        else values.reset_index(drop=True)
    found_codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [str(json_label(u)).strip() for u in uniques]
    if MISSING in texts:
        raise MetricInputError(f"Sensitive feature {name!r} has the value {MISSING!r}, which "
                               "names missing values; rename that value.")
    if categories is None:
        labels = sorted({t for t in texts if t})
    else:
        labels = [str(json_label(c)).strip() for c in categories]
        if len(set(labels)) != len(labels) or "" in labels or MISSING in labels:
            raise MetricInputError(f"The categories of {name!r} must be distinct, non-empty "
                                   f"and not {MISSING!r}; got {labels}.")
        unknown = sorted({t for t in texts if t} - set(labels))
        if unknown:
            raise MetricInputError(f"Sensitive feature {name!r} has values that are not among "
                                   f"its categories: {', '.join(map(repr, unknown[:5]))}.")
    position = {label: i for i, label in enumerate(labels)}
    lookup = np.array([position.get(t, len(labels)) for t in texts] + [len(labels)],
                      dtype=np.intp)
    # factorize marks missing values with -1, which indexes the trailing MISSING entry
    codes = lookup[np.asarray(found_codes, dtype=np.intp)]
    return _single(name, codes, (*labels, MISSING))


def encode_columns(columns: Mapping[str, ArrayLike],
                   bins: Mapping[str, BinSpec] | None = None) -> list[Grouping]:
    """Each sensitive column as a Grouping: binned when ``bins`` has an entry for it."""
    bins = bins or {}
    unknown = set(bins) - set(columns)
    if unknown:
        raise MetricInputError(f"Bins are given for columns that are not sensitive features: "
                               f"{', '.join(sorted(unknown))}.")
    return [bin_column(name, values, bins[name]) if name in bins
            else encode_column(name, values) for name, values in columns.items()]


def check_groupings(groupings: Sequence[Grouping], n: int) -> tuple[Grouping, ...]:
    """The groupings of a check, each one code per row, names unique."""
    out = tuple(groupings)
    if not all(isinstance(g, Grouping) for g in out):
        raise MetricInputError("Groups must be encoded first (groups.encode_column, "
                               "groups.bin_column).")
    names = [g.name for g in out]
    if len(set(names)) != len(names):
        raise MetricInputError(f"Sensitive features must have different names; got {names}.")
    for g in out:
        if len(g.codes) != n:
            raise MetricInputError(f"Sensitive feature {g.name!r} has {len(g.codes)} rows but "
                                   f"the labels have {n}.")
    return out


def intersect(groupings: Sequence[Grouping]) -> Grouping:
    """The intersection of several groupings: one group per combination of their values, every
    combination counted (observed or not), codes in row-major order (the first feature varies
    slowest). Named ``a&b``; a group's label is ``value_a & value_b``."""
    if len(groupings) == 1:
        return groupings[0]
    if not groupings:
        raise MetricInputError("An intersection needs at least one sensitive feature.")
    cells = math.prod(g.size for g in groupings)
    names = [g.name for g in groupings]
    if cells > MAX_CELLS:
        raise MetricInputError(f"The intersection of {', '.join(names)} has {cells} groups (more "
                               f"than {MAX_CELLS}): bin or merge some of their values.")
    codes = np.zeros(len(groupings[0].codes), dtype=np.intp)
    for g in groupings:
        codes *= g.size
        codes += g.codes
    parts = tuple(tuple(itertools.chain.from_iterable(combo))
                  for combo in itertools.product(*(g.parts for g in groupings)))
    return Grouping(name="&".join(names), codes=codes,
                    labels=tuple(" & ".join(p) for p in parts),
                    features=tuple(itertools.chain.from_iterable(g.features for g in groupings)),
                    parts=parts)


def views(groupings: Sequence[Grouping],
          cells: Grouping) -> list[tuple[Grouping, int | None]]:
    """The groupings a check reports: each feature (with its position), then, when there are
    several, their intersection ``cells`` (position None)."""
    out: list[tuple[Grouping, int | None]] = [(g, k) for k, g in enumerate(groupings)]
    if len(groupings) > 1:
        out.append((cells, None))
    return out


def cell_sums_to_groups(sums: NDArray[np.float64], groupings: Sequence[Grouping],
                        position: int | None) -> NDArray[np.float64]:
    """Sum an array whose axis 1 runs over the intersection cells of ``groupings`` into the
    groups of the grouping at ``position`` (None: keep the intersection cells)."""
    if position is None or len(groupings) == 1:
        return sums
    sizes = [g.size for g in groupings]
    shaped = sums.reshape(sums.shape[0], *sizes, *sums.shape[2:])
    others = tuple(1 + k for k in range(len(sizes)) if k != position)
    return np.asarray(shaped.sum(axis=others), dtype=np.float64)
