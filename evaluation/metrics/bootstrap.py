"""The seeded Poisson bootstrap every check uses for its confidence intervals.

Method (documented in docs/evaluation-metrics.md): in replicate ``r`` row ``i`` gets the weight
``w(seed, r, i) ~ Poisson(1)``, a pure function of the three numbers, so a chunked evaluation
that sees rows [0, k) and then [k, n) gives every row the same weight as one pass over [0, n),
and weighted counts from chunks add up to the one-pass counts exactly. A figure is recomputed
from the weighted counts of each replicate; its interval is the percentile interval of the
replicates in which it is defined.

The weight: ``u`` = the top 53 bits of ``mix64(key(seed, r) + (i + 1) * GOLDEN)`` (SplitMix64's
output function), and ``w`` = the number of ``m`` with ``THRESHOLDS[m] <= u``, where
``THRESHOLDS[m] = floor(2**53 * P(Poisson(1) <= m))`` — the inverse CDF, exact to 2**-53.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, getcontext
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluation.metrics import kernels
from evaluation.metrics.inputs import MetricInputError
from evaluation.metrics.results import Estimate, finite

DEFAULT_REPLICATES = 200
DEFAULT_CONFIDENCE = 0.95
MAX_REPLICATES = 10_000

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _poisson_thresholds() -> NDArray[np.uint64]:
    """floor(2**53 * P(Poisson(1) <= m)) for m = 0, 1, ... while P(Poisson(1) > m) >= 2**-53,
    computed in 40-digit decimals so every platform gets the same integers. The weight is the
    number of thresholds at or below u, so it is capped at len(THRESHOLDS) (17): the Poisson
    mass above the cap, below 2**-53, is lumped into it."""
    getcontext().prec = 40
    term = Decimal(-1).exp()  # P(X = 0)
    cdf, out, m = term, [], 0
    while (1 - cdf) * (1 << 53) >= 1:
        out.append(int(cdf * (1 << 53)))
        m += 1
        term /= m
        cdf += term
    return np.array(out, dtype=np.uint64)


THRESHOLDS = _poisson_thresholds()


def _lookup_table() -> NDArray[np.uint8]:
    """The weight of every u with the same top 16 bits (of 53), where they all share one; 255
    for the 16 buckets a threshold cuts, whose rows are looked up in full. A shortcut only: the
    weights are exactly those of the THRESHOLDS rule."""
    low = np.arange(1 << 16, dtype=np.uint64) << np.uint64(37)  # first u of each bucket
    high = low + np.uint64((1 << 37) - 1)  # last u of each bucket
    first = np.searchsorted(THRESHOLDS, low, side="right")
    last = np.searchsorted(THRESHOLDS, high, side="right")
    return np.where(first == last, first, 255).astype(np.uint8)


_TABLE = _lookup_table()


def _mix64_int(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)


def replicate_key(seed: int, replicate: int) -> int:
    """The 64-bit key of replicate ``replicate`` under ``seed``."""
    return _mix64_int((_mix64_int((seed + _GOLDEN) & _MASK) + (replicate + 1) * _GOLDEN) & _MASK)


def poisson_weights(seed: int, replicate: int, rows: NDArray[np.integer[Any]]) -> NDArray[np.uint8]:
    """The Poisson(1) weights of ``rows`` (row indices, any order) in one bootstrap replicate:
    one compiled pass over the rows (evaluation.metrics.kernels), exactly
    :func:`poisson_weights_reference`."""
    return kernels.poisson_weights(rows, replicate_key(seed, replicate), _TABLE, THRESHOLDS)


def poisson_weights_reference(seed: int, replicate: int,
                              rows: NDArray[np.integer[Any]]) -> NDArray[np.uint8]:
    """:func:`poisson_weights` in numpy, the definition the tests compare the kernel with."""
    key = np.uint64(replicate_key(seed, replicate))
    z: NDArray[np.uint64] = np.asarray(rows, dtype=np.uint64) + np.uint64(1)
    z *= np.uint64(_GOLDEN)
    z += key
    z ^= z >> np.uint64(30)
    z *= np.uint64(_MIX1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(_MIX2)
    z ^= z >> np.uint64(31)
    z >>= np.uint64(11)
    weights: NDArray[np.uint8] = _TABLE[z >> np.uint64(37)]
    cut = np.flatnonzero(weights == 255)
    if len(cut):
        weights[cut] = np.searchsorted(THRESHOLDS, z[cut], side="right")
    return weights


@dataclass(frozen=True)
class BootstrapSpec:
    """How intervals are made: ``replicates`` Poisson replicates under ``seed``, percentile
    intervals at ``confidence``. ``replicates=0`` gives figures without intervals."""

    replicates: int = DEFAULT_REPLICATES
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if isinstance(self.replicates, bool) or not isinstance(self.replicates, int) \
                or not 0 <= self.replicates <= MAX_REPLICATES:
            raise MetricInputError(f"n_bootstrap must be a whole number from 0 to "
                                   f"{MAX_REPLICATES}, got {self.replicates!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 2**63:
            raise MetricInputError(f"seed must be a whole number from 0 to 2**63 - 1, got "
                                   f"{self.seed!r}.")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, int | float) \
                or not 0.5 <= self.confidence < 1.0:
            raise MetricInputError(f"confidence must be at least 0.5 and below 1, got "
                                   f"{self.confidence!r}.")

    def as_dict(self) -> dict[str, Any]:
        return {"method": "poisson", "interval": "percentile", "replicates": self.replicates,
                "seed": self.seed, "confidence": self.confidence}

    def keys(self) -> NDArray[np.uint64]:
        """The replicates' keys (``replicate_key``), in order."""
        return np.array([replicate_key(self.seed, r) for r in range(self.replicates)],
                        dtype=np.uint64)

    def weights(self, replicate: int, rows: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
        """Replicate ``replicate``'s weights as floats (replicate 0 is the first resample)."""
        return poisson_weights(self.seed, replicate, rows).astype(np.float64)


@dataclass(frozen=True, eq=False)
class Tally:
    """Weighted sums to gather per bootstrap replicate: for each row, ``index`` names its cell
    (0 <= index < size); channel 0 counts rows, channel j + 1 sums ``values[j]``."""

    index: NDArray[np.intp]
    size: int
    values: tuple[NDArray[np.float64], ...] = field(default=())


def tally(tallies: Sequence[Tally], *, rows: NDArray[np.integer[Any]],
          spec: BootstrapSpec) -> list[NDArray[np.float64]]:
    """Per tally an array of shape (1 + replicates, 1 + len(values), size): at [r] the sums
    weighted by replicate r - 1's Poisson weights, at [0] the plain (unweighted) sums — each
    one ``np.bincount`` over the rows.

    The replicates' sums come from one compiled pass over the rows
    (``kernels.tally_sums``), which adds each row's weight in every replicate as it goes:
    exactly the bincount of each replicate's weight vector, without the vectors. The arrays of
    two chunks of rows add up to the array of both chunks.
    """
    outs = [np.zeros((1 + spec.replicates, 1 + len(t.values), t.size)) for t in tallies]
    for t, out in zip(tallies, outs, strict=True):
        out[0, 0] = np.bincount(t.index, minlength=t.size)
        for j, v in enumerate(t.values):
            out[0, j + 1] = np.bincount(t.index, weights=v, minlength=t.size)
    if spec.replicates and len(rows):
        sums = kernels.tally_sums(rows, spec.keys(), _TABLE, THRESHOLDS,
                                  [(t.index, t.size, t.values) for t in tallies])
        for out, replicated in zip(outs, sums, strict=True):
            out[1:] = replicated
    return outs


def tally_reference(tallies: Sequence[Tally], *, rows: NDArray[np.integer[Any]],
                    spec: BootstrapSpec) -> list[NDArray[np.float64]]:
    """:func:`tally` one replicate at a time, a bincount of each weight vector: the definition
    the tests compare the compiled pass with."""
    outs = [np.zeros((1 + spec.replicates, 1 + len(t.values), t.size)) for t in tallies]
    for r in range(1 + spec.replicates):
        w = None if r == 0 else spec.weights(r - 1, rows)
        for t, out in zip(tallies, outs, strict=True):
            out[r, 0] = np.bincount(t.index, weights=w, minlength=t.size)
            for j, v in enumerate(t.values):
                out[r, j + 1] = np.bincount(t.index, weights=v if w is None else v * w,
                                            minlength=t.size)
    return outs


def ranked_sums(spec: BootstrapSpec, rows: NDArray[np.integer[Any]], positive: NDArray[Any],
                last: NDArray[np.bool_], cut: int,
                losses: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per replicate the sums of ``kernels.ranked_sums`` (rows in descending score order):
    what a binary classifier's replicate figures come from, one compiled pass for all."""
    return kernels.ranked_sums(rows, positive, last, cut, losses, spec.keys(), _TABLE,
                               THRESHOLDS)


def intervals(stat: NDArray[np.float64],
              confidence: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile intervals (numpy's linear method) of ``stat[1:]`` along axis 0, ignoring NaN
    (replicates in which the figure is undefined); NaN where no replicate defines it.
    ``stat[0]`` is the point estimate and is not part of the interval."""
    replicates = stat[1:]
    shape = stat.shape[1:]
    if replicates.shape[0] == 0:
        return np.full(shape, np.nan), np.full(shape, np.nan)
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: no interval
        low, high = np.nanquantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def estimates(stat: NDArray[np.float64], spec: BootstrapSpec) -> list[Estimate]:
    """One Estimate per column of ``stat`` (shape (1 + replicates, k)): the value at row 0 and
    the percentile interval of the other rows. NaN (undefined) becomes None."""
    low, high = intervals(stat, spec.confidence)
    return [Estimate(finite(stat[0, j]), finite(low[j]), finite(high[j]))
            for j in range(stat.shape[1])]


def estimate(stat: NDArray[np.float64], spec: BootstrapSpec) -> Estimate:
    """The Estimate of one figure from its (1 + replicates,) values."""
    return estimates(stat.reshape(-1, 1), spec)[0]
