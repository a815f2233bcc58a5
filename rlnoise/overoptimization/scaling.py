"""Gao et al. (2022) scaling-law forms of gold reward against d = sqrt(KL).

best-of-n: R(d) = d (alpha - beta d)        RL: R(d) = d (alpha - beta log d)

Both are linear in (alpha, beta) with no intercept, so the least-squares fit is closed form. Curves are expected
to be shifted so that the initial policy (d = 0) scores 0; see :func:`shift_to_start`.
"""

from __future__ import annotations

import numpy as np


def _check_curve(kl, gold) -> tuple[np.ndarray, np.ndarray]:
    kl = np.asarray(kl, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if kl.ndim != 1 or kl.shape != gold.shape:
        raise ValueError(f"kl and gold must be 1-D arrays of the same length, got shapes {kl.shape} and {gold.shape}")
    if not (np.all(np.isfinite(kl)) and np.all(np.isfinite(gold))):
        raise ValueError("kl and gold must be finite (no NaN or inf)")
    if np.any(kl < 0):
        raise ValueError(f"kl must be >= 0, got min {kl.min()}")
    if np.count_nonzero(kl > 0) < 2:
        raise ValueError("fitting needs at least two points with kl > 0")
    return kl, gold


def _least_squares(features: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    (alpha, beta), *_ = np.linalg.lstsq(features, gold, rcond=None)
    return float(alpha), float(beta)


def fit_bon(kl, gold) -> tuple[float, float]:
    """Fit R(d) = d (alpha - beta d), d = sqrt(kl), by least squares.

    Returns:
        ``(alpha, beta)``.
    """
    kl, gold = _check_curve(kl, gold)
    d = np.sqrt(kl)
    return _least_squares(np.stack([d, -d * d], axis=1), gold)


def bon_peak_draws(kl, curves) -> np.ndarray:
    """d* of the best-of-n form fitted to each row of ``curves`` (``[B, len(kl)]``, e.g. bootstrap resamples of
    one curve), in one least-squares solve; inf where the fitted beta <= 0."""
    curves = np.asarray(curves, dtype=np.float64)
    kl, _ = _check_curve(kl, curves[0])
    d = np.sqrt(kl)
    (alpha, beta), *_ = np.linalg.lstsq(np.stack([d, -d * d], axis=1), curves.T, rcond=None)
    rising = beta > 0
    return np.where(rising, alpha / (2 * np.where(rising, beta, 1.0)), np.inf)


def fit_rl(kl, gold) -> tuple[float, float]:
    """Fit R(d) = d (alpha - beta log d), d = sqrt(kl), by least squares (points with kl = 0 contribute 0 = 0).

    Returns:
        ``(alpha, beta)``.
    """
    kl, gold = _check_curve(kl, gold)
    keep = kl > 0
    d = np.sqrt(kl[keep])
    return _least_squares(np.stack([d, -d * np.log(d)], axis=1), gold[keep])


def bon_form(d, alpha: float, beta: float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    return d * (alpha - beta * d)


def rl_form(d, alpha: float, beta: float) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, d * (alpha - beta * np.log(np.where(d > 0, d, 1.0))), 0.0)


def bon_peak(alpha: float, beta: float) -> float:
    """d* = alpha / (2 beta), where the best-of-n form peaks; inf when beta <= 0 (no peak: still rising)."""
    return alpha / (2 * beta) if beta > 0 else float("inf")


def rl_peak(alpha: float, beta: float) -> float:
    """d* = exp(alpha / beta - 1), where the RL form peaks; inf when beta <= 0."""
    return float(np.exp(alpha / beta - 1)) if beta > 0 else float("inf")


def shift_to_start(curve) -> np.ndarray:
    """Subtract the first value (the initial policy, n = 1 or step 0) so the curve starts at 0."""
    curve = np.asarray(curve, dtype=np.float64)
    return curve - curve[..., :1]
