"""Intervals and verdicts (rlnoise.core.stats): coverage on synthetic data with a known truth, pairing, claims."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlnoise.core.stats import (
    FAILS,
    HOLDS,
    UNRESOLVED,
    Claim,
    Interval,
    across_seeds,
    bootstrap_mean,
    bootstrap_means,
    claims_markdown,
    paired_difference,
    percentile_interval,
    proportion_difference,
    resample_weights,
    wilson,
)

REPS = 1000


def coverage(intervals, truth) -> float:
    return float(np.mean([i.low <= truth <= i.high for i in intervals]))


def test_bootstrap_interval_covers_the_mean_at_its_level():
    """1,000 samples of 100 draws from N(1, 2): the 95% percentile bootstrap covers 1 in 93-97% of them."""
    rng = np.random.default_rng(0)
    data = rng.normal(1.0, 2.0, size=(REPS, 100))
    draws = data @ resample_weights(100, 1000, seed=1).T  # [reps, B]: each sample's resampled means
    intervals = [percentile_interval(d.mean(), m) for d, m in zip(data, draws)]
    assert 0.93 <= coverage(intervals, 1.0) <= 0.97


def test_paired_interval_covers_the_difference_and_is_narrower_than_unpaired():
    """Correlated pairs (a common per-item effect): the paired interval covers the true difference 0.2 in 93-97% of
    repetitions and is narrower than the interval from two independent bootstraps."""
    rng = np.random.default_rng(2)
    common = rng.normal(0, 1, size=(REPS, 100))
    a = common + rng.normal(0.2, 0.3, size=common.shape)
    b = common + rng.normal(0.0, 0.3, size=common.shape)
    weights = resample_weights(100, 1000, seed=3)
    paired = [percentile_interval((x - y).mean(), m) for x, y, m in zip(a, b, (a - b) @ weights.T)]
    assert 0.93 <= coverage(paired, 0.2) <= 0.97
    unpaired_draws = a @ weights.T - b @ resample_weights(100, 1000, seed=4).T
    unpaired = [percentile_interval((x - y).mean(), m) for x, y, m in zip(a, b, unpaired_draws)]
    width = lambda intervals: np.mean([i.high - i.low for i in intervals])  # noqa: E731
    assert width(paired) < 0.5 * width(unpaired)


def test_paired_difference_equals_the_bootstrap_of_the_differences():
    a, b = np.arange(10.0), np.arange(10.0)[::-1]
    assert paired_difference(a, b, seed=5) == bootstrap_mean(a - b, seed=5)
    with pytest.raises(ValueError, match="same shape"):
        paired_difference(a, b[:5])


def test_wilson_covers_a_known_rate():
    rng = np.random.default_rng(6)
    hits = rng.binomial(100, 0.3, size=REPS)
    assert 0.93 <= coverage([wilson(int(h), 100) for h in hits], 0.3) <= 0.97


def test_wilson_matches_the_closed_form_and_checks_its_input():
    z = 1.959963984540054
    k, n = 7, 20
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    interval = wilson(k, n)
    assert interval.estimate == p
    assert interval.low == pytest.approx(centre - half) and interval.high == pytest.approx(centre + half)
    assert wilson(0, 10).low == 0 and wilson(10, 10).high == 1
    with pytest.raises(ValueError, match="successes"):
        wilson(11, 10)


def test_seed_interval_is_the_t_interval_and_unbounded_for_one_seed():
    interval = across_seeds([1.0, 2.0, 3.0])
    assert interval.estimate == 2.0
    assert interval.high - 2.0 == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))
    assert across_seeds([1.0]).low == -math.inf and across_seeds([1.0]).high == math.inf


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30), st.integers(0, 2**31))
def test_bootstrap_means_lie_within_the_data_range(values, seed):
    draws = bootstrap_means(values, resamples=50, seed=seed)
    assert draws.min() >= min(values) - 1e-9 and draws.max() <= max(values) + 1e-9


def test_bootstrap_means_of_curves_pair_up_across_statistics():
    """One seed, one set of resamples: the resampled mean of a difference is the difference of resampled means."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    assert np.allclose(bootstrap_means(x - y, 200, seed=9), bootstrap_means(x, 200, 9) - bootstrap_means(y, 200, 9))


def test_verdicts_and_claims_markdown():
    assert Interval(0.21, 0.12, 0.30).verdict() == HOLDS
    assert Interval(-0.2, -0.3, -0.1).verdict() == FAILS
    assert Interval(0.05, -0.02, 0.12).verdict() == UNRESOLVED
    assert Interval(0.0, 0.0, 0.0).verdict() == FAILS  # "X > 0" with X exactly 0 (a drop when the peak is last)
    assert Interval(1.5, 1.2, math.inf).verdict(threshold=2.0) == UNRESOLVED
    claims = [
        Claim("single RMs overoptimize: gold at n=64 below its peak", Interval(0.21, 0.12, 0.30)),
        Claim("wco keeps more gold than single RMs", Interval(0.05, -0.02, 0.12)),
        Claim("peak d* beyond 2", Interval(1.5, 1.2, math.inf), threshold=2.0),
    ]
    text = claims_markdown(claims)
    assert "- single RMs overoptimize: gold at n=64 below its peak: 0.21 [0.12, 0.30] -> **holds**" in text
    assert "0.05 [-0.02, 0.12] -> **unresolved**" in text and "1.50 [1.20, unbounded]" in text
    assert claims[0].as_dict()["verdict"] == HOLDS


def test_proportion_difference_covers_a_known_gap_and_is_antisymmetric():
    rng = np.random.default_rng(8)
    k1, k2 = rng.binomial(200, 0.7, size=REPS), rng.binomial(150, 0.6, size=REPS)
    intervals = [proportion_difference(int(a), 200, int(b), 150) for a, b in zip(k1, k2)]
    assert 0.93 <= coverage(intervals, 0.1) <= 0.97
    forward, backward = proportion_difference(30, 50, 20, 50), proportion_difference(20, 50, 30, 50)
    assert forward.estimate == pytest.approx(0.2) and forward.low == pytest.approx(-backward.high)
