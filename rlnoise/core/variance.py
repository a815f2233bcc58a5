"""The variance components of a claim measured on units (prompts, examples, problems) in several seeds.

A claim's quantity on unit ``u`` in seed ``s`` is modelled as the two-way crossed random-effects model

    y[u, s] = mu + a[u] + b[s] + e[u, s],   a ~ (0, unit), b ~ (0, seed), e ~ (0, interaction),

so the mean over ``U`` units and ``S`` seeds has variance ``unit / U + seed / S + interaction / (U S)``: the unit
part does not shrink with seeds, the seed part does not shrink with units. The components are estimated from the
table's mean squares (ANOVA, truncated at 0 as REML does for a balanced table), and the interval is the
modified-large-sample one (Graybill & Wang 1980): each mean square enters the half-width with its own t quantile,
so a part measured with few degrees of freedom (one seed difference from two seeds) gets the wide quantile it
deserves even when it happens to come out small. Satterthwaite's pooled degrees of freedom cover only 0.88-0.92
with two seeds when the seed part dominates, because a small draw of the seed mean square both shrinks the
variance and inflates the degrees of freedom; the simulation table in docs/statistics.md compares the two.

The same :class:`VarianceComponents` gives a run's pooled intervals (:func:`table_interval`) and the power
planner's predicted half-widths for other numbers of units and seeds, so predicted and measured intervals are the
same quantity. statsmodels' mixed models fit this by REML but give no interval for the grand mean with these
degrees of freedom, hence this small hand-written version.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rlnoise.core.stats import LEVEL, Interval


@dataclass(frozen=True)
class MeanSquares:
    """The ANOVA mean squares of a units x seeds table (``seeds`` = 0 when the table has one seed)."""

    units_ms: float
    seeds_ms: float
    residual_ms: float
    units: int
    seeds: int


def mean_squares(table) -> MeanSquares:
    """Mean squares of a ``[units, seeds]`` table: between units, between seeds and the residual (interaction)."""
    y = np.asarray(table, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] < 2:
        raise ValueError(f"variance components need at least 2 units, got a table of shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("variance components need finite values in every cell of the units x seeds table")
    return MeanSquares(*(float(m) for m in _mean_squares(y)), *y.shape)


def _mean_squares(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean squares of ``[..., units, seeds]`` tables (NaN for the seed and residual ones of a single seed)."""
    units, seeds = y.shape[-2:]
    grand = y.mean(axis=(-2, -1), keepdims=True)
    by_unit, by_seed = y.mean(axis=-1, keepdims=True), y.mean(axis=-2, keepdims=True)
    units_ms = seeds * np.sum((by_unit - grand) ** 2, axis=(-2, -1)) / (units - 1)
    if seeds < 2:
        return units_ms, np.full_like(units_ms, np.nan), np.full_like(units_ms, np.nan)
    seeds_ms = units * np.sum((by_seed - grand) ** 2, axis=(-2, -1)) / (seeds - 1)
    residual_ms = np.sum((y - by_unit - by_seed + grand) ** 2, axis=(-2, -1)) / ((units - 1) * (seeds - 1))
    return units_ms, seeds_ms, residual_ms


@dataclass(frozen=True)
class VarianceComponents:
    """``unit``, ``seed`` and ``interaction`` variances of one value (see the module docstring).

    Estimated from one seed, only ``unit + interaction`` is known: it is held in ``unit``, ``interaction`` is 0
    and ``seed`` is NaN (unknown), so predictions are possible for one seed only.
    """

    unit: float
    seed: float
    interaction: float

    @classmethod
    def from_table(cls, table) -> VarianceComponents:
        ms = mean_squares(table)
        if ms.seeds < 2:
            return cls(ms.units_ms, math.nan, 0.0)
        return cls(
            unit=max(0.0, (ms.units_ms - ms.residual_ms) / ms.seeds),
            seed=max(0.0, (ms.seeds_ms - ms.residual_ms) / ms.units),
            interaction=ms.residual_ms,
        )

    @property
    def seeds_known(self) -> bool:
        return not math.isnan(self.seed)

    def variance(self, units: int, seeds: int) -> float:
        """Variance of the mean over ``units`` x ``seeds``."""
        self._check(units, seeds)
        seed = self.seed if self.seeds_known else 0.0
        return self.unit / units + seed / seeds + self.interaction / (units * seeds)

    def half_width(self, units: int, seeds: int, level: float = LEVEL) -> float:
        """The interval's half-width for a table of ``units`` x ``seeds`` whose mean squares equal their
        expectations under these components: the planner's prediction, and (fed the observed mean squares
        through :func:`table_interval`) the measured interval itself."""
        self._check(units, seeds)
        residual = self.interaction
        return float(
            _half_width(
                units_ms=residual + seeds * self.unit,
                seeds_ms=residual + units * (self.seed if self.seeds_known else 0.0),
                residual_ms=residual,
                units=units,
                seeds=seeds,
                level=level,
                unit_on=self.unit > 0 or seeds == 1,
                seed_on=self.seeds_known and self.seed > 0,
            )
        )

    def _check(self, units: int, seeds: int) -> None:
        if units < 2 or seeds < 1:
            raise ValueError(f"need at least 2 units and 1 seed, got units={units}, seeds={seeds}")
        if seeds > 1 and not self.seeds_known:
            raise ValueError("estimated from one seed: the seed variance is unknown, so only seeds=1 is predicted")

    def as_dict(self) -> dict:
        return asdict(self)


def _half_width(units_ms, seeds_ms, residual_ms, units, seeds, level, unit_on, seed_on):
    """Graybill-Wang's modified-large-sample half-width for the grand mean: the variance of the mean is
    ``(units_ms + seeds_ms - residual_ms) / (U S)`` with a component dropped (and its residual term with it) when
    it is estimated at 0; each remaining mean square is scaled by its own squared t quantile. Works on arrays."""
    from scipy.stats import t

    q = (1 + level) / 2
    if seeds == 1:
        return float(t.ppf(q, units - 1)) * np.sqrt(units_ms / units)
    unit_on, seed_on = np.asarray(unit_on, dtype=bool), np.asarray(seed_on, dtype=bool)
    residual_weight = 1 - unit_on.astype(int) - seed_on.astype(int)
    total = residual_weight * residual_ms * float(t.ppf(q, (units - 1) * (seeds - 1))) ** 2
    total = total + np.where(unit_on, units_ms * float(t.ppf(q, units - 1)) ** 2, 0.0)
    total = total + np.where(seed_on, seeds_ms * float(t.ppf(q, seeds - 1)) ** 2, 0.0)
    return np.sqrt(np.maximum(total, 0.0) / (units * seeds))


def table_interval(table, level: float = LEVEL) -> Interval:
    """The mean of a ``[units, seeds]`` table (or a ``[units]`` vector: one seed) with its interval under the
    two-way random-effects model: units and seeds both random, the truth their population mean."""
    y = np.asarray(table, dtype=np.float64)
    ms = mean_squares(y)
    mean = float(y.mean())
    half = float(_table_half_width(ms.units_ms, ms.seeds_ms, ms.residual_ms, ms.units, ms.seeds, level))
    return Interval(mean, mean - half, mean + half, level)


def _table_half_width(units_ms, seeds_ms, residual_ms, units, seeds, level):
    """The half-width from observed mean squares: a component is kept where its mean square exceeds the
    residual one (its estimate is positive)."""
    if seeds < 2:
        return _half_width(units_ms, seeds_ms, residual_ms, units, seeds, level, True, False)
    return _half_width(
        units_ms, seeds_ms, residual_ms, units, seeds, level, units_ms > residual_ms, seeds_ms > residual_ms
    )


def simulated_coverage(
    units: int,
    seeds: int,
    shares: tuple[float, float, float],
    repetitions: int = 2000,
    rng_seed: int = 0,
    intervals_only: bool = False,
) -> float:
    """How often 95% intervals hold the true mean over ``repetitions`` normal units x seeds tables whose mean has
    variance 1, split into (unit, seed, interaction) ``shares``: :func:`table_interval`'s coverage or, with
    ``intervals_only``, :func:`rlnoise.core.stats.pool_seeds`'s on the seeds' own t intervals (slow: a Python loop).
    The check behind the coverage table in docs/statistics.md."""
    from rlnoise.core.stats import pool_seeds

    unit, seed, interaction = shares[0] * units, shares[1] * seeds, shares[2] * units * seeds
    rng = np.random.default_rng(rng_seed)
    y = (
        rng.normal(0, math.sqrt(unit), (repetitions, units, 1))
        + rng.normal(0, math.sqrt(seed), (repetitions, 1, seeds))
        + rng.normal(0, math.sqrt(interaction), (repetitions, units, seeds))
    )
    if intervals_only:
        pooled = [pool_seeds([table_interval(y[r, :, s]) for s in range(seeds)]) for r in range(repetitions)]
        return float(np.mean([p.low <= 0 <= p.high for p in pooled]))
    return float(np.mean(np.abs(y.mean(axis=(-2, -1))) <= _table_half_width(*_mean_squares(y), units, seeds, LEVEL)))


REGIMES = {"seed": (0.1, 0.8, 0.1), "unit": (0.8, 0.1, 0.1), "interaction": (0.1, 0.1, 0.8), "even": (1 / 3,) * 3}


def coverage_markdown(units=(16, 32, 200), seeds=(2, 3, 5, 10), repetitions: int = 2000) -> str:
    """The coverage table of docs/statistics.md: for each regime (shares of the pooled mean's variance from units,
    seeds and their interaction), the two-way interval's coverage and, in brackets, :func:`pool_seeds`'s."""
    head = "| units | seeds | " + " | ".join(f"{k} {v[0]:.0%}/{v[1]:.0%}/{v[2]:.0%}" for k, v in REGIMES.items())
    rows = [head + " |", "|---|---|" + "---|" * len(REGIMES)]
    for u in units:
        for s in seeds:
            cells = [
                (simulated_coverage(u, s, sh, repetitions), simulated_coverage(u, s, sh, repetitions, 0, True))
                for sh in REGIMES.values()
            ]
            rows.append(f"| {u} | {s} | " + " | ".join(f"{a:.3f} ({b:.3f})" for a, b in cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(coverage_markdown())
