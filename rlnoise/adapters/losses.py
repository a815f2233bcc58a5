"""NMTune's regularisers (Chen et al., ICLR 2024) and the FGS-style variant, as pure functions on batches.

``z`` is the adapted feature batch ``[B, D]``, ``f`` the frozen features ``[B, D]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(z: torch.Tensor, f: torch.Tensor | None = None) -> None:
    if z.ndim != 2:
        raise ValueError(f"features must be a [batch, dims] matrix, got shape {tuple(z.shape)}")
    if f is not None and f.shape != z.shape:
        raise ValueError(
            f"adapted and frozen features must have the same shape, got {tuple(z.shape)} and {tuple(f.shape)}"
        )


def consistency_loss(z: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``MSE(normalize(z), normalize(f))``: mean over elements of the squared difference of L2-normalised rows."""
    _check(z, f)
    return F.mse_loss(F.normalize(z, dim=-1), F.normalize(f, dim=-1))


def covariance_loss(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal entries of the batch covariance of ``z`` (divisor B - 1), divided by D."""
    _check(z)
    if z.shape[0] < 2:
        raise ValueError("the covariance penalty needs a batch of at least 2 rows")
    centred = z - z.mean(0)
    cov = centred.T @ centred / (z.shape[0] - 1)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / z.shape[1]


def top_singular_share(z: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Mean of the ``k`` largest normalised singular values ``sigma_i / sum(sigma)`` of the batch ``z``."""
    _check(z)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    sigma = torch.linalg.svdvals(z)
    return (sigma / sigma.sum().clamp_min(1e-12))[: min(k, len(sigma))].mean()


def nmtune_loss(
    logits, labels, z, f, *, consistency: float = 1.0, covariance: float = 0.04, singular: float = 0.001, k: int = 5
) -> tuple[torch.Tensor, dict]:
    """``CE + consistency * MSE(norm z, norm f) + covariance * off-diagonal penalty - singular * top-k share``.

    Returns the total and its terms (for logging). With every weight 0 it is exactly the cross-entropy.
    """
    terms = {"ce": F.cross_entropy(logits, labels)}
    total = terms["ce"]
    if consistency:
        terms["consistency"] = consistency_loss(z, f)
        total = total + consistency * terms["consistency"]
    if covariance:
        terms["covariance"] = covariance_loss(z)
        total = total + covariance * terms["covariance"]
    if singular:
        terms["singular"] = top_singular_share(z, k)
        total = total - singular * terms["singular"]
    return total, {name: float(v.detach()) for name, v in terms.items()}


def variance_loss(z: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """VICReg-style variance term: mean over dimensions of ``relu(target - std)`` (keeps dimensions alive)."""
    _check(z)
    return F.relu(target - z.std(0)).mean()


def relational_kl(z: torch.Tensor, f: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Distillation to the frozen features: KL from the frozen batch's similarity distribution (row-wise softmax
    of cosine similarities / temperature, self-pairs excluded) to the adapted batch's."""
    _check(z, f)
    mask = torch.eye(len(z), dtype=torch.bool, device=z.device)

    def logp(x):
        x = F.normalize(x, dim=-1)
        return F.log_softmax((x @ x.T / temperature).masked_fill(mask, -1e9), dim=-1)

    target = logp(f).detach()
    return F.kl_div(logp(z), target, log_target=True, reduction="batchmean")
