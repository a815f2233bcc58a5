"""From scored pools to best-of-n results: selectors (members and ensemble objectives), curves and fits.

Pure array code (no models), so a study's numbers can be recomputed from cached scores.
"""

from __future__ import annotations

import numpy as np
import torch

from rlnoise.overoptimization.bon import bon_curve, bon_kl, bon_pick
from rlnoise.overoptimization.ensemble import member_names
from rlnoise.overoptimization.objectives import OBJECTIVES, Standardizer, apply_objective
from rlnoise.overoptimization.scaling import bon_form, bon_peak, fit_bon, shift_to_start


def selector_scores(member_scores: np.ndarray, objectives: list[str], lam: float) -> dict[str, np.ndarray]:
    """The scores each selector ranks a pool by.

    Members are standardised over the pool (mean 0, std 1 each, :class:`Standardizer`) before objectives combine
    them, because separately trained members have arbitrary offsets and scales.

    Args:
        member_scores: ``[K, P, N]`` raw member scores.
        objectives: names in :data:`OBJECTIVES`, e.g. ``["mean", "wco", "uwo"]``.
        lam: the ``lam`` of uwo / lcb (>= 0).

    Returns:
        ``{"member0": [P, N], ..., "mean": [P, N], ...}``.
    """
    scores = np.asarray(member_scores, dtype=np.float64)
    if scores.ndim != 3:
        raise ValueError(f"member_scores must be [members, prompts, samples], got shape {scores.shape}")
    for name in objectives:
        if name not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got '{name}'")
    k, p, n = scores.shape
    flat = torch.from_numpy(scores.reshape(k, p * n))
    z = Standardizer(flat)(flat)
    out = {name: z[i].numpy().reshape(p, n) for i, name in enumerate(member_names(k))}
    for name in objectives:
        out[name] = apply_objective(name, z, lam=lam).numpy().reshape(p, n)
    return out


def bon_results(gold: np.ndarray, selectors: dict[str, np.ndarray], ns: list[int]) -> dict:
    """Best-of-n gold and proxy curves of every selector, shifted to 0 at n = 1, with Gao fits.

    Gold is divided by its standard deviation over the pool, so gold and proxy curves are both in pool standard
    deviations. The proxy curve of a selector is its own score (a member's, or the objective's value).

    Returns:
        ``{"ns", "kl", "gold_std", "selectors": {name: {"gold", "proxy", "alpha", "beta", "d_peak", "kl_peak",
        "r2", "gold_at_max_n", "proxy_at_max_n"}}}``.
    """
    gold = np.asarray(gold, dtype=np.float64)
    gold_std = float(gold.std()) or 1.0
    kl = bon_kl(np.asarray(ns))
    out = dict(ns=list(map(int, ns)), kl=kl.tolist(), gold_std=gold_std, selectors={})
    for name, select in selectors.items():
        gold_curve = shift_to_start(bon_curve(select, gold / gold_std, ns))
        proxy_curve = shift_to_start(bon_curve(select, select, ns))
        entry = dict(gold=gold_curve.tolist(), proxy=proxy_curve.tolist())
        if len(ns) >= 3:
            alpha, beta = fit_bon(kl, gold_curve)
            fitted = bon_form(np.sqrt(kl), alpha, beta)
            spread = np.sum((gold_curve - gold_curve.mean()) ** 2)
            d_peak = bon_peak(alpha, beta)
            entry.update(
                alpha=alpha,
                beta=beta,
                d_peak=d_peak,
                kl_peak=d_peak**2,
                r2=float(1 - np.sum((gold_curve - fitted) ** 2) / spread) if spread > 0 else float("nan"),
            )
        entry.update(gold_at_max_n=float(gold_curve[-1]), proxy_at_max_n=float(proxy_curve[-1]))
        out["selectors"][name] = entry
    return out


def best_of_n_picks(
    prompts: list[str],
    pool: list[list[str]],
    gold: np.ndarray,
    selectors: dict[str, np.ndarray],
    ns: list[int],
) -> list[dict]:
    """Concrete picks for display. For each prompt and n, every distinct sample that some selector picks as the best
    of the first n: its pool index, gold score, response and ``picked_by`` (selector -> its score of the sample)."""
    index = {(name, n): bon_pick(select[: len(prompts)], n) for name, select in selectors.items() for n in ns}
    rows = []
    for p, prompt in enumerate(prompts):
        picks = []
        for n in ns:
            picked_by: dict[int, dict[str, float]] = {}
            for name, select in selectors.items():
                j = int(index[name, n][p])
                picked_by.setdefault(j, {})[name] = float(select[p, j])
            for j, by in sorted(picked_by.items()):
                picks.append(dict(n=n, index=j, gold=float(gold[p, j]), picked_by=by, response=pool[p][j]))
        rows.append(dict(prompt=prompt, picks=picks))
    return rows
