"""Conservative objectives over a reward-model ensemble (Coste et al. 2024).

Each entry of :data:`OBJECTIVES` is a pure function ``fn(scores: Tensor[K, B], **params) -> Tensor[B]``. Scores
must be finite: a NaN or inf score raises a ValueError naming its member and item instead of spreading.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch


def _check(scores: torch.Tensor, name: str = "scores") -> torch.Tensor:
    scores = torch.as_tensor(scores)
    if scores.ndim != 2 or scores.shape[0] < 1:
        raise ValueError(f"{name} must have shape [K, B] with K >= 1 members, got {tuple(scores.shape)}")
    bad = ~torch.isfinite(scores)
    if bad.any():  # NaN would pass through every objective silently, and uwo turns inf into NaN
        member, item = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{name} must be finite, got {scores[member, item].item()} at member {member}, item {item} "
            f"({int(bad.sum())} non-finite in all)"
        )
    return scores.float() if not scores.is_floating_point() else scores


def _check_lam(lam: float) -> float:
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0 <= lam < math.inf:
        raise ValueError(f"lam must be a finite number >= 0 (0 means no penalty), got {lam!r}")
    return float(lam)


def mean(scores: torch.Tensor) -> torch.Tensor:
    """Mean over members."""
    return _check(scores).mean(dim=0)


def wco(scores: torch.Tensor) -> torch.Tensor:
    """Worst-case optimisation: the minimum over members."""
    return _check(scores).min(dim=0).values


def uwo(scores: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Uncertainty-weighted optimisation: mean - lam * population variance over members (divisor K).

    ``lam = 0`` returns exactly the mean.
    """
    scores, lam = _check(scores), _check_lam(lam)
    if lam == 0:
        return scores.mean(dim=0)
    return scores.mean(dim=0) - lam * scores.var(dim=0, correction=0)


def lcb(scores: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Lower confidence bound: mean - lam * population standard deviation over members."""
    scores, lam = _check(scores), _check_lam(lam)
    if lam == 0:
        return scores.mean(dim=0)
    return scores.mean(dim=0) - lam * scores.std(dim=0, correction=0)


def single(scores: torch.Tensor) -> torch.Tensor:
    """The first member alone: a single reward model, the baseline the conservative objectives are compared to."""
    return _check(scores)[0]


OBJECTIVES: dict[str, Callable[..., torch.Tensor]] = {
    "mean": mean,
    "wco": wco,
    "uwo": uwo,
    "lcb": lcb,
    "single": single,
}


def apply_objective(name: str, scores: torch.Tensor, **params) -> torch.Tensor:
    """Look up ``name`` in :data:`OBJECTIVES` and apply it to ``scores`` [K, B]."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got '{name}'")
    if name in ("mean", "wco", "single"):
        unknown = set(params) - {"lam"}
        if unknown:
            raise ValueError(f"objective '{name}' takes no parameters, got {sorted(unknown)}")
        if "lam" in params:
            _check_lam(params.pop("lam"))  # meaningless here, accepted so one config drives every objective
    return OBJECTIVES[name](scores, **params)


class Standardizer:
    """Per-member standardisation fitted on a reference set: each member's scores get mean 0 and std 1 there.

    Members trained separately have arbitrary offsets and scales; WCO/UWO compare them only after this step.
    """

    def __init__(self, reference_scores: torch.Tensor, eps: float = 1e-6):
        ref = _check(reference_scores, "reference_scores")
        if ref.shape[1] == 0:
            raise ValueError(
                f"reference_scores must hold at least 1 item per member to fit on, got shape {tuple(ref.shape)}"
            )
        self.mean = ref.mean(dim=1, keepdim=True)
        self.std = ref.std(dim=1, keepdim=True, correction=0).clamp_min(eps)

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        scores = _check(scores)
        if scores.shape[0] != self.mean.shape[0]:
            raise ValueError(
                f"scores have {scores.shape[0]} members, the standardiser was fit on {self.mean.shape[0]}"
            )
        return (scores - self.mean.to(scores)) / self.std.to(scores)
