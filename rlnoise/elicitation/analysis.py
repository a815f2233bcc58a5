"""Sweep results under a cost model: re-scoring, seed summaries, frontiers and regimes per budget."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from rlnoise.core.stats import (
    bootstrap_mean,
    correctness_difference,
    normal_interval,
    pool_seed_results,
    proportion_difference,
    with_units,
)
from rlnoise.elicitation.cost import Spend, check_weak_cost
from rlnoise.elicitation.frontier import decided_regime, pareto_frontier, regime


def auroc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties): threshold-free, so a classifier whose
    scores rank well but sit on one side of its threshold (prompting often does) still shows its signal."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("auroc needs both classes among the labels")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rescore(rows: list[dict], weak_marginal_cost: float) -> list[dict]:
    """Rows with ``cost`` recomputed under ``weak_marginal_cost`` (from the labels each cell used; no retraining)."""
    wmc = check_weak_cost(weak_marginal_cost)
    return [dict(r, cost=_spend(r).cost(wmc)) for r in rows]


def _spend(row: dict) -> Spend:
    return Spend(row["n_weak"], row["n_gold"], row["n_val"], row["n_fewshot"])


def standard_error(accuracies: list[float], n_test: int) -> float:
    """Error of a mean test accuracy: the spread over seeds plus the test set's binomial sampling error."""
    mean = float(np.mean(accuracies))
    seed_var = float(np.var(accuracies, ddof=1)) / len(accuracies) if len(accuracies) > 1 else 0.0
    return math.sqrt(seed_var + mean * (1 - mean) / max(n_test, 1))


def summarize(rows: list[dict], weak_marginal_cost: float) -> list[dict]:
    """One row per (task, method, budget, weak fraction): mean accuracy over seeds, its standard error and 95%
    interval (``accuracy_interval``, normal, from the error over seeds and the test set), the cost."""
    groups = defaultdict(list)
    for r in rescore(rows, weak_marginal_cost):
        groups[(r["task"], r["method"], r["budget"], r["weak_fraction"])].append(r)
    out = []
    for (task, name, budget, f), rs in sorted(groups.items()):
        accs = [r["accuracy"] for r in rs]
        se = standard_error(accs, rs[0].get("n_test", 0))
        interval = normal_interval(float(np.mean(accs)), se)
        out.append(
            dict(
                task=task,
                method=name,
                budget=budget,
                weak_fraction=f,
                seeds=len(rs),
                accuracy=float(np.mean(accs)),
                accuracy_se=se,
                accuracy_interval=[interval.low, interval.high],
                auroc=float(np.mean([r.get("auroc", np.nan) for r in rs])),
                cost=float(np.mean([r["cost"] for r in rs])),
                n_weak=rs[0]["n_weak"],
                n_gold=rs[0]["n_gold"],
                n_val=rs[0]["n_val"],
                n_fewshot=rs[0]["n_fewshot"],
            )
        )
    return out


def best_by_fraction(summary: list[dict], task: str, budget: float) -> dict[float, dict]:
    """For one budget: the best method's summary row at each weak fraction."""
    best: dict[float, dict] = {}
    for s in summary:
        if s["task"] == task and s["budget"] == budget:
            f = s["weak_fraction"]
            if f not in best or s["accuracy"] > best[f]["accuracy"]:
                best[f] = s
    return dict(sorted(best.items()))


def regimes(summary: list[dict], rows: list[dict] | None = None) -> list[dict]:
    """Per task and budget: accuracy of the best method at each weak fraction, the best fraction, and the regime:
    ``regime`` is decided by intervals (``unresolved`` unless the best fraction leads every other beyond them),
    ``leading_regime`` is what the point estimates alone would say, ``margins`` the leads with intervals.

    With the sweep's cell ``rows``, each lead is paired over the shared test examples within a seed and pooled over
    seeds by the two-way model (:func:`paired_lead`), and keeps its examples x seeds table for the power planner;
    without them (or for cells without per-example results) the leads come from the accuracies' standard errors,
    assumed independent (:func:`rlnoise.elicitation.frontier.decided_regime`)."""
    cells = _cells_by_point(rows or [])
    out = []
    for task in sorted({s["task"] for s in summary}):
        for budget in sorted({s["budget"] for s in summary if s["task"] == task}):
            best = best_by_fraction(summary, task, budget)
            fractions = list(best)
            accs = [best[f]["accuracy"] for f in fractions]
            top = max(range(len(fractions)), key=lambda i: (accs[i], -fractions[i]))
            decided, margins = decided_regime(fractions, accs, [best[f]["accuracy_se"] for f in fractions])
            others = [f for f in fractions if f != fractions[top]]
            paired = {f"{f:g}": paired_lead(cells, best[fractions[top]], best[f]) for f in others}
            if paired and all(m is not None for m in paired.values()):
                margins = paired
                decided = regime(fractions, accs) if all(m["low"] > 0 for m in margins.values()) else "unresolved"
            out.append(
                dict(
                    task=task,
                    budget=budget,
                    regime=decided,
                    leading_regime=regime(fractions, accs),
                    margins=margins,
                    best_fraction=fractions[top],
                    best_method=best[fractions[top]]["method"],
                    accuracy=accs[top],
                    by_fraction={str(f): round(a, 4) for f, a in zip(fractions, accs)},
                )
            )
    return out


def _cells_by_point(rows: list[dict]) -> dict[tuple, dict[int, dict]]:
    """Cell rows by (task, method, budget, weak fraction), then by seed."""
    cells: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in rows:
        cells[(r["task"], r["method"], r["budget"], r["weak_fraction"])][r["seed"]] = r
    return cells


def paired_lead(cells: dict[tuple, dict[int, dict]], a: dict, b: dict) -> dict | None:
    """Summary row ``a``'s accuracy minus ``b``'s: per seed the paired difference over the shared test examples,
    pooled over the seeds both ran (the two-way model on the examples x seeds table); None when a cell lacks its
    per-example results or the two share no seed."""
    ours, theirs = (cells.get((r["task"], r["method"], r["budget"], r["weak_fraction"]), {}) for r in (a, b))
    seeds = sorted(set(ours) & set(theirs))
    pairs = [(ours[s], theirs[s]) for s in seeds]
    if not pairs or any("test_correct" not in x for pair in pairs for x in pair):
        return None
    return pool_seed_results([_difference(x, y) for x, y in pairs])


def frontier(summary: list[dict], task: str, **tolerances) -> list[dict]:
    """The (cost, accuracy) Pareto frontier of one task's summary rows, cheapest first."""
    rows = [s for s in summary if s["task"] == task]
    idx = pareto_frontier([r["cost"] for r in rows], [r["accuracy"] for r in rows], **tolerances)
    return [rows[i] for i in idx]


def method_effects(rows: list[dict], method: str, baseline: str) -> list[dict]:
    """``method`` minus ``baseline`` at every (task, budget, weak fraction) both ran: per seed a paired difference
    over the shared test examples (Newcombe's interval for rows without per-example results), pooled over seeds
    (:func:`rlnoise.core.stats.pool_seed_results`: the two-way model on the examples x seeds table)."""
    by_point = defaultdict(dict)
    for r in rows:
        if r["method"] in (method, baseline):
            by_point[(r["task"], r["budget"], r["weak_fraction"], r["seed"])][r["method"]] = r
    groups = defaultdict(list)
    for (task, budget, f, _), pair in sorted(by_point.items()):
        if len(pair) == 2:
            groups[(task, budget, f)].append(_difference(pair[method], pair[baseline]))
    return [
        dict(task=t, budget=b, weak_fraction=f, seeds=len(d), method=method, baseline=baseline,
             difference=pool_seed_results(d))
        for (t, b, f), d in groups.items()
    ]  # fmt: skip


def _difference(row: dict, baseline: dict) -> dict:
    if "test_correct" in row and "test_correct" in baseline:
        difference = correctness_difference(row["test_correct"], baseline["test_correct"])
        return with_units(bootstrap_mean(difference), difference)
    n = row["n_test"]
    return proportion_difference(round(row["accuracy"] * n), n, round(baseline["accuracy"] * n), n).as_dict()
