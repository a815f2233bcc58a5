"""Feature-spectrum metrics of Chen et al. (2024): singular value entropy and the largest singular value ratio.

Both take the feature matrix exactly as given (rows = examples); normalising it first is a separate, explicit
step (``normalize_features``), since centring or scaling changes the spectrum.
"""

from __future__ import annotations

import numpy as np
import torch

from rlnoise.adapters.config import NORMALIZATIONS


def _singular_values(features) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if x.ndim != 2 or min(x.shape) == 0:
        raise ValueError(f"features must be a non-empty 2-D matrix [examples, dims], got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("features must be finite (found NaN or inf)")
    sigma = torch.linalg.svdvals(x)
    if sigma.sum() <= 0:
        raise ValueError("features are all zero: the spectrum is undefined")
    return sigma


def sve(features) -> float:
    """Singular value entropy ``-sum p_i log p_i`` with ``p_i = sigma_i / sum(sigma)`` (natural log; zeros skipped)."""
    sigma = _singular_values(features)
    p = sigma / sigma.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def lsvr(features) -> float:
    """Largest singular value ratio ``sigma_1 / sum(sigma)``."""
    sigma = _singular_values(features)
    return float(sigma[0] / sigma.sum())


def normalize_features(features, how: str = "center") -> np.ndarray:
    """``none``; ``center`` (subtract the column means); ``l2`` (unit rows); ``standardize`` (centre, unit columns);
    ``reference``: the NMTune repository's evaluation preprocessing, unit rows and then each row's own mean removed
    (a per-row, not per-column, centring)."""
    if how not in NORMALIZATIONS:
        raise ValueError(f"how must be one of {list(NORMALIZATIONS)}, got {how!r}")
    x = np.asarray(features, dtype=np.float64)
    if how == "center":
        return x - x.mean(0)
    if how == "l2":
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if how == "standardize":
        return (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
    if how == "reference":
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return unit - unit.mean(1, keepdims=True)
    return x
