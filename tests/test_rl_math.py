"""PPO math: GAE against a plain loop, whitening, KL estimators, reward shaping, clipped losses, KL controller."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.overoptimization.rl_math import (
    AdaptiveKLController,
    compute_gae,
    kl_k1,
    kl_k2,
    kl_k3,
    masked_mean,
    masked_whiten,
    policy_loss,
    shaped_rewards,
    value_loss,
)


def gae_loop(rewards, values, lengths, gamma, lam):
    """Textbook GAE, one sequence at a time in plain Python; the step after the last token is terminal."""
    advantages, returns = [], []
    for r, v, n in zip(rewards, values, lengths):
        adv = [0.0] * len(r)
        last = 0.0
        for t in reversed(range(n)):
            next_v = v[t + 1] if t + 1 < n else 0.0
            delta = r[t] + gamma * next_v - v[t]
            last = delta + gamma * lam * last
            adv[t] = last
        advantages.append(adv)
        returns.append([a + (v[t] if t < n else 0.0) for t, a in enumerate(adv)])
    return advantages, returns


def mask_from(lengths, width):
    return torch.tensor([[1.0] * n + [0.0] * (width - n) for n in lengths])


def test_gae_hand_built():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.5]])
    adv, ret = compute_gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=1.0)
    # lam = gamma = 1: advantage = (sum of future rewards) - value
    assert adv.tolist() == [[0.5, 0.5, 0.5]] and ret.tolist() == [[1.0, 1.0, 1.0]]
    adv0, _ = compute_gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=0.0)
    assert adv0.tolist() == [[0.0, 0.0, 0.5]]  # lam = 0: one-step TD errors


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=4),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(0, 10_000),
)
def test_gae_matches_plain_loop(lengths, gamma, lam, seed):
    gen = torch.Generator().manual_seed(seed)
    width = 6
    rewards = torch.randn(len(lengths), width, generator=gen, dtype=torch.float64)
    values = torch.randn(len(lengths), width, generator=gen, dtype=torch.float64)
    mask = mask_from(lengths, width).double()
    adv, ret = compute_gae(rewards, values, mask, gamma, lam)
    exp_adv, exp_ret = gae_loop(rewards.tolist(), values.tolist(), lengths, gamma, lam)
    assert torch.allclose(adv, torch.tensor(exp_adv, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(ret, torch.tensor(exp_ret, dtype=torch.float64) * mask, atol=1e-12)


def test_gae_rejects_bad_input():
    with pytest.raises(ValueError, match="prefix"):
        compute_gae(torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="mask's shape"):
        compute_gae(torch.zeros(1, 3), torch.zeros(1, 2), torch.ones(1, 3))
    with pytest.raises(ValueError, match="lam must be in"):
        compute_gae(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 3), lam=1.5)


def test_whitening():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, 0.0, 0.0]])
    mask = mask_from([3, 2], 4)
    w = masked_whiten(x, mask)
    values = w[mask.bool()]
    assert values.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert values.var(unbiased=True).item() == pytest.approx(1.0, abs=1e-5)
    assert w[0, 3] == 0 and w[1, 2] == 0  # masked positions ignored and zeroed
    kept = masked_whiten(x, mask, shift_mean=False)[mask.bool()]
    assert kept.mean().item() == pytest.approx(3.0, abs=1e-5)  # masked mean of 1..5
    with pytest.raises(ValueError, match="at least 2"):
        masked_whiten(x, mask_from([1, 0], 4))


def test_kl_estimators_on_hand_built_logprobs():
    logp = torch.tensor([[math.log(0.5), math.log(0.25), 0.0]])
    ref = torch.tensor([[math.log(0.25), math.log(0.25), 5.0]])
    mask = mask_from([2], 3)
    log_r = math.log(2.0)  # first token: log(0.5 / 0.25); second: 0; third masked out
    assert kl_k1(logp, ref, mask).item() == pytest.approx(log_r)
    assert kl_k2(logp, ref, mask).item() == pytest.approx(0.5 * log_r**2)
    assert kl_k3(logp, ref, mask).item() == pytest.approx((0.5 - 1) + log_r)  # r = 1/2: (r - 1) - log r
    two = kl_k2(torch.cat([logp, logp]), torch.cat([ref, ref + 1.0]), torch.cat([mask, mask]))
    assert two.item() == pytest.approx((0.5 * log_r**2 + 0.5 * ((log_r - 1) ** 2 + 1)) / 2)  # mean over sequences
    same = torch.randn(3, 4)
    for fn in (kl_k1, kl_k2, kl_k3):
        assert fn(same, same, torch.ones(3, 4)).item() == 0.0


def test_shaped_rewards():
    logp = torch.tensor([[0.0, -1.0, -2.0], [0.0, 0.0, 0.0]])
    ref = torch.tensor([[0.0, -2.0, -2.0], [-1.0, 0.0, 0.0]])
    mask = mask_from([2, 1], 3)
    rewards = shaped_rewards(torch.tensor([3.0, -1.0]), logp, ref, mask, beta=0.1)
    assert torch.allclose(rewards, torch.tensor([[0.0, -0.1 + 3.0, 0.0], [-0.1 - 1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="beta"):
        shaped_rewards(torch.zeros(2), logp, ref, mask, beta=-1.0)


def test_clipped_losses():
    mask = torch.ones(1, 2)
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))
    adv = torch.tensor([[1.0, -1.0]])
    loss, clip_frac = policy_loss(new, old, adv, mask, clip=0.2)
    # token 1: ratio 1.5, A = 1 -> max(-1.5, -1.2) = -1.2; token 2: ratio 0.5, A = -1 -> max(0.5, 0.8) = 0.8
    assert loss.item() == pytest.approx((-1.2 + 0.8) / 2) and clip_frac.item() == 1.0
    v_loss, v_frac = value_loss(torch.tensor([[1.0, 0.1]]), old, torch.tensor([[0.0, 0.0]]), mask, clip=0.2)
    # token 1: max(1, 0.04) = 1; token 2: max(0.01, 0.01) = 0.01
    assert v_loss.item() == pytest.approx(0.5 * (1.0 + 0.01) / 2) and v_frac.item() == 0.0
    assert masked_mean(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 0.0]])).item() == 2.0


def test_adaptive_kl_controller():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert ctl.update(12.0, 1000) == pytest.approx(0.1 * (1 + 0.2 * 0.1))  # error clipped at +0.2
    assert ctl.update(6.0, 1000) == pytest.approx(0.1 * 1.02)
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0, horizon=1)
