"""Black-box adapters: loss terms against their formulas, spectrum metrics on known spectra, NMTune vs the residual
MLP baseline, learning a separable task, clear errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.adapters import (
    ADAPTERS,
    AdapterConfig,
    accuracy,
    apply_adapter,
    lsvr,
    normalize_features,
    sve,
    train_adapter,
)
from rlnoise.adapters.losses import (
    consistency_loss,
    covariance_loss,
    nmtune_loss,
    relational_kl,
    top_singular_share,
    variance_loss,
)

Z = torch.tensor([[1.0, 2.0], [3.0, 0.0], [2.0, 4.0]])
F0 = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 2.0]])


def test_consistency_loss_matches_its_formula():
    zn = Z / Z.norm(dim=1, keepdim=True)
    fn = F0 / F0.norm(dim=1, keepdim=True)
    expected = ((zn - fn) ** 2).sum() / Z.numel()
    assert consistency_loss(Z, F0).item() == pytest.approx(expected.item())
    assert consistency_loss(2 * F0, F0).item() == pytest.approx(0.0, abs=1e-7)  # scale-free


def test_covariance_loss_matches_its_formula():
    # columns (1, 3, 2) and (2, 0, 4): means 2 and 2; cov_01 = ((-1)(0) + (1)(-2) + (0)(2)) / 2 = -1
    assert covariance_loss(Z).item() == pytest.approx(2 * (-1.0) ** 2 / 2)
    assert covariance_loss(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])).item() == 0.0


def test_top_singular_share_on_a_known_spectrum():
    z = torch.diag(torch.tensor([6.0, 3.0, 1.0]))
    assert top_singular_share(z, k=1).item() == pytest.approx(0.6)
    assert top_singular_share(z, k=2).item() == pytest.approx((0.6 + 0.3) / 2)
    assert top_singular_share(z, k=10).item() == pytest.approx(1 / 3)  # k beyond the rank: all values


def test_nmtune_loss_combines_its_terms_and_is_cross_entropy_at_zero_weights():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    ce = F.cross_entropy(logits, labels)
    total, terms = nmtune_loss(logits, labels, Z, F0, consistency=0.5, covariance=0.04, singular=0.1, k=1)
    expected = ce + 0.5 * consistency_loss(Z, F0) + 0.04 * covariance_loss(Z) - 0.1 * top_singular_share(Z, 1)
    assert total.item() == pytest.approx(expected.item())
    assert set(terms) == {"ce", "consistency", "covariance", "singular"}
    zero, terms = nmtune_loss(logits, labels, Z, F0, consistency=0, covariance=0, singular=0)
    assert zero.item() == ce.item() and set(terms) == {"ce"}


def test_variance_and_relational_kl_terms():
    assert variance_loss(torch.tensor([[0.0, 5.0], [0.0, -5.0]])).item() == pytest.approx(0.5)  # dim 0 is dead
    assert relational_kl(F0, F0).item() == pytest.approx(0.0, abs=1e-6)
    assert relational_kl(2 * F0, F0).item() == pytest.approx(0.0, abs=1e-6)  # cosine similarities: scale-free
    assert relational_kl(Z, F0).item() > 0


def test_sve_and_lsvr_on_known_spectra():
    d = np.diag([3.0, 1.0])
    assert sve(d) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert lsvr(d) == pytest.approx(0.75)
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    assert sve(rank_one) == pytest.approx(0.0, abs=1e-9) and lsvr(rank_one) == pytest.approx(1.0)
    assert sve(5 * np.eye(4)) == pytest.approx(math.log(4)) and lsvr(np.eye(4)) == pytest.approx(0.25)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(2, 8), st.floats(0.1, 10), st.integers(0, 10_000))
def test_spectrum_metrics_are_bounded_and_invariant_to_scale_and_rotation(n, d, scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    assert 0 <= sve(x) <= math.log(min(n, d)) + 1e-9 and 1 / min(n, d) - 1e-9 <= lsvr(x) <= 1
    assert sve(scale * x @ q) == pytest.approx(sve(x), abs=1e-9)
    assert lsvr(scale * x @ q) == pytest.approx(lsvr(x), abs=1e-9)


def test_normalisation_is_a_separate_explicit_step():
    x = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 12.0]])
    assert np.allclose(normalize_features(x, "center").mean(0), 0)
    assert np.allclose(np.linalg.norm(normalize_features(x, "l2"), axis=1), 1)
    assert np.allclose(normalize_features(x, "standardize").std(0), 1)
    assert sve(x) != pytest.approx(sve(normalize_features(x, "center")))  # centring changes the spectrum
    with pytest.raises(ValueError, match="how must be"):
        normalize_features(x, "whiten")


def _blobs(n=400, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    centres = rng.normal(size=(2, dim)) * 2
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_nmtune_with_zero_weights_trains_exactly_like_the_residual_mlp():
    x, y = _blobs()
    zero = dict(consistency=0.0, covariance=0.0, singular=0.0, epochs=3, batch_size=64)
    a, _ = train_adapter(x, y, AdapterConfig(adapter="nmtune", **zero))
    b, _ = train_adapter(x, y, AdapterConfig(adapter="residual_mlp", **zero))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    c, _ = train_adapter(x, y, AdapterConfig(adapter="nmtune", epochs=3, batch_size=64))  # default weights differ
    assert not torch.equal(c.state_dict()["mlp.0.weight"], a.state_dict()["mlp.0.weight"])


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_learns_a_separable_task(name):
    x, y = _blobs()
    model, history = train_adapter(x[:300], y[:300], AdapterConfig(adapter=name, epochs=15, batch_size=32, hidden=64))
    assert history[-1]["ce"] < history[0]["ce"]
    assert accuracy(model, x[300:], y[300:]) > 0.95
    logits, z = apply_adapter(model, x[300:])
    assert logits.shape == (100, 2) and z.shape == (100, 16)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: train_adapter(np.zeros(5), np.zeros(5), AdapterConfig()), "matrix"),
        (lambda: train_adapter(np.zeros((5, 3)), np.zeros(4), AdapterConfig()), "labels must be a vector of 5"),
        (lambda: train_adapter(np.full((5, 3), np.nan), np.zeros(5), AdapterConfig()), "finite"),
        (lambda: train_adapter(np.zeros((5, 3)), np.array([0, 1, 2, 0, 1]), AdapterConfig(), num_classes=2), "num_c"),
        (lambda: consistency_loss(torch.zeros(3, 2), torch.zeros(3, 4)), "same shape"),
        (lambda: covariance_loss(torch.zeros(3)), "matrix"),
        (lambda: sve(np.zeros((0, 3))), "non-empty"),
        (lambda: lsvr(np.zeros((3, 3))), "all zero"),
        (lambda: AdapterConfig(adapter="lora"), "adapter must be one of"),
        (lambda: AdapterConfig(batch_size=1), "batch_size"),
        (lambda: AdapterConfig(covariance=-1.0), "covariance"),
    ],
)
def test_bad_shapes_and_settings_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
