"""Tests for the ensemble objectives in :mod:`rlnoise.overoptimization.objectives`."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.overoptimization.objectives import OBJECTIVES, Standardizer, apply_objective, lcb, mean, uwo, wco

# Column 0: members [1, 2, 6] -> mean 3, population variance (4 + 1 + 9) / 3 = 14/3, sample variance 7.
# Column 1: members [3, 3, 0] -> mean 2, population variance (1 + 1 + 4) / 3 = 2, sample variance 3.
SCORES = torch.tensor([[1.0, 3.0], [2.0, 3.0], [6.0, 0.0]])


def _close(a: torch.Tensor, expected) -> None:
    torch.testing.assert_close(a, torch.tensor(expected, dtype=a.dtype), rtol=1e-6, atol=1e-6)


def test_registry():
    """The registry holds exactly the four documented objectives."""
    assert set(OBJECTIVES) == {"mean", "wco", "uwo", "lcb", "single"}


# ---------------------------------------------------------------- exact values


def test_mean_and_wco_values():
    """Mean and min over members, column by column."""
    _close(mean(SCORES), [3.0, 2.0])
    _close(wco(SCORES), [1.0, 0.0])


def test_uwo_values():
    """uwo = mean - lam * population variance."""
    _close(uwo(SCORES, lam=0.5), [3.0 - 0.5 * 14 / 3, 2.0 - 0.5 * 2.0])
    _close(uwo(SCORES, lam=2.0), [3.0 - 2 * 14 / 3, 2.0 - 2 * 2.0])
    _close(uwo(SCORES), [3.0 - 14 / 3, 0.0])  # default lam = 1


def test_uwo_uses_population_not_sample_variance():
    """The variance divisor is K (14/3 for [1, 2, 6]), not K - 1 (which would give 7)."""
    out = uwo(SCORES, lam=1.0)
    _close(out, [3.0 - 14 / 3, 2.0 - 2.0])
    assert not torch.allclose(out, torch.tensor([3.0 - 7.0, 2.0 - 3.0]))


def test_lcb_values():
    """lcb = mean - lam * population standard deviation."""
    _close(lcb(SCORES, lam=1.0), [3.0 - math.sqrt(14 / 3), 2.0 - math.sqrt(2.0)])
    _close(lcb(SCORES, lam=0.5), [3.0 - 0.5 * math.sqrt(14 / 3), 2.0 - 0.5 * math.sqrt(2.0)])


def test_apply_objective_dispatches_and_ignores_lam_for_mean_and_wco():
    """apply_objective gives the same numbers as the functions; mean/wco accept and ignore lam."""
    _close(apply_objective("uwo", SCORES, lam=0.5), [3.0 - 7 / 3, 1.0])
    _close(apply_objective("lcb", SCORES, lam=1.0), [3.0 - math.sqrt(14 / 3), 2.0 - math.sqrt(2.0)])
    _close(apply_objective("mean", SCORES, lam=3.0), [3.0, 2.0])
    _close(apply_objective("wco", SCORES, lam=3.0), [1.0, 0.0])


def test_integer_scores_are_promoted_to_float():
    """Integer score tensors work and give float results."""
    out = uwo(SCORES.long(), lam=0.5)
    assert out.is_floating_point()
    _close(out, [3.0 - 7 / 3, 1.0])


def test_lam_zero_is_mean_even_when_variance_overflows():
    """lam = 0 means no penalty at all, so huge scores (float32 variance = inf) still give the plain mean."""
    scores = torch.tensor([[1e20, 5.0], [-1e20, 7.0]])
    assert torch.isinf(scores.var(dim=0, correction=0)[0])
    for name in ("uwo", "lcb"):
        out = apply_objective(name, scores, lam=0.0)
        assert torch.isfinite(out).all()
        _close(out, [0.0, 6.0])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["mean", "wco", "uwo", "lcb"])
@pytest.mark.parametrize("bad", [torch.ones(4), torch.ones(2, 3, 4), torch.ones(0, 3)])
def test_bad_shape_rejected(name, bad):
    """Scores must be [K, B] with K >= 1; the error names scores and the shape."""
    with pytest.raises(ValueError, match=r"scores.*\[K, B\].*" + re.escape(str(tuple(bad.shape)))):
        apply_objective(name, bad)


@pytest.mark.parametrize("name", ["uwo", "lcb"])
@pytest.mark.parametrize(("lam", "shown"), [(-0.1, "-0.1"), (float("nan"), "nan"), ("1", "'1'"), (None, "None")])
def test_bad_lam_rejected(name, lam, shown):
    """lam must be a number >= 0; the error names lam and the bad value."""
    with pytest.raises(ValueError, match=rf"lam.*{shown}"):
        apply_objective(name, SCORES, lam=lam)


def test_unknown_objective():
    """An unknown objective name is rejected, naming it."""
    with pytest.raises(ValueError, match=r"objective.*'median'"):
        apply_objective("median", SCORES)


# ---------------------------------------------------------------- properties

values = st.floats(min_value=-100.0, max_value=100.0, allow_nan=False, allow_infinity=False, width=32)
lams = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@st.composite
def score_tensors(draw, k_min: int = 1):
    """A [K, B] float32 tensor, K in k_min..6, B in 1..8, bounded values."""
    k = draw(st.integers(k_min, 6))
    b = draw(st.integers(1, 8))
    rows = draw(st.lists(st.lists(values, min_size=b, max_size=b), min_size=k, max_size=k))
    return torch.tensor(rows, dtype=torch.float32)


def _tol(x: torch.Tensor) -> torch.Tensor:
    """Rounding slack for a mean of float32 values."""
    return 1e-5 * (1.0 + x.abs())


@settings(max_examples=50, deadline=None)
@given(scores=score_tensors())
def test_prop_wco_le_mean_le_max(scores):
    """min <= mean <= max over members, up to float32 rounding of the mean."""
    m = mean(scores)
    hi = scores.max(dim=0).values
    assert torch.all(wco(scores) <= m + _tol(m))
    assert torch.all(m <= hi + _tol(hi))
    torch.testing.assert_close(wco(scores), scores.min(dim=0).values, rtol=0, atol=0)


@settings(max_examples=50, deadline=None)
@given(row=st.lists(values, min_size=1, max_size=8), k=st.integers(1, 6), lam=lams)
def test_prop_uwo_equals_mean_when_members_agree(row, k, lam):
    """With identical members the variance is zero, so uwo == lcb == mean == the shared score."""
    scores = torch.tensor([row] * k, dtype=torch.float32)
    m = mean(scores)
    torch.testing.assert_close(uwo(scores, lam=lam), m, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(lcb(scores, lam=lam), m, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(m, scores[0], rtol=1e-5, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(scores=score_tensors())
def test_prop_lam_zero_is_exactly_mean(scores):
    """lam = 0 returns exactly the mean (bit for bit)."""
    assert torch.equal(uwo(scores, lam=0.0), mean(scores))
    assert torch.equal(lcb(scores, lam=0), mean(scores))


@settings(max_examples=50, deadline=None)
@given(scores=score_tensors(), lam=lams)
def test_prop_penalised_objectives_below_mean(scores, lam):
    """lcb and uwo never exceed the mean: their penalties are non-negative."""
    m = mean(scores)
    assert torch.all(lcb(scores, lam=lam) <= m)
    assert torch.all(uwo(scores, lam=lam) <= m)


@settings(max_examples=50, deadline=None)
@given(scores=score_tensors(k_min=2), lams_pair=st.tuples(lams, lams))
def test_prop_uwo_monotone_in_lam(scores, lams_pair):
    """A larger lam never gives a larger uwo (or lcb)."""
    lo, hi = sorted(lams_pair)
    assert torch.all(uwo(scores, lam=hi) <= uwo(scores, lam=lo))
    assert torch.all(lcb(scores, lam=hi) <= lcb(scores, lam=lo))


@settings(max_examples=50, deadline=None)
@given(row=st.lists(values, min_size=1, max_size=8), lam=lams)
def test_prop_single_member_every_objective_is_that_member(row, lam):
    """With K = 1 every objective returns the member's scores unchanged."""
    scores = torch.tensor([row], dtype=torch.float32)
    for name in OBJECTIVES:
        out = apply_objective(name, scores, lam=lam)
        assert out.shape == (len(row),)
        torch.testing.assert_close(out, scores[0], rtol=0, atol=0)


@settings(max_examples=50, deadline=None)
@given(scores=score_tensors(k_min=2), lam=st.floats(min_value=0.01, max_value=10.0))
def test_prop_uwo_matches_reference_formula(scores, lam):
    """uwo and lcb match a float64 reference computed from the definition with divisor K."""
    s = scores.double()
    m = s.mean(dim=0)
    var = ((s - m) ** 2).sum(dim=0) / s.shape[0]
    expected_uwo = (m - lam * var).float()
    expected_lcb = (m - lam * var.sqrt()).float()
    scale = 1.0 + lam * (1.0 + var.float())
    assert torch.all((uwo(scores, lam=lam) - expected_uwo).abs() <= 1e-4 * scale)
    assert torch.all((lcb(scores, lam=lam) - expected_lcb).abs() <= 1e-4 * scale)


# ---------------------------------------------------------------- Standardizer


def test_standardizer_fits_reference_to_zero_mean_unit_std():
    """On the reference set each member gets mean 0 and population std 1, whatever its offset and scale."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 500, generator=g)
    ref = base * torch.tensor([[1.0], [10.0], [0.01], [3.0]]) + torch.tensor([[0.0], [-50.0], [7.0], [1e3]])
    z = Standardizer(ref)(ref)
    torch.testing.assert_close(z.mean(dim=1), torch.zeros(4), rtol=0, atol=1e-4)
    torch.testing.assert_close(z.std(dim=1, correction=0), torch.ones(4), rtol=0, atol=1e-4)


def test_standardizer_applies_reference_statistics_to_new_scores():
    """New scores are shifted and scaled by the reference statistics, not their own."""
    ref = torch.tensor([[0.0, 2.0], [10.0, 30.0]])  # member means 1, 20; population stds 1, 10
    out = Standardizer(ref)(torch.tensor([[1.0, 3.0, 5.0], [20.0, 40.0, 0.0]]))
    _close(out, [[0.0, 2.0, 4.0], [0.0, 2.0, -2.0]])


def test_standardizer_constant_member_does_not_divide_by_zero():
    """A constant member on the reference set yields finite (zero) standardised scores."""
    ref = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    z = Standardizer(ref)(ref)
    assert torch.isfinite(z).all()
    _close(z[1], [0.0, 0.0, 0.0])


def test_standardizer_member_count_mismatch():
    """Scores with another number of members than the reference raise a ValueError with both counts."""
    std = Standardizer(torch.randn(3, 10))
    with pytest.raises(ValueError, match=r"2 members.*3"):
        std(torch.randn(2, 10))


@pytest.mark.parametrize("lam", [float("inf"), True, -0.5])
def test_lam_rejects_inf_bool_negative(lam):
    with pytest.raises(ValueError, match="lam"):
        uwo(torch.zeros(3, 2), lam=lam)


def test_lam_accepts_numpy_floats():
    scores = torch.tensor([[1.0], [2.0], [6.0]])
    assert torch.allclose(uwo(scores, lam=np.float32(0.5)), torch.tensor([3.0 - 7.0 / 3.0]))


def test_apply_objective_checks_params_of_parameterless_objectives():
    scores = torch.zeros(2, 2)
    assert torch.equal(apply_objective("mean", scores, lam=0.5), scores.mean(0))
    with pytest.raises(ValueError, match="lam"):
        apply_objective("wco", scores, lam=-1)
    with pytest.raises(ValueError, match="takes no parameters"):
        apply_objective("mean", scores, lamda=1)


def test_single_is_the_first_member():
    scores = torch.tensor([[1.0, -2.0], [5.0, 7.0]])
    assert apply_objective("single", scores).tolist() == [1.0, -2.0]
    assert apply_objective("single", scores, lam=0.5).tolist() == [1.0, -2.0]  # lam accepted, ignored
