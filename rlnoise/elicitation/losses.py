"""Training losses for binary classifiers on soft labels, and uncertainty sampling.

All take logits of shape ``[B, 2]`` (class 0 = incorrect/no, class 1 = correct/yes) and targets as the
probability of class 1 (hard gold labels are 0.0 / 1.0; weak labels are the weak labeler's probabilities).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _check(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape[1] != 2:
        raise ValueError(f"logits must have shape [B, 2], got {tuple(logits.shape)}")
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"targets must have shape [{logits.shape[0]}], got {tuple(targets.shape)}")


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of ``-(t log p1 + (1 - t) log p0)``: cross-entropy against a target distribution ``(1 - t, t)``."""
    _check(logits, targets)
    logp = F.log_softmax(logits.float(), dim=-1)
    t = targets.float()
    return -(t * logp[:, 1] + (1 - t) * logp[:, 0]).mean()


def log_confidence_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float) -> torch.Tensor:
    """The auxiliary log-confidence loss of Burns et al. (2023, weak-to-strong generalisation).

    ``(1 - alpha) * CE(p, t) + alpha * CE(p, hard(p))``, where ``hard(p)`` thresholds the model's own (detached)
    probabilities at their batch median, so the model is pushed to be confident in its own predictions while
    keeping the classes balanced (our tasks are balanced). ``alpha = 0`` is plain soft cross-entropy.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    _check(logits, targets)
    p1 = F.softmax(logits.detach().float(), dim=-1)[:, 1]
    hard = (p1 > p1.median()).float()
    return (1 - alpha) * soft_cross_entropy(logits, targets) + alpha * soft_cross_entropy(logits, hard)


def most_uncertain(probs, n: int) -> list[int]:
    """Indices of the ``n`` probabilities closest to 0.5 (ties: lower index first), for uncertainty sampling."""
    probs = np.asarray(probs, dtype=float)
    if not 0 <= n <= len(probs):
        raise ValueError(f"n must be in [0, {len(probs)}] (the candidates), got {n!r}")
    order = np.lexsort((np.arange(len(probs)), np.abs(probs - 0.5)))
    return order[:n].tolist()
