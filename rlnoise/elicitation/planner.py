"""The planner: from a finished sweep, how to spend a label budget.

Method (docs/elicitation.md). Re-score every cell under the asked weak marginal cost ``W``. A *series* is one
(method, swept weak fraction); its cells at the swept budgets give points (cost under ``W``, mean accuracy,
standard error, labels used). For the asked budget ``B``, each series is read at ``B``:

- accuracy and standard error: linear interpolation in log cost between the two points whose costs bracket ``B``;
- labels (weak, gold): linear interpolation in cost (so the split costs exactly ``B``), floored, so the plan never
  costs more than ``B``;
- a series whose cheapest point costs more than ``B`` cannot be afforded; one whose dearest point costs less than
  ``B`` is read at that point (it leaves budget unspent, and the plan says so; nothing is extrapolated).

The plan is the series with the highest accuracy at ``B``; its band is accuracy +- 1.96 standard errors (the spread
over seeds and the test set's binomial error, interpolated). The regime is that of the best accuracy at each weak
fraction at ``B``, and ``unresolved`` unless that fraction leads every other beyond their intervals.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

from rlnoise.core.files import read_jsonl
from rlnoise.core.stats import normal_interval
from rlnoise.elicitation.analysis import summarize
from rlnoise.elicitation.cost import Spend, check_budget, check_weak_cost
from rlnoise.elicitation.frontier import decided_regime


def _read_at(points: list[dict], budget: float) -> dict | None:
    """A series (points sorted by cost) read at ``budget``; None if even its cheapest point is too dear."""
    if points[0]["cost"] > budget:
        return None
    above = next((i for i, p in enumerate(points) if p["cost"] >= budget), None)
    if above is None:
        return dict(points[-1], unspent=budget - points[-1]["cost"], interpolated=False)
    hi = points[above]
    if hi["cost"] == budget or above == 0:
        return dict(hi, unspent=budget - hi["cost"], interpolated=False)
    lo = points[above - 1]
    t = (math.log(budget) - math.log(max(lo["cost"], 1e-9))) / (math.log(hi["cost"]) - math.log(max(lo["cost"], 1e-9)))
    s = (budget - lo["cost"]) / (hi["cost"] - lo["cost"])  # labels: linear in cost, so the split costs <= budget
    log_mix = lambda key: (1 - t) * lo[key] + t * hi[key]  # noqa: E731
    label_mix = lambda key: int(math.floor((1 - s) * lo[key] + s * hi[key] + 1e-9))  # noqa: E731
    return dict(
        hi,
        accuracy=log_mix("accuracy"),
        accuracy_se=log_mix("accuracy_se"),
        interpolated=True,
        n_weak=label_mix("n_weak"),
        n_gold=label_mix("n_gold"),
        between_budgets=[lo["budget"], hi["budget"]],
    )


def plan(rows: list[dict], budget: float, weak_marginal_cost: float, task: str) -> dict:
    """Recommend a method and a (n_weak, n_gold) split for ``budget`` under ``weak_marginal_cost`` on ``task``.

    Returns:
        dict with method, weak_fraction (swept), n_weak, n_gold, n_val, n_fewshot, cost, expected_accuracy,
        band (low, high), regime, by_fraction (best accuracy at each swept fraction), and notes.
    """
    budget = check_budget(budget)
    wmc = check_weak_cost(weak_marginal_cost)
    tasks = sorted({r["task"] for r in rows})
    if task not in tasks:
        raise ValueError(f"task {task!r} is not in this sweep; it has {tasks}")
    summary = [s for s in summarize(rows, wmc) if s["task"] == task]
    series = defaultdict(list)
    for s in summary:
        series[(s["method"], s["weak_fraction"])].append(s)
    readings = []
    for points in series.values():
        reading = _read_at(sorted(points, key=lambda p: p["cost"]), budget)
        if reading is not None:
            readings.append(reading)
    if not readings:
        cheapest = min(s["cost"] for s in summary)
        raise ValueError(
            f"budget {budget:g} is below the cheapest swept cell of {task!r} under weak_marginal_cost {wmc:g} "
            f"({cheapest:g}); sweep smaller budgets to plan for it"
        )
    best = max(readings, key=lambda r: (r["accuracy"], -r["weak_fraction"]))
    by_fraction: dict[float, dict] = {}  # the best reading at each fraction
    for r in readings:
        if r["weak_fraction"] not in by_fraction or r["accuracy"] > by_fraction[r["weak_fraction"]]["accuracy"]:
            by_fraction[r["weak_fraction"]] = r
    spend = Spend(best["n_weak"], best["n_gold"], best["n_val"], best["n_fewshot"])
    band = normal_interval(best["accuracy"], best["accuracy_se"])
    notes = []
    if best.get("unspent", 0) > 0 and not best["interpolated"]:
        notes.append(
            f"the best series was swept only up to cost {best['cost']:g}; this plan leaves "
            f"{best['unspent']:g} unspent (accuracy measured there, not extrapolated)"
        )
    fractions = sorted(by_fraction)
    return dict(
        task=task,
        budget=budget,
        weak_marginal_cost=wmc,
        method=best["method"],
        weak_fraction=best["weak_fraction"],
        n_weak=spend.n_weak,
        n_gold=spend.n_gold,
        n_val=spend.n_val,
        n_fewshot=spend.n_fewshot,
        cost=spend.cost(wmc),
        expected_accuracy=best["accuracy"],
        band=(band.low, band.high),
        regime=decided_regime(
            fractions,
            [by_fraction[f]["accuracy"] for f in fractions],
            [by_fraction[f]["accuracy_se"] for f in fractions],
        )[0],
        by_fraction={str(f): round(by_fraction[f]["accuracy"], 4) for f in fractions},
        interpolated_between=best.get("between_budgets"),
        notes=notes,
    )


def load_cells(folder: str | Path, config_key: str | None = None) -> list[dict]:
    """Every finished grid point of a sweep folder (all shards) made by ``config_key`` (default: the config of the
    folder's results.json, so a planner never mixes rows of two configs)."""
    folder = Path(folder)
    if config_key is None and (folder / "results.json").exists():
        config_key = json.loads((folder / "results.json").read_text()).get("config_key")
    rows = []
    for path in sorted(folder.glob("cells*.jsonl")):
        rows += [r for r in read_jsonl(path) if config_key is None or r.get("config_key") == config_key]
    return rows
