"""The Poisson bootstrap (evaluation.metrics.bootstrap): weights that depend only on (seed,
replicate, row) — so chunks of rows get the weights of one pass — follow Poisson(1), match the
documented algorithm, and tallies that merge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.metrics import BootstrapSpec, MetricInputError, poisson_weights
from evaluation.metrics.bootstrap import (
    THRESHOLDS,
    Tally,
    intervals,
    poisson_weights_reference,
    replicate_key,
    tally,
    tally_reference,
)

MASK = (1 << 64) - 1


def _documented_weight(seed: int, replicate: int, row: int) -> int:
    """The weight as docs/evaluation-metrics.md spells it, in plain Python integers."""
    golden, m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

    def mix64(z):
        z = ((z ^ (z >> 30)) * m1) & MASK
        z = ((z ^ (z >> 27)) * m2) & MASK
        return z ^ (z >> 31)

    key = mix64((mix64((seed + golden) & MASK) + (replicate + 1) * golden) & MASK)
    u = mix64((key + (row + 1) * golden) & MASK) >> 11
    cdf, term, weight = math.exp(-1), math.exp(-1), 0
    while u >= math.floor(cdf * 2**53) and weight < len(THRESHOLDS):
        weight += 1
        term /= weight
        cdf += term
    return weight


def test_weights_follow_the_documented_algorithm():
    rows = np.array([0, 1, 2, 1000, 123_456_789, 2**40 + 7])
    for seed, replicate in ((0, 0), (42, 3), (2**63 - 1, 199)):
        assert replicate_key(seed, replicate) < 2**64
        expected = [_documented_weight(seed, replicate, int(r)) for r in rows]
        assert poisson_weights(seed, replicate, rows).tolist() == expected


def test_thresholds_are_the_poisson_cdf_in_53_bit_integers():
    assert len(THRESHOLDS) == 17 and np.all(np.diff(THRESHOLDS.astype(np.int64)) > 0)
    cdf = np.cumsum([math.exp(-1) / math.factorial(m) for m in range(17)])
    assert np.allclose(THRESHOLDS / 2**53, cdf, rtol=0, atol=1e-15)
    assert int(THRESHOLDS[-1]) < 2**53


def test_weights_of_chunks_are_the_weights_of_one_pass():
    n = 10_000
    whole = poisson_weights(7, 3, np.arange(n))
    for k in (0, 1, 4_096, 9_999):
        head = poisson_weights(7, 3, np.arange(0, k))
        tail = poisson_weights(7, 3, np.arange(k, n))
        assert np.array_equal(np.concatenate([head, tail]), whole)
    # any order of rows: a row's weight is its own
    order = np.random.default_rng(0).permutation(n)
    assert np.array_equal(poisson_weights(7, 3, order), whole[order])


def test_weights_are_poisson_one_and_independent_across_replicates_and_seeds():
    rows = np.arange(1_000_000)
    a = poisson_weights(1, 0, rows).astype(float)
    b = poisson_weights(1, 1, rows).astype(float)
    c = poisson_weights(2, 0, rows).astype(float)
    for w in (a, b, c):
        assert abs(w.mean() - 1) < 0.005 and abs(w.var() - 1) < 0.01
        assert abs((w == 0).mean() - math.exp(-1)) < 0.002
        assert abs((w == 3).mean() - math.exp(-1) / 6) < 0.001
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.005 and abs(np.corrcoef(a, c)[0, 1]) < 0.005
    assert np.array_equal(poisson_weights(1, 0, rows), a.astype(np.uint8))  # deterministic


def test_tally_row_zero_is_plain_and_replicates_use_their_weights():
    rng = np.random.default_rng(0)
    n = 500
    index = rng.integers(0, 4, n).astype(np.intp)
    values = rng.normal(size=n)
    spec = BootstrapSpec(replicates=3, seed=9)
    (sums,) = tally([Tally(index, 4, (values,))], rows=np.arange(n), spec=spec)
    assert sums.shape == (4, 2, 4)
    assert np.array_equal(sums[0, 0], np.bincount(index, minlength=4))
    assert np.allclose(sums[0, 1], np.bincount(index, weights=values, minlength=4))
    w = poisson_weights(9, 2, np.arange(n)).astype(float)
    assert np.allclose(sums[3, 1], np.bincount(index, weights=values * w, minlength=4))


def test_tallies_of_chunks_add_up_to_the_tally_of_all_rows():
    rng = np.random.default_rng(1)
    n, k = 1000, 333
    index = rng.integers(0, 6, n).astype(np.intp)
    spec = BootstrapSpec(replicates=25, seed=4)
    (whole,) = tally([Tally(index, 6)], rows=np.arange(n), spec=spec)
    (head,) = tally([Tally(index[:k], 6)], rows=np.arange(k), spec=spec)
    (tail,) = tally([Tally(index[k:], 6)], rows=np.arange(k, n), spec=spec)
    assert np.array_equal(head + tail, whole)  # integer-valued sums: exact


def test_percentile_intervals_ignore_undefined_replicates():
    stat = np.array([[0.5, 1.0], [0.1, np.nan], [0.2, np.nan], [0.3, np.nan], [0.4, np.nan],
                     [0.5, np.nan]])
    low, high = intervals(stat, confidence=0.5)
    assert low[0] == pytest.approx(np.quantile([0.1, 0.2, 0.3, 0.4, 0.5], 0.25))
    assert high[0] == pytest.approx(np.quantile([0.1, 0.2, 0.3, 0.4, 0.5], 0.75))
    assert np.isnan(low[1]) and np.isnan(high[1])
    low, high = intervals(stat[:1], confidence=0.95)  # no replicates: no interval
    assert np.isnan(low).all() and np.isnan(high).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"replicates": -1}, "n_bootstrap"), ({"replicates": 10_001}, "n_bootstrap"),
    ({"replicates": 2.5}, "n_bootstrap"), ({"seed": -1}, "seed"), ({"seed": 2**63}, "seed"),
    ({"confidence": 0.4}, "confidence"), ({"confidence": 1.0}, "confidence"),
])
def test_bootstrap_options_are_validated(kwargs, message):
    with pytest.raises(MetricInputError, match=message):
        BootstrapSpec(**kwargs)


def test_the_compiled_weights_are_the_numpy_definition():
    # 300,000 rows reach the 16 buckets a threshold cuts (looked up in full) hundreds of times.
    rows = np.arange(300_000, dtype=np.uint64)
    for seed, replicate in ((0, 0), (7, 199), (2**63 - 1, 3)):
        assert np.array_equal(poisson_weights(seed, replicate, rows),
                              poisson_weights_reference(seed, replicate, rows))
    shuffled = np.array([2**50, 3, 0, 99], dtype=np.int64)
    assert np.array_equal(poisson_weights(1, 2, shuffled),
                          poisson_weights_reference(1, 2, shuffled))


def test_the_compiled_tally_is_a_bincount_of_each_replicates_weights_to_the_bit():
    # Several tallies, with and without values, over rows numbered as a chunk's are (from
    # 1,000,000 on, shuffled): 300,000 rows reach the buckets a threshold cuts many times.
    rng = np.random.default_rng(3)
    n = 300_000
    rows = rng.permutation(np.arange(1_000_000, 1_000_000 + n, dtype=np.uint64))
    tallies = [Tally(rng.integers(0, 6, n).astype(np.intp), 6),
               Tally(rng.integers(0, 10, n).astype(np.intp), 10,
                     (rng.normal(size=n), rng.uniform(size=n), rng.normal(size=n) ** 2)),
               Tally(rng.integers(0, 3, n).astype(np.intp), 3, (rng.normal(size=n),))]
    spec = BootstrapSpec(replicates=40, seed=11)
    compiled = tally(tallies, rows=rows, spec=spec)
    reference = tally_reference(tallies, rows=rows, spec=spec)
    for got, expected in zip(compiled, reference, strict=True):
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)


def test_a_tally_without_replicates_or_rows_is_the_plain_sums():
    index = np.array([0, 2, 2], dtype=np.intp)
    (sums,) = tally([Tally(index, 3, (np.array([1.0, 2.0, 3.0]),))], rows=np.arange(3),
                    spec=BootstrapSpec(replicates=0))
    assert sums.tolist() == [[[1.0, 0.0, 2.0], [1.0, 0.0, 5.0]]]
    (empty,) = tally([Tally(np.empty(0, dtype=np.intp), 2)], rows=np.arange(0),
                     spec=BootstrapSpec(replicates=2))
    assert np.array_equal(empty, np.zeros((3, 1, 2)))
