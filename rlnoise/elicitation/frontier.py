"""Pareto frontiers over (cost, accuracy) and the quantity/quality regime of a budget."""

from __future__ import annotations

import math

import numpy as np

REGIMES = ("quality-dominant", "mixed", "quantity-dominant")


def _as_vector(field: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{field} must be a 1-D sequence of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{field} must be finite, got {values!r}")
    return array


def pareto_frontier(costs, accuracies, *, cost_rtol: float = 0.05, perf_atol: float = 0.002) -> list[int]:
    """Indices of the points on the (low cost, high accuracy) frontier, in increasing cost.

    Points are visited cheapest first (ties: higher accuracy, then lower index, first). A point joins the frontier
    when its accuracy beats every cheaper frontier point by more than ``perf_atol``; when it costs at most
    ``1 + cost_rtol`` times the previous frontier point, that point is dropped (the two count as the same cost, and
    the new one is better). So a point more expensive but only ``perf_atol`` better is not worth its cost, and of
    equal points the first wins.

    Args:
        costs: one cost per point (gold-label units, >= 0).
        accuracies: one accuracy per point.
        cost_rtol: relative cost tolerance within which two costs are treated as equal.
        perf_atol: absolute accuracy gain a costlier point needs to join the frontier.

    Returns:
        Frontier indices into the inputs, in increasing cost.
    """
    costs, accuracies = _as_vector("costs", costs), _as_vector("accuracies", accuracies)
    if costs.shape != accuracies.shape:
        raise ValueError(f"costs and accuracies must have the same length, got {len(costs)} and {len(accuracies)}")
    if np.any(costs < 0):
        raise ValueError(f"costs must be >= 0, got {costs.min()!r}")
    if not (cost_rtol >= 0 and perf_atol >= 0 and math.isfinite(cost_rtol) and math.isfinite(perf_atol)):
        raise ValueError(f"cost_rtol and perf_atol must be finite and >= 0, got {cost_rtol!r}, {perf_atol!r}")
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -accuracies[i], i))
    frontier: list[int] = []
    best = -math.inf
    for i in order:
        if accuracies[i] <= best + perf_atol:
            continue
        while frontier and costs[i] <= costs[frontier[-1]] * (1 + cost_rtol):
            frontier.pop()
        frontier.append(i)
        best = accuracies[i]
    return frontier


def regime(weak_fractions, accuracies) -> str:
    """The regime of one budget from the best weak-label fraction (argmax; ties go to the smaller fraction).

    ``quality-dominant`` when the best fraction is 0 (all gold), ``quantity-dominant`` when it is the largest swept
    fraction and that fraction is 1 (all weak), ``mixed`` otherwise.
    """
    fractions, accuracies = _as_vector("weak_fractions", weak_fractions), _as_vector("accuracies", accuracies)
    if len(fractions) == 0 or fractions.shape != accuracies.shape:
        raise ValueError(
            f"weak_fractions and accuracies must be non-empty and of equal length, got {len(fractions)} and "
            f"{len(accuracies)}"
        )
    if np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"weak_fractions must lie in [0, 1], got {fractions.tolist()}")
    order = np.lexsort((fractions, -accuracies))  # best accuracy first, then the smaller fraction
    best = fractions[order[0]]
    if best == 0.0:
        return "quality-dominant"
    if best == 1.0:
        return "quantity-dominant"
    return "mixed"


def decided_regime(weak_fractions, accuracies, standard_errors, level: float = 0.95) -> tuple[str, dict]:
    """The regime of one budget, called only when its best weak fraction beats every other swept fraction beyond
    their intervals (the difference's normal interval from the two standard errors lies above 0); otherwise
    ``unresolved``. Independent errors are assumed, which is conservative when cells share a test set.

    Returns:
        ``(regime, margins)``: margins maps each other fraction (as text) to the best fraction's accuracy lead
        over it, as an interval dict.
    """
    from rlnoise.core.stats import normal_interval

    leading = regime(weak_fractions, accuracies)
    fractions, accs = _as_vector("weak_fractions", weak_fractions), _as_vector("accuracies", accuracies)
    ses = _as_vector("standard_errors", standard_errors)
    if ses.shape != accs.shape:
        raise ValueError(f"standard_errors must match accuracies in length, got {len(ses)} and {len(accs)}")
    top = int(np.lexsort((fractions, -accs))[0])
    margins = {}
    for i in range(len(fractions)):
        if i != top:
            lead, se = accs[top] - accs[i], float(np.hypot(ses[top], ses[i]))
            margins[f"{fractions[i]:g}"] = normal_interval(lead, se, level)
    resolved = all(m.low > 0 for m in margins.values())
    return (leading if resolved else "unresolved"), {f: m.as_dict() for f, m in margins.items()}
