"""The pure math of RLHF with PPO on language models (Huang et al., "The N implementation details of RLHF with PPO").

All functions take ``[B, T]`` tensors over response tokens with a ``mask`` that is 1 on each sequence's response
tokens (a prefix of the row) and 0 on padding after it.
"""

from __future__ import annotations

import torch


def _check_mask(mask: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
    for t in tensors:
        if t.shape != mask.shape:
            raise ValueError(f"every tensor must have the mask's shape {tuple(mask.shape)}, got {tuple(t.shape)}")
    mask = mask.to(torch.float32)
    if mask.ndim != 2:
        raise ValueError(f"mask must be [batch, tokens], got shape {tuple(mask.shape)}")
    if torch.any((mask != 0) & (mask != 1)):
        raise ValueError("mask must contain only 0 and 1")
    if torch.any(mask[:, 1:] > mask[:, :-1]):
        raise ValueError("mask must be 1 on a prefix of each row (response tokens) and 0 after it")
    return mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the positions where ``mask`` is 1."""
    return (x * mask).sum() / mask.sum().clamp_min(1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Standardise ``x`` over the masked positions: ``(x - mean) / sqrt(var + eps)``, ``var`` unbiased (divisor n - 1).

    The references differ here: the code of Huang et al.'s "N implementation details" (``whiten``, with
    ``unbiased=False`` to match TensorFlow's ``tf.nn.moments``) and OpenRLHF (``masked_normalize``) use the
    population variance (divisor n); trl's ``masked_whiten`` uses the unbiased one. This follows trl, whose removed
    PPOTrainer the trainer in ``ppo.py`` replaces; over a batch of response tokens the two differ by a factor
    ``sqrt(n / (n - 1))``, negligible at the usual thousands of tokens. The n - 1 divisor is why n >= 2 is required.

    Args:
        shift_mean: False keeps the original mean (used for rewards); True centres it (advantages).

    Returns:
        The whitened tensor, 0 where ``mask`` is 0.
    """
    mask = mask.to(x.dtype)
    n = mask.sum()
    if n < 2:
        raise ValueError(f"whitening needs at least 2 unmasked values, got {int(n)}")
    mean = masked_mean(x, mask)
    var = (((x - mean) * mask) ** 2).sum() / (n - 1)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask


@torch.no_grad()
def compute_gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens; the state after the last token is terminal.

    Args:
        rewards, values, mask: ``[B, T]``.
        gamma: discount in [0, 1]. lam: GAE lambda in [0, 1].

    Returns:
        ``(advantages, returns)``, both ``[B, T]`` and 0 where ``mask`` is 0; ``returns = advantages + values``.
    """
    mask = _check_mask(mask, rewards, values)
    for name, value in (("gamma", gamma), ("lam", lam)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        advantages[:, t] = last
    return advantages, (advantages + values) * mask


def kl_k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """E[log pi/pi_ref] summed over response tokens, averaged over sequences (unbiased, high variance)."""
    mask = _check_mask(mask, logprobs, ref_logprobs)
    return ((logprobs - ref_logprobs) * mask).sum(1).mean()


def kl_k2_per_sequence(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1/2 (log pi/pi_ref)^2 summed over each sequence's response tokens: ``[B]``."""
    mask = _check_mask(mask, logprobs, ref_logprobs)
    return (0.5 * (logprobs - ref_logprobs) ** 2 * mask).sum(1)


def kl_k2(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """E[1/2 (log pi/pi_ref)^2] summed over response tokens, averaged over sequences (Coste et al.'s KL)."""
    return kl_k2_per_sequence(logprobs, ref_logprobs, mask).mean()


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """E[(r - 1) - log r] with r = pi_ref/pi, summed over response tokens, averaged over sequences (>= 0)."""
    mask = _check_mask(mask, logprobs, ref_logprobs)
    log_ratio = ref_logprobs - logprobs
    return ((torch.expm1(log_ratio) - log_ratio) * mask).sum(1).mean()


KL_ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


def shaped_rewards(
    scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """Per-token rewards: -beta * (log pi - log pi_ref) on every response token, plus the sequence score on its
    last response token.

    Args:
        scores: ``[B]`` sequence rewards (already clipped / penalised).

    Returns:
        ``[B, T]`` rewards, 0 where ``mask`` is 0.
    """
    mask = _check_mask(mask, logprobs, ref_logprobs)
    if beta < 0:
        raise ValueError(f"beta (KL coefficient) must be >= 0, got {beta}")
    if scores.shape != (mask.shape[0],):
        raise ValueError(f"scores must be [batch] = [{mask.shape[0]}], got {tuple(scores.shape)}")
    rewards = -beta * (logprobs - ref_logprobs) * mask
    last = (mask.sum(1).long() - 1).clamp_min(0)
    has_tokens = mask.sum(1) > 0
    rewards[torch.arange(mask.shape[0])[has_tokens], last[has_tokens]] += scores[has_tokens].to(rewards.dtype)
    return rewards


def policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, averaged over response tokens.

    Returns:
        ``(loss, clip_fraction)``.
    """
    mask = _check_mask(mask, logprobs, old_logprobs, advantages)
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    return loss, masked_mean((clipped > unclipped).float(), mask)


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss 0.5 * max((v - R)^2, (clip(v, v_old +- clip) - R)^2), averaged over response tokens.

    Returns:
        ``(loss, clip_fraction)``.
    """
    mask = _check_mask(mask, values, old_values, returns)
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped_loss = (values - returns) ** 2
    clipped_loss = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_loss, clipped_loss), mask)
    return loss, masked_mean((clipped_loss > unclipped_loss).float(), mask)


class AdaptiveKLController:
    """Ziegler et al.'s proportional controller: beta moves so the measured KL tracks ``target``."""

    def __init__(self, init_beta: float, target: float, horizon: int):
        if init_beta < 0 or target <= 0 or horizon <= 0:
            raise ValueError(f"need init_beta >= 0, target > 0, horizon > 0; got {init_beta}, {target}, {horizon}")
        self.value, self.target, self.horizon = init_beta, target, horizon

    def update(self, kl: float, n_samples: int) -> float:
        error = min(max(kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * n_samples / self.horizon
        return self.value
