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
    pool_seed_claims,
    pool_seed_results,
    pool_seeds,
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


Z = 1.959963984540054


def test_pool_seeds_adds_the_sample_error_to_the_spread_between_seeds():
    """Two seeds, estimates 1 and 2, each +- z * 0.1: variance 0.01 (sample, scaled by z^2) + 0.25 (seeds, scaled
    by t(1)^2: the modified-large-sample combination); one seed is returned unchanged."""
    from scipy.stats import t

    one = Interval(1.0, 0.5, 1.2)
    assert pool_seeds([one]) is one
    pooled = pool_seeds([Interval(1.0, 1 - Z * 0.1, 1 + Z * 0.1), Interval(2.0, 2 - Z * 0.1, 2 + Z * 0.1)])
    half = math.sqrt(Z**2 * 0.01 + t.ppf(0.975, 1) ** 2 * 0.25)
    assert pooled.estimate == 1.5
    assert pooled.low == pytest.approx(1.5 - half) and pooled.high == pytest.approx(1.5 + half)
    same = pool_seeds([Interval(1.0, 1 - Z * 0.1, 1 + Z * 0.1)] * 3)  # no spread between seeds: the sample error
    assert (same.low, same.high) == (pytest.approx(1 - Z * 0.1), pytest.approx(1 + Z * 0.1))
    open_ended = pool_seeds([Interval(1.0, 0.5, math.inf), Interval(2.0, 1.5, 3.0)])
    assert open_ended.high == math.inf and open_ended.low == 0.5
    with pytest.raises(ValueError, match="at least one"):
        pool_seeds([])


def test_pool_seeds_covers_the_mean_over_seed_effects_and_a_shared_sample():
    """A study measured on 50 shared prompts in 3 seeds, each seed shifting every prompt by its own effect
    (sd 0.1): the pooled 95% interval covers the true mean (0) in 93-99% of 1,000 repetitions, while the per-seed
    sample intervals pooled as if seeds did not vary (a t interval of the seed means alone misses the shared
    prompts' error) cover clearly less."""
    rng = np.random.default_rng(3)
    pooled, seeds_only = [], []
    for _ in range(REPS):
        prompts = rng.normal(0.0, 1.0, 50)
        per_seed = [prompts + rng.normal(0.0, 0.1) + rng.normal(0.0, 0.5, 50) for _ in range(3)]
        intervals = [Interval(v.mean(), v.mean() - Z * v.std(ddof=1) / math.sqrt(50),
                              v.mean() + Z * v.std(ddof=1) / math.sqrt(50)) for v in per_seed]  # fmt: skip
        pooled.append(pool_seeds(intervals))
        seeds_only.append(across_seeds([v.mean() for v in per_seed]))
    assert 0.93 <= coverage(pooled, 0.0) <= 0.99
    assert coverage(seeds_only, 0.0) < coverage(pooled, 0.0) - 0.05


def test_pool_seed_results_pools_intervals_and_bands_and_keeps_the_layout():
    z = Z * 0.1

    def seed_result(shift: float, best: int) -> dict:
        return dict(
            name="bon",
            ns=[1, 4],
            flip_rate=0.2 + shift,
            gold=[0.0, 1.0 + shift],
            gold_band=[[0.0, 1.0 + shift - z], [0.0, 1.0 + shift + z]],
            drop=dict(estimate=shift, low=shift - z, high=shift + z, level=0.95, n_index=best),
            r2=1.0 if best else None,  # a fit that one seed lacks
        )

    pooled = pool_seed_results([seed_result(0.0, 1), seed_result(0.2, 0), seed_result(0.1, 1)])
    assert pooled["name"] == "bon" and pooled["ns"] == [1, 4]
    assert pooled["flip_rate"] == pytest.approx(0.3)
    assert pooled["gold"] == pytest.approx([0.0, 1.1])
    point = pool_seeds([Interval(1.0 + s, 1.0 + s - z, 1.0 + s + z) for s in (0.0, 0.2, 0.1)])
    assert [pooled["gold_band"][0][1], pooled["gold_band"][1][1]] == pytest.approx([point.low, point.high])
    assert pooled["gold_band"][0][0] == 0.0  # the shifted start has no width in any seed
    assert pooled["drop"]["estimate"] == pytest.approx(0.1) and pooled["drop"]["n_index"] == 1
    assert pooled["drop"]["high"] - pooled["drop"]["low"] > 2 * z  # the seeds' spread widens it
    assert pooled["r2"] == 1.0  # not a number in every seed: the most common value
    assert pool_seed_results([seed_result(0.0, 1)]) == seed_result(0.0, 1)
    assert pool_seed_results([{"beta": 0.1}] * 3) == {
        "beta": 0.1
    }  # kept exactly: a mean would give 0.10000000000000002
    assert pool_seed_results([{"x": 0}, {"x": 0.5}, {"x": 0.7}])["x"] == pytest.approx(0.4)  # ints are numbers too
    with pytest.raises(ValueError, match="length"):
        pool_seed_results([seed_result(0.0, 1), dict(seed_result(0.2, 0), gold_band=[[0.0], [0.0]])])


def test_pool_seed_claims_pools_each_statement_and_refuses_mismatched_seeds():
    a = [Claim("x rises", Interval(0.3, 0.1, 0.5)), Claim("y falls", Interval(-0.1, -0.3, 0.1))]
    b = [Claim("x rises", Interval(0.5, 0.3, 0.7)), Claim("y falls", Interval(0.1, -0.1, 0.3))]
    pooled = pool_seed_claims([a, b])
    assert [c.statement for c in pooled] == ["x rises", "y falls"]
    assert pooled[0].interval == pool_seeds([a[0].interval, b[0].interval])
    with pytest.raises(ValueError, match="claims differ"):
        pool_seed_claims([a, b[::-1]])
