"""Best-of-n: the unbiased estimator of the expected score of the best-of-n pick, and its KL from the policy.

Given a pool of N samples per prompt, the best-of-n pick of n samples drawn without replacement is the one with the
highest selecting score. Sort the pool ascending by the selecting score; the i-th sample (1-based) is the pick
exactly when it is drawn and the other n - 1 draws come from the i - 1 samples below it, so

    E[gold of the pick] = sum_{i=n..N} C(i-1, n-1) / C(N, n) * gold_(i)

where gold_(i) is the gold score of the i-th sample *in the selector's order* (Gao et al. 2022, Coste et al.
2024). The weights are computed in log space (``lgamma``), so N in the tens of thousands is exact to ~1e-12.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import gammaln


def bon_kl(n) -> np.ndarray | float:
    """KL(best-of-n || policy) = log n - (n - 1) / n (Stiennon et al. 2020; exact for continuous scores)."""
    arr = np.asarray(n, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr < 1):
        raise ValueError(f"n must be >= 1, got {n}")
    kl = np.log(arr) - (arr - 1) / arr
    return float(kl) if kl.ndim == 0 else kl


def _check_ns(ns: Sequence[int], pool_size: int) -> np.ndarray:
    ns = np.asarray(ns)
    if ns.ndim != 1 or ns.size == 0:
        raise ValueError(f"ns must be a non-empty list of integers, got {ns.tolist()}")
    if not np.all(np.equal(np.mod(ns, 1), 0)) or np.any(ns < 1):
        raise ValueError(f"every n in ns must be an integer >= 1, got {ns.tolist()}")
    if np.any(ns > pool_size):
        raise ValueError(f"n = {int(ns.max())} is larger than the pool of {pool_size} samples per prompt")
    return ns.astype(np.int64)


def bon_weights(pool_size: int, ns: Sequence[int]) -> np.ndarray:
    """Weights ``w[j, i] = C(i, n_j - 1) / C(N, n_j)`` for the sample of 0-based ascending rank i.

    Returns:
        ``[len(ns), N]`` array; each row sums to 1.
    """
    ns = _check_ns(ns, pool_size)
    i = np.arange(pool_size, dtype=np.float64)[None, :]  # 0-based rank = (1-based rank) - 1
    k = (ns - 1).astype(np.float64)[:, None]
    log_c_num = gammaln(i + 1) - gammaln(k + 1) - gammaln(np.maximum(i - k, 0) + 1)
    log_c_den = gammaln(pool_size + 1) - gammaln(ns + 1.0) - gammaln(pool_size - ns + 1.0)
    w = np.exp(log_c_num - log_c_den[:, None])
    return np.where(i >= k, w, 0.0)


def _check_pool(name: str, scores) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a [prompts, samples] array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is an empty pool (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ValueError(f"{name} has a NaN or infinite score at [prompt, sample] = {bad}")
    return arr


def selector_order(select_scores) -> np.ndarray:
    """Indices that sort each prompt's pool ascending by score; among equal scores the lower sample index ranks
    higher (a stable sort of the descending order, reversed), matching ``argmax``'s first-index rule."""
    select = _check_pool("select_scores", select_scores)
    # torch's stable sort is multi-threaded and ~3x faster than numpy's on a [1000, 12600] pool
    descending = torch.sort(torch.from_numpy(-select), dim=1, stable=True).indices
    return descending.flip(1).numpy()


def bon_curve(select_scores, gold_scores, ns: Sequence[int], *, per_prompt: bool = False) -> np.ndarray:
    """Expected score of the best-of-n pick, for each n, averaged over prompts.

    Args:
        select_scores: ``[P, N]`` scores that choose the pick (a proxy member, or an ensemble objective).
        gold_scores: ``[P, N]`` scores to average over the picks (gold, or the proxy itself for the proxy curve).
            They are permuted with the *selector's* ranking.
        ns: the n grid, each in ``1..N``.
        per_prompt: return ``[P, len(ns)]`` instead of the mean over prompts.

    Returns:
        ``[len(ns)]`` expected scores (or ``[P, len(ns)]``).
    """
    select = _check_pool("select_scores", select_scores)
    gold = _check_pool("gold_scores", gold_scores)
    if select.shape != gold.shape:
        raise ValueError(f"select_scores {select.shape} and gold_scores {gold.shape} must have the same shape")
    weights = bon_weights(select.shape[1], ns)  # [G, N]
    order = torch.from_numpy(selector_order(select).copy())
    ranked_gold = torch.gather(torch.from_numpy(gold), 1, order).numpy()  # [P, N], ascending by selector
    curve = ranked_gold @ weights.T if per_prompt else weights @ ranked_gold.mean(axis=0)
    # n = 1 picks uniformly whatever the selector: its value is the pool mean, summed here in pool order so that every
    # selector gets the same float (each selector's order rounds it differently, and a difference between selectors
    # that pick alike would come out as a rounding residue that intervals then read as an effect)
    first = np.asarray(ns) == 1
    curve[..., first] = gold.mean(axis=1)[:, None] if per_prompt else gold.mean(axis=1).mean()
    return curve


def bon_pick(select_scores, n: int) -> np.ndarray:
    """Index of the best-of-n pick among the first n samples of each prompt's pool (samples are i.i.d., so the
    first n are a random draw of n); ties go to the lower index. Used to show concrete picks."""
    select = _check_pool("select_scores", select_scores)
    _check_ns([n], select.shape[1])
    return np.argmax(select[:, :n], axis=1)


def default_ns(pool_size: int, points: int = 20) -> list[int]:
    """A grid of about ``points`` values of n from 1 to N, evenly spaced in sqrt(KL) (so plots are even)."""
    _check_ns([pool_size], pool_size)
    if pool_size == 1:
        return [1]
    grid = np.arange(1, pool_size + 1)
    d_grid = np.sqrt(bon_kl(grid))
    picks: set[int] = set()
    for dense in range(points, 4 * points + 1):  # small n collapse onto the same integer; ask for more targets
        targets = np.linspace(0.0, d_grid[-1], dense)
        picks = {int(grid[np.argmin(np.abs(d_grid - x))]) for x in targets}
        if len(picks) >= min(points, pool_size):
            break
    return sorted(picks)
