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


@functools.cache
def _compiled() -> dict[str, Any]:
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return {"uniform": jit(_uniform_loop), "weights": jit(_weights_loop)}


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
