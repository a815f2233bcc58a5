"""Intervals and claims of online-RL runs, from the per-prompt means of every evaluation.

Every evaluation of a study scores the same prompts, so a gain over step 0 is a paired difference per prompt, and
one set of bootstrap resamples of the prompts (same seed, same prompt count) serves every run and step: runs and
steps stay paired with each other.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rlnoise.core.stats import (
    RESAMPLES,
    Claim,
    Interval,
    claims_markdown,
    percentile_interval,
    pooled_note,
    resample_weights,
    with_units,
)
from rlnoise.overoptimization.scaling import fit_rl, rl_peak


def add_intervals(
    run: dict, by_prompt: dict[str, np.ndarray], gold_std: float, resamples: int = RESAMPLES
) -> dict[str, np.ndarray]:
    """Add 95% bands and intervals to one run's curves (in place) and return its bootstrap draws.

    Args:
        run: the run's curves from :func:`rlnoise.overoptimization.rl_study.rl_results` (``kl``, ``gold``, ...).
        by_prompt: ``{"gold", "proxy", "kl"}`` -> ``[steps, prompts]`` per-prompt means of each evaluation.
        gold_std: the unit of gold gains.

    Adds ``gold_band``, ``proxy_band``, ``kl_band`` (``[low, high]`` per evaluation), ``last_gold_gain`` /
    ``last_proxy_gain`` intervals, ``drop`` (gold at the best evaluation minus gold at the last, with its
    ``step_index``), and, when the Gao fit exists, ``d_peak_interval`` and ``fit_resolved`` (False when the
    interval of d* is unbounded: the data do not locate a peak).

    Intervals decided by claims also keep their ``per_unit`` (per-prompt) values, for pooling seeds and the power
    planner.

    Returns:
        ``{"gold", "proxy", "kl"}`` -> ``[resamples, steps]`` draws, for paired comparisons between runs, and
        ``"gold_by_prompt"`` -> the ``[steps, prompts]`` gold gains themselves.
    """
    gold = (by_prompt["gold"] - by_prompt["gold"][:1]) / gold_std  # [T, P] paired gains over step 0
    proxy = by_prompt["proxy"] - by_prompt["proxy"][:1]
    kl = by_prompt["kl"]
    weights = resample_weights(gold.shape[1], resamples, seed=0)
    draws = {"gold": weights @ gold.T, "proxy": weights @ proxy.T, "kl": weights @ kl.T}  # each [B, T]
    run["intervals_from"] = dict(prompts=int(gold.shape[1]), resamples=resamples)
    for key, drawn in draws.items():
        band = [percentile_interval(x, d) for x, d in zip(run[key], drawn.T)]
        run[f"{key}_band"] = [[b.low for b in band], [b.high for b in band]]
    run["last_gold_gain"] = percentile_interval(run["gold"][-1], draws["gold"][:, -1]).as_dict()
    last_proxy = percentile_interval(run["proxy"][-1], draws["proxy"][:, -1])
    run["last_proxy_gain"] = with_units(last_proxy, proxy[-1])
    best = int(np.argmax(run["gold"]))
    drop = percentile_interval(run["gold"][best] - run["gold"][-1], draws["gold"][:, best] - draws["gold"][:, -1])
    run["drop"] = dict(with_units(drop, gold[best] - gold[-1]), step_index=best)
    if "d_peak" in run:
        peaks = [_peak(k, g) for k, g in zip(draws["kl"], draws["gold"])]
        interval = percentile_interval(run["d_peak"], peaks)
        run["d_peak_interval"] = interval.as_dict()
        run["fit_resolved"] = bool(np.isfinite(interval.high))
    return dict(draws, gold_by_prompt=gold)


def _peak(kl: np.ndarray, gold: np.ndarray) -> float:
    kl = np.maximum(kl, 0.0)
    if np.count_nonzero(kl > 0) < 2:
        return float("inf")
    return rl_peak(*fit_rl(kl, gold))


def interpolation_weights(kl: np.ndarray, target: float) -> np.ndarray:
    """Weights ``w`` over evaluations with ``w @ gold == np.interp(target, running max of kl, gold)``: the gold at
    KL ``target`` of the mean curve, as a linear function of each prompt's gold (its per-prompt values)."""
    kl = np.maximum.accumulate(np.asarray(kl, dtype=np.float64))
    return np.array([np.interp(target, kl, e) for e in np.eye(len(kl))])


def gold_at_kl(kl: np.ndarray, gold: np.ndarray, target: float) -> np.ndarray:
    """Each resample's gold at KL ``target``, linearly interpolated along its evaluations (``[B, T]`` draws; KL is
    made non-decreasing by a running maximum first, since evaluations can dip)."""
    kl = np.maximum.accumulate(kl, axis=1)
    return np.array([np.interp(target, k, g) for k, g in zip(kl, gold)])


def rl_claims(results: dict, draws: dict[str, dict]) -> list[Claim]:
    """Per noise setting and KL coefficient: does the single proxy's score rise, does its gold fall from its best
    evaluation, and does each objective keep more gold than the single proxy at matched KL (the larger KL both
    runs reached, interpolated, paired over prompts)? The statements name no seed-dependent number (best step,
    matched KL), so the claims of replicate seeds pool statement by statement."""
    claims = []
    runs = results["runs"]
    for single_label, single in runs.items():
        if single["objective"] != "single" or single_label not in draws:
            continue
        setting = f"noise {single['noise']}, beta {single['beta']:g}"
        step = single["step"][-1]
        claims.append(Claim.of(f"{setting}: the single proxy's score rises by step {step}", single["last_proxy_gain"]))
        statement = f"{setting}: the single proxy's gold falls from its best evaluation to step {step}"
        falls = Claim.of(statement, single["drop"])
        if single["drop"]["step_index"] == len(single["step"]) - 1:
            note = (
                f"gold still rises at the last evaluation (KL {single['kl'][-1]:.1f} nats), so the fall is 0 in "
                "every prompt; a smaller KL coefficient or more steps reach the gold peak"
            )
            falls = replace(falls, note=note)
        claims.append(falls)
        for label, run in runs.items():
            same_setting = run["noise"] == single["noise"] and run["beta"] == single["beta"]
            if run is single or not same_setting or label not in draws:
                continue
            statement = f"{setting}: {run['objective']} keeps more gold than the single proxy at matched KL"
            claims.append(matched_kl_claim(statement, (run, draws[label]), (single, draws[single_label])))
    return claims


def matched_kl_claim(statement: str, first: tuple[dict, dict], second: tuple[dict, dict]) -> Claim:
    """``statement``: the first run's gold minus the second's at matched KL (the larger KL both reached,
    interpolated along each run's evaluations), paired over prompts. Each of ``first``, ``second`` is a run and
    its draws (:func:`add_intervals`)."""
    (run, drawn), (other, other_drawn) = first, second
    target = min(max(run["kl"]), max(other["kl"]))
    a = gold_at_kl(drawn["kl"], drawn["gold"], target)
    b = gold_at_kl(other_drawn["kl"], other_drawn["gold"], target)
    ours = interpolation_weights(run["kl"], target) @ drawn["gold_by_prompt"]
    per_prompt = ours - interpolation_weights(other["kl"], target) @ other_drawn["gold_by_prompt"]
    return Claim(statement, percentile_interval(float(per_prompt.mean()), a - b), table=per_prompt[:, None])


def rl_markdown(results: dict) -> str:
    """``results.md``: the claims, then each run's evaluations with 95% intervals."""
    claims = [Claim.from_dict(c) for c in results.get("claims", [])]
    parts = [f"# Online RL ({results.get('algorithm', 'rl').upper()})\n", claims_markdown(claims)]
    pooled = pooled_note(len(results.get("seeds", [0])))
    parts.append(f"Gold gains over step 0 in initial-policy gold std; [95% interval], bootstrap over prompts{pooled}.")
    parts.append("")
    parts.append("| run | step | KL (k2) | gold gain | proxy gain |")
    parts.append("|---|---|---|---|---|")
    for run in results["runs"].values():
        for i in range(len(run["step"])):
            parts.append("| " + " | ".join(evaluation_cells(run, i)) + " |")
    return "\n".join(parts) + "\n"


def evaluation_cells(run: dict, i: int) -> list[str]:
    """A run's ``i``-th evaluation as table cells: run, step, KL, gold and proxy, each with its interval."""
    cells = [f"{run['noise']}, {run['objective']}, beta {run['beta']:g}", str(run["step"][i])]
    for key in ("kl", "gold", "proxy"):
        band = run.get(f"{key}_band")
        cells.append(str(Interval(run[key][i], band[0][i], band[1][i])) if band else f"{run[key][i]:.2f}")
    return cells
