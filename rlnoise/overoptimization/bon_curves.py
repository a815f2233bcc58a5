"""From scored pools to best-of-n results: selectors (members and ensemble objectives), curves and fits.

Pure array code (no models), so a study's numbers can be recomputed from cached scores.
"""

from __future__ import annotations

import numpy as np
import torch

from rlnoise.core.stats import RESAMPLES, percentile_interval, resample_weights, with_units
from rlnoise.overoptimization.bon import bon_curve, bon_kl, bon_pick
from rlnoise.overoptimization.ensemble import member_names
from rlnoise.overoptimization.objectives import OBJECTIVES, Standardizer, apply_objective
from rlnoise.overoptimization.scaling import bon_form, bon_peak, bon_peak_draws, fit_bon, shift_to_start


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


def bon_results(
    gold: np.ndarray, selectors: dict[str, np.ndarray], ns: list[int], resamples: int = RESAMPLES, seed: int = 0
) -> dict:
    """Best-of-n gold and proxy curves of every selector, shifted to 0 at n = 1, with Gao fits and 95% intervals.

    Gold is divided by its standard deviation over the pool, so gold and proxy curves are both in pool standard
    deviations. The proxy curve of a selector is its own score (a member's, or the objective's value).

    Intervals come from one bootstrap over prompts (each resample redraws prompts with their whole pools), shared by
    every selector, so differences between selectors are paired. ``single`` is the average single reward model
    (the mean of the members' per-prompt curves): what one RM picked at random achieves.

    Returns:
        ``{"ns", "kl", "gold_std", "resamples", "selectors": {name: entry}, "single": entry}``; an entry holds
        ``gold``, ``proxy``, their ``gold_band`` / ``proxy_band`` (``[low, high]`` per n), Gao fit (``alpha``,
        ``beta``, ``d_peak``, ``kl_peak``, ``r2``) with ``d_peak_interval``, ``gold_at_max_n`` and
        ``proxy_at_max_n`` with intervals, ``drop`` (best gold minus gold at the largest n); objectives also get
        ``vs_single`` (their gold at the largest n minus the average single RM's); ``single`` also has
        ``proxy_over_gold`` (its proxy gain minus its gold gain at the largest n) and ``gold_gain_by_prompt``.
    """
    gold = np.asarray(gold, dtype=np.float64)
    gold_std = float(gold.std()) or 1.0
    kl = bon_kl(np.asarray(ns))
    weights = resample_weights(gold.shape[0], resamples, seed)  # [B, P], one set of resamples for every selector
    rows = {
        name: (bon_curve(select, gold / gold_std, ns, per_prompt=True), bon_curve(select, select, ns, per_prompt=True))
        for name, select in selectors.items()
    }
    members = [r for name, r in rows.items() if name.startswith("member")]
    out = dict(ns=list(map(int, ns)), kl=kl.tolist(), gold_std=gold_std, resamples=resamples, selectors={})
    for name, (gold_rows, proxy_rows) in rows.items():
        out["selectors"][name] = _curve_entry(gold_rows, proxy_rows, kl, weights)
    if members:
        single_gold = np.mean([g for g, _ in members], axis=0)
        single_proxy = np.mean([p for _, p in members], axis=0)
        out["single"] = _curve_entry(single_gold, single_proxy, kl, weights)
        out["single"]["gold_gain_by_prompt"] = _gain(single_gold).tolist()  # pairs settings on the same pool
        gap = _gain(single_proxy) - _gain(single_gold)
        out["single"]["proxy_over_gold"] = with_units(percentile_interval(gap.mean(), weights @ gap), gap)
        for name, (gold_rows, _) in rows.items():
            if not name.startswith("member"):
                # per prompt, paired with each member, then averaged (equal to gain minus the single RM's gain):
                # where the picks agree every term is an exact 0, not the rounding residue of a mean of equal
                # curves, which a bootstrap would read as a tiny interval above 0 and call "holds"
                difference = np.mean([_gain(gold_rows) - _gain(g) for g, _ in members], axis=0)
                vs_single = percentile_interval(difference.mean(), weights @ difference)
                out["selectors"][name]["vs_single"] = with_units(vs_single, difference)
    return out


def _gain(per_prompt: np.ndarray) -> np.ndarray:
    """Each prompt's gain from n = 1 to the largest n."""
    return per_prompt[:, -1] - per_prompt[:, 0]


def _curve_entry(gold_rows: np.ndarray, proxy_rows: np.ndarray, kl: np.ndarray, weights: np.ndarray) -> dict:
    """Curves, bands, fit and intervals of one selector from its per-prompt curves ``[P, G]``."""
    entry: dict = {}
    for key, per_prompt in (("gold", gold_rows), ("proxy", proxy_rows)):
        curve = shift_to_start(per_prompt.mean(axis=0))
        draws = shift_to_start(weights @ per_prompt)  # [B, G]
        band = [percentile_interval(c, d) for c, d in zip(curve, draws.T)]
        entry[key] = curve.tolist()
        entry[f"{key}_band"] = [[b.low for b in band], [b.high for b in band]]
        entry[f"{key}_at_max_n"] = float(curve[-1])
        entry[f"{key}_at_max_n_interval"] = band[-1].as_dict()
        if key == "gold":
            gold_curve, gold_draws = curve, draws
    if len(kl) >= 3:
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
            d_peak_interval=percentile_interval(d_peak, bon_peak_draws(kl, gold_draws)).as_dict(),
        )
    # the overoptimization drop: gold at the best n (chosen on the full data) minus gold at the largest n, paired
    best = int(np.argmax(gold_curve))
    drop = percentile_interval(gold_curve[best] - gold_curve[-1], gold_draws[:, best] - gold_draws[:, -1])
    entry["drop"] = dict(with_units(drop, gold_rows[:, best] - gold_rows[:, -1]), n_index=best)
    return entry


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
