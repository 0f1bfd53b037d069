"""Row loops compiled with numba, where numpy's array-at-a-time form costs ten times more.

The counter-based random numbers behind the bootstrap weights (``bootstrap.poisson_weights``)
and the robustness check's perturbations (``robustness._Draws``) are SplitMix64 of the row's
index: in numpy that is about fifteen passes over a million 64-bit integers, each through
memory; here one pass in registers (on a million rows, ~3 ms against ~30 ms). A suite's
bootstrap draws 600 weight vectors (200 replicates for each of performance, bias and
calibration), so this is seconds of a run (docs/evaluation-part2.md, "Cost").

Each kernel computes exactly its numpy definition, kept beside it as ``*_reference`` (integer
arithmetic modulo 2**64 and the same float conversion, so the same bits): the tests pin the two
together. numba is imported and the kernels compiled on first use (``cache=True``: once per
machine, in numba's cache next to this file or in the user's cache directory), so importing
the metrics stays cheap.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S37 = (np.uint64(s) for s in (30, 27, 31, 11, 37))
_ONE = np.uint64(1)
_UNIT = 2.0 ** -53


def _uniform_loop(rows: Any, key: Any, out: Any) -> None:  # pragma: no cover
    # compiled by numba; splitmix_uniform_reference is the same arithmetic in numpy
    for i in range(rows.shape[0]):
        z = rows[i] * GOLDEN + key
        z = (z ^ (z >> _S30)) * MIX1
        z = (z ^ (z >> _S27)) * MIX2
        z = (z ^ (z >> _S31)) >> _S11
        out[i] = (np.float64(z) + 0.5) * _UNIT


def _weights_loop(rows: Any, key: Any, table: Any, thresholds: Any,
                  out: Any) -> None:  # pragma: no cover
    # A row's weight is written out here and again in _tally_loop and _ranked_loop on purpose:
    # called as one jitted function (plain or inline="always") the three loops ran 1.5 to 2
    # times slower (measured 2026-12-02), so the copies stay, pinned to the numpy definition
    # by tests/evaluation/test_bootstrap.py.
    for i in range(rows.shape[0]):
        z = (rows[i] + _ONE) * GOLDEN + key
        z = (z ^ (z >> _S30)) * MIX1
        z = (z ^ (z >> _S27)) * MIX2
        z = (z ^ (z >> _S31)) >> _S11
        w = table[z >> _S37]
        if w == 255:  # a bucket a threshold cuts: count the thresholds at or below z
            w = 0
            for t in thresholds:
                if t <= z:
                    w += 1
        out[i] = w


def _tally_loop(rows: Any, keys: Any, table: Any, thresholds: Any, index: Any, offsets: Any,
                sizes: Any, first_value: Any, end_value: Any, values: Any,
                out: Any) -> None:  # pragma: no cover
    # Replicate by replicate, each row's weight (_weights_loop's arithmetic) added into the
    # replicate's cells in row order: np.bincount's order, so the same sums to the bit.
    for r in range(keys.shape[0]):
        key = keys[r]
        for i in range(rows.shape[0]):
            z = (rows[i] + _ONE) * GOLDEN + key
            z = (z ^ (z >> _S30)) * MIX1
            z = (z ^ (z >> _S27)) * MIX2
            z = (z ^ (z >> _S31)) >> _S11
            w = table[z >> _S37]
            if w == 255:
                w = 0
                for t in thresholds:
                    if t <= z:
                        w += 1
            weight = np.float64(w)
            for t in range(index.shape[0]):
                cell = offsets[t] + index[t, i]
                out[r, cell] += weight
                for c in range(first_value[t], end_value[t]):
                    out[r, cell + (c - first_value[t] + 1) * sizes[t]] += values[c, i] * weight


def _ranked_loop(rows: Any, positive: Any, last: Any, cut: Any, losses: Any, keys: Any,
                 table: Any, thresholds: Any, out: Any) -> None:  # pragma: no cover
    # Replicate by replicate, one pass down the rows in descending score order: the weighted
    # positives and negatives so far, those of the current run of tied scores, and at each
    # run's end the AUC and AP terms (performance.ranking_figures, term by term).
    for r in range(keys.shape[0]):
        key = keys[r]
        tp = fp = run_tp = run_fp = cross = ties = ap = loss = 0.0
        tp_cut = fp_cut = 0.0
        for i in range(rows.shape[0]):
            z = (rows[i] + _ONE) * GOLDEN + key
            z = (z ^ (z >> _S30)) * MIX1
            z = (z ^ (z >> _S27)) * MIX2
            z = (z ^ (z >> _S31)) >> _S11
            w = table[z >> _S37]
            if w == 255:
                w = 0
                for t in thresholds:
                    if t <= z:
                        w += 1
            weight = np.float64(w)
            if positive[i]:
                run_tp += weight
            else:
                run_fp += weight
            loss += losses[i] * weight
            if last[i]:
                tp += run_tp
                fp += run_fp
                cross += run_tp * fp
                ties += run_tp * run_fp
                ap += run_tp * (tp / max(tp + fp, 1.0))
                run_tp = run_fp = 0.0
                if i == cut:
                    tp_cut, fp_cut = tp, fp
        out[r, 0], out[r, 1], out[r, 2], out[r, 3] = tp, fp, tp_cut, fp_cut
        out[r, 4], out[r, 5], out[r, 6], out[r, 7] = cross, ties, ap, loss


@functools.cache
def _compiled() -> dict[str, Any]:
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return {"uniform": jit(_uniform_loop), "weights": jit(_weights_loop),
            "tally": jit(_tally_loop), "ranked": jit(_ranked_loop)}


def load() -> None:
    """Import numba and compile (or load from its cache) the kernels now rather than at first
    use: a fixed cost of the process, like an import (bench/evaluation.py measures peak memory
    from after it)."""
    _compiled()


def _rows(rows: NDArray[np.integer[Any]]) -> NDArray[np.uint64]:
    return np.ascontiguousarray(rows, dtype=np.uint64)


def splitmix_uniform(rows: NDArray[np.integer[Any]], key: int) -> NDArray[np.float64]:
    """Uniforms in (0, 1): the top 53 bits of SplitMix64's output for ``rows * GOLDEN + key``,
    plus a half, times 2**-53 (:func:`splitmix_uniform_reference`)."""
    out = np.empty(len(rows), dtype=np.float64)
    _compiled()["uniform"](_rows(rows), np.uint64(key), out)
    return out


def splitmix_uniform_reference(rows: NDArray[np.integer[Any]],
                               key: int) -> NDArray[np.float64]:
    """:func:`splitmix_uniform` in numpy (the definition the tests compare with)."""
    with np.errstate(over="ignore"):
        z = _rows(rows) * GOLDEN + np.uint64(key)
        z = (z ^ (z >> _S30)) * MIX1
        z = (z ^ (z >> _S27)) * MIX2
        z = z ^ (z >> _S31)
    return ((z >> _S11).astype(np.float64) + 0.5) * _UNIT


def poisson_weights(rows: NDArray[np.integer[Any]], key: int, table: NDArray[np.uint8],
                    thresholds: NDArray[np.uint64]) -> NDArray[np.uint8]:
    """The bootstrap's Poisson(1) weights (``bootstrap.poisson_weights``): u = the top 53 bits of
    SplitMix64's output for ``(rows + 1) * GOLDEN + key``, its weight ``table[u >> 37]``, or
    where that is 255 the number of ``thresholds`` at or below u."""
    out = np.empty(len(rows), dtype=np.uint8)
    _compiled()["weights"](_rows(rows), np.uint64(key), table, thresholds, out)
    return out


def tally_sums(rows: NDArray[np.integer[Any]], keys: NDArray[np.uint64], table: NDArray[np.uint8],
               thresholds: NDArray[np.uint64], tallies: list[tuple[NDArray[np.intp], int,
                                                                   tuple[NDArray[Any], ...]]],
               ) -> list[NDArray[np.float64]]:
    """``bootstrap.tally``'s replicates in one compiled pass over the rows: per tally
    ``(index, size, values)`` an array of shape (len(keys), 1 + len(values), size), at [r] the
    sums weighted by the Poisson weights of replicate key ``keys[r]`` (channel 0 the weights,
    channel j + 1 ``values[j]`` times them) — to the bit what ``np.bincount`` gives on each
    replicate's weight vector, without making those vectors."""
    n = len(rows)
    sizes = np.array([size for _, size, _ in tallies], dtype=np.int64)
    widths = np.array([(1 + len(values)) * size for _, size, values in tallies], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(widths)[:-1]].astype(np.int64)
    counts = np.array([len(values) for _, _, values in tallies], dtype=np.int64)
    first_value = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
    index = np.empty((len(tallies), n), dtype=np.int64)
    for t, (cells, _, _) in enumerate(tallies):
        index[t] = cells
    values = np.empty((int(counts.sum()), n), dtype=np.float64)
    for t, (_, _, columns) in enumerate(tallies):
        for j, column in enumerate(columns):
            values[first_value[t] + j] = column
    out = np.zeros((len(keys), int(widths.sum())), dtype=np.float64)
    _compiled()["tally"](_rows(rows), np.ascontiguousarray(keys, dtype=np.uint64), table,
                         thresholds, index, offsets, sizes, first_value, first_value + counts,
                         values, out)
    return [out[:, offsets[t]:offsets[t] + widths[t]].reshape(len(keys), 1 + len(v), size)
            for t, (_, size, v) in enumerate(tallies)]


# The columns of ``ranked_sums``' result.
RANKED_SUMS = ("positives", "negatives", "tp_at_cut", "fp_at_cut", "auc_cross", "auc_ties",
               "ap_sum", "loss")


def ranked_sums(rows: NDArray[np.integer[Any]], positive: NDArray[np.bool_],
                last: NDArray[np.bool_], cut: int, losses: NDArray[np.float64],
                keys: NDArray[np.uint64], table: NDArray[np.uint8],
                thresholds: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Per replicate key, the weighted sums a binary replicate's figures come from, in one
    compiled pass over rows sorted by descending score (``rows`` their row numbers, ``last``
    True at the last row of each run of tied scores, ``cut`` the last sorted position scoring
    at or above the threshold, -1 if none): the columns of RANKED_SUMS — the weighted
    positives P and negatives N, the true and false positives at the cut, the sum over runs of
    (positives gained) x (negatives so far) and x (negatives gained), of (positives gained) x
    (precision at the run), and the weighted log loss. AUC = (P N - cross + ties / 2) / (P N)
    and AP = ap_sum / P, as ``performance.ranking_figures`` computes them on the cumulative
    sums (the same terms, added in another order: equal to about 1e-15)."""
    out = np.zeros((len(keys), len(RANKED_SUMS)), dtype=np.float64)
    _compiled()["ranked"](_rows(rows), np.ascontiguousarray(positive, dtype=np.bool_),
                          np.ascontiguousarray(last, dtype=np.bool_), np.int64(cut),
                          np.ascontiguousarray(losses, dtype=np.float64),
                          np.ascontiguousarray(keys, dtype=np.uint64), table, thresholds, out)
    return out
