"""Best-of-n estimator, KL formula and scaling-law fits: exact checks, brute force, Monte Carlo, properties."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rlnoise.overoptimization.bon import bon_curve, bon_kl, bon_pick, bon_weights, default_ns
from rlnoise.overoptimization.objectives import apply_objective
from rlnoise.overoptimization.scaling import (
    bon_form,
    bon_peak,
    fit_bon,
    fit_rl,
    rl_form,
    rl_peak,
    shift_to_start,
)


def brute_force(select, gold, n):
    """Average gold of argmax-select over every n-subset of every prompt's pool (first index wins ties)."""
    per_prompt = []
    for s, g in zip(select, gold):
        picks = [g[min(c, key=lambda i: (-s[i], i))] for c in itertools.combinations(range(len(s)), n)]
        per_prompt.append(np.mean(picks))
    return float(np.mean(per_prompt))


def exact_loop(select, gold, ns):
    """The straightforward estimator: for each n, sort each prompt and weight with exact integer binomials."""
    out = []
    for n in ns:
        total = 0.0
        for s, g in zip(select, gold):
            ranked = np.asarray(g)[np.argsort(-np.asarray(s), kind="stable")[::-1]]
            big_n = len(s)
            total += sum(math.comb(i - 1, n - 1) / math.comb(big_n, n) * ranked[i - 1] for i in range(n, big_n + 1))
        out.append(total / len(select))
    return np.array(out)


def test_hand_built_pool():
    # one prompt, N = 3, selector ranks sample 2 > 0 > 1; gold = [10, 20, 30]
    select = [[0.5, 0.1, 0.9]]
    gold = [[10.0, 20.0, 30.0]]
    # n=1: mean gold 20; n=2: pairs {0,1}->10, {0,2}->30, {1,2}->30 => 70/3; n=3: 30
    assert bon_curve(select, gold, [1, 2, 3]) == pytest.approx([20.0, 70 / 3, 30.0], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_small_pools(seed):
    rng = np.random.default_rng(seed)
    select = rng.integers(0, 4, size=(3, 7)).astype(float)  # many ties, to exercise the tie rule
    gold = rng.normal(size=(3, 7))
    ns = list(range(1, 8))
    expected = [brute_force(select, gold, n) for n in ns]
    assert bon_curve(select, gold, ns) == pytest.approx(expected, abs=1e-12)


def test_matches_monte_carlo_on_larger_pool():
    rng = np.random.default_rng(0)
    select = rng.normal(size=(4, 200))
    gold = select + rng.normal(size=(4, 200))
    ns = [1, 4, 16, 64]
    expected = bon_curve(select, gold, ns)
    draws = 20_000
    for n, value in zip(ns, expected):
        picks = []
        for p in range(4):
            idx = np.argsort(rng.random((draws, 200)), axis=1)[:, :n]  # n distinct samples per draw
            best = idx[np.arange(draws), np.argmax(select[p][idx], axis=1)]
            picks.append(gold[p][best].mean())
        assert np.mean(picks) == pytest.approx(value, abs=0.02)


def test_equals_exact_integer_binomials_on_large_pool():
    rng = np.random.default_rng(1)
    select, gold = rng.normal(size=(2, 3000)), rng.normal(size=(2, 3000))
    ns = [1, 2, 50, 1000, 2999, 3000]
    assert np.max(np.abs(bon_curve(select, gold, ns) - exact_loop(select, gold, ns))) < 1e-9


def test_gold_is_permuted_with_the_ensemble_ranking():
    # Two members disagree; their mean ranks sample 2 first, which neither member does.
    members = np.array([[[3.0, 0.0, 2.0]], [[0.0, 3.0, 2.0]]])  # [K=2, P=1, N=3]
    gold = np.array([[0.0, 0.0, 1.0]])
    ens = apply_objective("mean", torch.tensor(members.reshape(2, -1))).numpy().reshape(1, 3)
    assert np.argmax(ens[0]) == 2 and all(np.argmax(m[0]) != 2 for m in members)
    assert bon_curve(ens, gold, [3])[0] == 1.0
    assert all(bon_curve(m, gold, [3])[0] == 0.0 for m in members)


def test_weights_sum_to_one_and_n1_is_the_mean():
    w = bon_weights(12_600, [1, 2, 100, 12_600])
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert np.allclose(w[0], 1 / 12_600) and w[-1, -1] == pytest.approx(1.0) and w[-1, :-1].max() < 1e-300


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (3, 6), elements=st.floats(-5, 5)),
    arrays(np.float64, (3, 6), elements=st.floats(-5, 5)),
)
def test_properties(select, gold):
    ns = list(range(1, 7))
    curve = bon_curve(select, gold, ns)
    assert curve[0] == pytest.approx(gold.mean(), abs=1e-9)  # n = 1 is the pool mean
    proxy = bon_curve(select, select, ns)
    assert np.all(np.diff(proxy) >= -1e-9)  # selecting on a score can only raise that score
    assert np.all(curve <= gold.max(axis=1).mean() + 1e-9)
    per_prompt = bon_curve(select, gold, ns, per_prompt=True)
    assert per_prompt.shape == (3, 6) and np.allclose(per_prompt.mean(axis=0), curve)


def test_pick_is_argmax_of_first_n():
    select = np.array([[1.0, 5.0, 5.0, 9.0]])
    assert bon_pick(select, 3).tolist() == [1] and bon_pick(select, 4).tolist() == [3]


def test_kl_formula():
    assert bon_kl(1) == 0.0
    assert bon_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert bon_kl(np.array([1, 4])) == pytest.approx([0.0, math.log(4) - 0.75])
    assert np.all(np.diff(bon_kl(np.arange(1, 100))) > 0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        bon_kl(0)


def test_default_grid():
    ns = default_ns(12_600, 20)
    assert ns[0] == 1 and ns[-1] == 12_600 and len(ns) <= 21 and ns == sorted(set(ns))


@pytest.mark.parametrize(
    "select, gold, ns, match",
    [
        (np.zeros((2, 4)), np.zeros((2, 4)), [5], "larger than the pool"),
        (np.zeros((0, 4)), np.zeros((0, 4)), [1], "empty pool"),
        (np.zeros((2, 0)), np.zeros((2, 0)), [1], "empty pool"),
        (np.array([[0.0, np.nan]]), np.zeros((1, 2)), [1], r"NaN or infinite score at \[prompt, sample\] = \[0, 1\]"),
        (np.zeros((2, 4)), np.zeros((2, 3)), [1], "same shape"),
        (np.zeros(4), np.zeros(4), [1], r"\[prompts, samples\] array"),
        (np.zeros((2, 4)), np.zeros((2, 4)), [0], "integer >= 1"),
        (np.zeros((2, 4)), np.zeros((2, 4)), [1.5], "integer >= 1"),
        (np.zeros((2, 4)), np.zeros((2, 4)), [], "non-empty"),
    ],
)
def test_bad_input(select, gold, ns, match):
    with pytest.raises(ValueError, match=match):
        bon_curve(select, gold, ns)


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.3), (0.4, -0.1), (2.5, 1.2)])
def test_fit_bon_recovers_parameters(alpha, beta):
    kl = bon_kl(np.array(default_ns(1000)))
    assert fit_bon(kl, bon_form(np.sqrt(kl), alpha, beta)) == pytest.approx((alpha, beta), abs=1e-9)
    noisy = bon_form(np.sqrt(kl), alpha, beta) + np.random.default_rng(0).normal(0, 0.01, kl.shape)
    assert fit_bon(kl, noisy) == pytest.approx((alpha, beta), abs=0.05)


def test_fit_rl_recovers_parameters():
    kl = np.linspace(0, 20, 30)
    assert fit_rl(kl, rl_form(np.sqrt(kl), 1.3, 0.7)) == pytest.approx((1.3, 0.7), abs=1e-9)


def test_peaks():
    assert bon_peak(1.0, 0.25) == 2.0 and bon_peak(1.0, 0.0) == float("inf")
    alpha, beta = 1.0, 0.5
    d = rl_peak(alpha, beta)
    grid = np.linspace(0.01, 20, 20_001)
    assert grid[np.argmax(rl_form(grid, alpha, beta))] == pytest.approx(d, abs=1e-3)


def test_shift_and_fit_errors():
    assert shift_to_start([2.0, 3.0, 1.0]).tolist() == [0.0, 1.0, -1.0]
    with pytest.raises(ValueError, match="same length"):
        fit_bon([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="at least two points"):
        fit_bon([0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        fit_bon([0.0, 1.0, 2.0], [0.0, np.nan, 1.0])
