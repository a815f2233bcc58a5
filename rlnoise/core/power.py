"""The power planner: what deciding each claim of a finished run would cost.

Every claim that keeps its per-unit values (a units x seeds table, :func:`rlnoise.core.stats.unit_table`) is split
into unit, seed and interaction variance by :class:`rlnoise.core.variance.VarianceComponents`, the model its pooled
interval comes from, so the half-width predicted for the run's own size is the measured one. From the components
the planner predicts the half-width for any number of units and seeds, and finds the cheapest allocation whose
half-width falls below a target (default: half the distance from the estimate to the claim's threshold, enough to
decide the claim if the effect is as large as estimated). Its price comes from the run's own stage timings
(:class:`CostModel`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rlnoise.core.stats import LEVEL, UNRESOLVED, Claim, unit_table
from rlnoise.core.variance import VarianceComponents

MIN_SEEDS = 3  # two seeds leave the seed variance one degree of freedom: coverage 0.90 where it dominates
MAX_SEEDS = 10_000
MAX_UNITS = 1_000_000


def seed_counts(low: int, high: int) -> list[int]:
    """The numbers of seeds a plan tries: every one up to 64, then about 10% apart (costs are smooth there)."""
    counts, s = [], low
    while s <= high:
        counts.append(s)
        s = s + 1 if s < 64 else int(s * 1.1) + 1
    return counts


@dataclass(frozen=True)
class CostModel:
    """Seconds of a run as ``fixed + per_unit U + per_seed S + per_unit_seed U S``, from the build times of its
    stages (each stage says what its cost grows with) and its total time (the rest is fixed: loading models,
    training what every seed shares, evaluation)."""

    fixed: float
    per_unit: float
    per_seed: float
    per_unit_seed: float
    host: str = ""

    def seconds(self, units: int, seeds: int) -> float:
        return self.fixed + self.per_unit * units + self.per_seed * seeds + self.per_unit_seed * units * seeds

    @classmethod
    def from_results(cls, results: dict, units: int, seeds: int) -> CostModel | None:
        """The cost model of a run of ``units`` x ``seeds`` from its ``stages`` log and ``seconds``; None when
        the run recorded no stage timings."""
        stages = {s["key"]: s for s in results.get("stages", [])}  # a stage asked for twice costs once
        if not stages or any(s["seconds"] is None for s in stages.values()):
            return None
        by_scale = {scale: 0.0 for scale in ("fixed", "units", "seeds", "units x seeds")}
        for s in stages.values():
            by_scale[s["scales"]] += s["seconds"]
        built_now = sum(s["seconds"] for s in stages.values() if not s["cached"])
        rest = max(float(results.get("seconds", built_now)) - built_now, 0.0)  # outside stages: fixed
        return cls(
            fixed=by_scale["fixed"] + rest,
            per_unit=by_scale["units"] / units,
            per_seed=by_scale["seeds"] / seeds,
            per_unit_seed=by_scale["units x seeds"] / (units * seeds),
            host=results.get("metadata", {}).get("host", ""),
        )


def smallest_units(components: VarianceComponents, seeds: int, target: float, max_units: int, level=LEVEL):
    """The fewest units whose predicted half-width with ``seeds`` seeds is at most ``target`` (None if even
    ``max_units`` are not enough). The half-width falls with the number of units, so a doubling search then a
    bisection finds it."""
    if components.half_width(max_units, seeds, level) > target:
        return None
    low, high = 2, 2
    while components.half_width(high, seeds, level) > target:
        low, high = high, min(2 * high, max_units)
    while low < high:
        middle = (low + high) // 2
        if components.half_width(middle, seeds, level) <= target:
            high = middle
        else:
            low = middle + 1
    return high


def cheapest_allocation(
    components: VarianceComponents,
    target: float,
    cost: CostModel | None,
    *,
    min_seeds: int = MIN_SEEDS,
    max_seeds: int = MAX_SEEDS,
    max_units: int = MAX_UNITS,
    level: float = LEVEL,
) -> tuple[int, int] | None:
    """The (units, seeds) with predicted half-width <= ``target`` that costs least (seconds under ``cost``, else
    units x seeds): for each number of seeds, its fewest units. None when no allocation within the bounds does."""
    if not components.seeds_known:
        min_seeds = max_seeds = 1
    best, best_price = None, math.inf
    for seeds in seed_counts(min_seeds, max_seeds):
        units = smallest_units(components, seeds, target, max_units, level)
        if units is None:
            continue
        price = cost.seconds(units, seeds) if cost is not None else units * seeds
        if price < best_price:
            best, best_price = (units, seeds), price
    return best


@dataclass
class ClaimPlan:
    """The planner's answer for one claim."""

    statement: str
    estimate: float
    low: float
    high: float
    verdict: str
    units: int | None = None
    seeds: int | None = None
    components: dict | None = None
    half_width: float | None = None  # measured
    target: float | None = None
    allocation: dict | None = None  # units, seeds, predicted half_width, predicted seconds
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def plan_claim(
    claim: Claim,
    cost: CostModel | None = None,
    *,
    target: float | None = None,
    hours: float | None = None,
    min_seeds: int = MIN_SEEDS,
    max_units: int = MAX_UNITS,
) -> ClaimPlan:
    """What it costs to bring ``claim``'s half-width below ``target`` (default: half the distance from its estimate
    to its threshold), and whether that fits in ``hours``."""
    interval = claim.interval
    plan = ClaimPlan(claim.statement, interval.estimate, interval.low, interval.high, claim.verdict)
    if claim.table is None:
        plan.reason = "no per-unit values recorded, so the variance cannot be split into units and seeds"
        return plan
    table = np.asarray(claim.table, dtype=np.float64)
    plan.units, plan.seeds = table.shape
    plan.half_width = (interval.high - interval.low) / 2
    plan.target = abs(interval.estimate - claim.threshold) / 2 if target is None else target
    if np.ptp(table) == 0:
        plan.reason = "the quantity is the same in every unit and seed: more units or seeds cannot move it"
        plan.reason += f"; {claim.note}" if claim.note else ""
        return plan
    components = VarianceComponents.from_table(table)
    plan.components = components.as_dict()
    if plan.target <= 0:
        plan.reason = "the estimate sits on the threshold: no half-width decides it"
        return plan
    data_holds = claim.max_units is not None and claim.max_units < max_units
    max_units = claim.max_units if data_holds else max_units
    allocation = cheapest_allocation(components, plan.target, cost, min_seeds=min_seeds, max_units=max_units)
    if allocation is None:
        units = f"the {max_units} units its data holds" if data_holds else f"{max_units} units"
        plan.reason = f"no allocation within {units} and {MAX_SEEDS} seeds reaches +-{plan.target:.3g}"
        plan.reason += f"; {claim.note}" if claim.note else ""
        return plan
    units, seeds = allocation
    seconds = cost.seconds(units, seeds) if cost is not None else None
    plan.allocation = dict(units=units, seeds=seeds, half_width=components.half_width(units, seeds), seconds=seconds)
    reasons = []  # every one that applies, most pressing first
    if hours is not None and seconds is not None and seconds > hours * 3600:
        reasons.append(f"not decidable within {hours:g} h: needs {seconds / 3600:.1f} h on {cost.host or 'this host'}")
        reasons += [claim.note] if claim.note else []
    if not components.seeds_known:
        reasons.append("one seed: the seed variance is unknown, so this plan varies units only; run 3 seeds to plan")
    if claim.verdict != UNRESOLVED:
        reasons.append(f"decided now ({claim.verdict}); the plan reaches the target margin")
    plan.reason = "; ".join(reasons)
    return plan


def plan_run(
    results: dict, *, target=None, hours=None, claim: str | None = None, min_seeds: int = MIN_SEEDS
) -> tuple[CostModel | None, list[ClaimPlan]]:
    """Plans for the claims of a run's ``results`` (those whose statement contains ``claim``)."""
    claims = [Claim.from_dict(c) for c in results.get("claims", [])]
    if claim is not None:
        claims = [c for c in claims if claim.lower() in c.statement.lower()]
    sizes = [c.table.shape for c in claims if c.table is not None]
    cost = CostModel.from_results(results, *sizes[0]) if sizes else None
    plans = [plan_claim(c, cost, target=target, hours=hours, min_seeds=min_seeds) for c in claims]
    return cost, plans


def predicted_half_width(claim_fields: dict, units: int, seeds: int, level: float = LEVEL) -> float | None:
    """The half-width a claim's components predict for ``units`` x ``seeds`` (None without a table)."""
    table = unit_table(claim_fields)
    if table is None or np.ptp(table) == 0:
        return None
    return VarianceComponents.from_table(table).half_width(units, seeds, level)
