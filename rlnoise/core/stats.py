"""Confidence intervals and the verdicts every report uses.

- Means over prompts (or examples): a percentile bootstrap that resamples rows. :func:`bootstrap_means` draws the
  resampled means of many statistics at once from one ``[B, P]`` weight matrix (``weights @ per_row``), so curves
  of a thousand prompts get their bands in milliseconds; statistics drawn with the same ``seed`` share their
  resamples, which makes any difference of them a *paired* bootstrap. scipy's ``stats.bootstrap`` materialises
  every resample of the data (``[B, P, ...]``), hence this small hand-written version.
- Accuracies and exact-match rates: Wilson intervals (``scipy.stats.binomtest``); differences of two of them:
  Newcombe's interval.
- Seeds: a t interval over per-seed results (``scipy.stats.t``). Results measured on one shared sample in every
  seed (prompts, a test set) keep their per-unit values (``per_unit``); :func:`pool_seed_results` /
  :func:`pool_seed_claims` pool them by the two-way random-effects model on the units x seeds table
  (:mod:`rlnoise.core.variance`, the model the power planner predicts with), and fall back to
  :func:`pool_seeds` on the intervals alone where no per-unit values exist.

A claim "X > threshold" *holds* when the whole interval lies above the threshold, *does not hold* when it lies
below, and is *unresolved* otherwise: never a trend read off noise.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
HOLDS, FAILS, UNRESOLVED = "holds", "does not hold", "unresolved"


@dataclass(frozen=True)
class Interval:
    """An estimate with its ``level`` confidence interval ``[low, high]`` (either end may be infinite)."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL

    def verdict(self, threshold: float = 0.0) -> str:
        """Whether "the quantity exceeds ``threshold``" holds, does not hold, or is unresolved at this level."""
        if self.low > threshold:
            return HOLDS
        if self.high <= threshold:  # the claim is strict: an interval ending at the threshold refutes it
            return FAILS
        return UNRESOLVED

    def __str__(self) -> str:
        return f"{_number(self.estimate)} [{_number(self.low)}, {_number(self.high)}]"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, fields: dict) -> Interval:
        """The interval stored in ``fields`` (an ``as_dict`` result, possibly with more keys, as in a claim)."""
        return cls(fields["estimate"], fields["low"], fields["high"], fields.get("level", LEVEL))


def _number(x: float) -> str:
    if not math.isfinite(x):
        return "unbounded" if x > 0 else "-unbounded"
    return f"{x:.1g}" if 0 < abs(x) < 0.005 else f"{x:.2f}"  # a bound just above 0 never prints as 0.00


def resample_weights(n_rows: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``[resamples, n_rows]`` bootstrap weights: how often each row is drawn in each resample, divided by
    ``n_rows`` (so ``weights @ values`` are the resampled means)."""
    if n_rows < 1:
        raise ValueError(f"a bootstrap needs at least one row, got {n_rows}")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=resamples) / n_rows


def bootstrap_means(per_row, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Means over rows (axis 0) of ``per_row`` under ``resamples`` bootstrap resamples of its rows: ``[B, ...]``.

    The same ``seed`` and row count give the same resamples, so draws of two statistics on the same rows pair up.
    """
    values = np.asarray(per_row, dtype=np.float64)
    weights = resample_weights(len(values), resamples, seed)
    return np.tensordot(weights, values, axes=(1, 0))


def percentile_interval(estimate: float, draws, level: float = LEVEL) -> Interval:
    """The percentile interval of bootstrap ``draws`` around ``estimate``."""
    draws = np.asarray(draws, dtype=np.float64)
    tail = (1 - level) / 2 * 100
    # order statistics, no interpolation: unbounded draws (a fit with no peak: inf) stay inf instead of inf - inf
    low, high = np.percentile(draws, [tail, 100 - tail], method="inverted_cdf")
    return Interval(float(estimate), float(low), float(high), level)


def bootstrap_mean(values, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Mean of ``values`` with its bootstrap interval."""
    values = np.asarray(values, dtype=np.float64)
    return percentile_interval(values.mean(), bootstrap_means(values, resamples, seed), level)


def paired_difference(a, b, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """Mean of ``a - b`` over rows measured on the same items (prompts, examples), resampling the rows together."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same shape, got {a.shape} and {b.shape}")
    return bootstrap_mean(a - b, level, resamples, seed)


def correctness_string(correct) -> str:
    """Per-example right (1) / wrong (0) as a compact string: how results rows keep it for paired comparisons."""
    return "".join(map(str, np.asarray(correct).astype(int)))


def correctness_difference(a: str, b: str) -> np.ndarray:
    """Per test example, right in ``a`` minus right in ``b`` (two ``correctness_string`` on the same examples)."""
    if len(a) != len(b):
        raise ValueError(f"paired results need the same test examples, got {len(a)} and {len(b)}")
    right = [np.frombuffer(x.encode(), dtype=np.uint8).astype(np.float64) - ord("0") for x in (a, b)]
    return right[0] - right[1]


def paired_accuracy_difference(a: str, b: str, level: float = LEVEL) -> Interval:
    """Accuracy of ``a`` minus ``b`` (``correctness_string`` of two classifiers on the same test examples),
    paired over the examples."""
    return bootstrap_mean(correctness_difference(a, b), level=level)


def with_units(interval: Interval, per_unit) -> dict:
    """An interval dict with the per-unit values (prompts, examples) it is the mean of: what pooling seeds and the
    power planner read (:func:`unit_table`)."""
    return dict(interval.as_dict(), per_unit=np.asarray(per_unit, dtype=np.float64).tolist())


def wilson(successes: int, n: int, level: float = LEVEL) -> Interval:
    """A proportion (accuracy, exact match) with its Wilson score interval."""
    from scipy.stats import binomtest

    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high), level)


def proportion_difference(k1: int, n1: int, k2: int, n2: int, level: float = LEVEL) -> Interval:
    """``k1/n1 - k2/n2`` for two independent samples, with Newcombe's hybrid score interval (built from the two
    Wilson intervals; scipy has no two-sample proportion interval). On a shared test set it is conservative."""
    a, b = wilson(k1, n1, level), wilson(k2, n2, level)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, low, high, level)


def normal_interval(estimate: float, standard_error: float, level: float = LEVEL) -> Interval:
    """``estimate`` +- z * ``standard_error``: for errors combined from several sources (seeds and a test set)."""
    from scipy.stats import norm

    half = float(norm.ppf((1 + level) / 2)) * standard_error
    return Interval(float(estimate), float(estimate) - half, float(estimate) + half, level)


def across_seeds(values, level: float = LEVEL) -> Interval:
    """Mean of per-seed results with a t interval (a single seed gives an unbounded interval)."""
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, -math.inf, math.inf, level)
    half = t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half, level)


def pool_seeds(intervals) -> Interval:
    """The mean over seeds of estimates that were each measured on the same sample (prompts, test problems), when
    only their intervals are known; with the per-unit values, :func:`rlnoise.core.variance.table_interval` is
    tighter and is what results use (:func:`pool_seed_results` and :func:`pool_seed_claims` pick it).

    Two errors add up: the sample's own (each seed's interval read as a normal half-width; their variances are
    averaged, not divided by the number of seeds, because a shared sample's error does not shrink with more seeds)
    and the spread between seeds (variance / k). Each enters the half-width with its own quantile (normal for the
    sample, Student's t with k - 1 degrees of freedom for the seeds: the modified-large-sample combination), so two
    or three seeds give the wide interval they deserve even when their spread happens to come out small. It is
    conservative: the sample's part also holds unit x seed noise that does shrink with seeds. One seed: its own
    interval, unchanged. An unbounded end in any seed leaves that end unbounded.
    """
    from scipy.stats import norm, t

    intervals = list(intervals)
    if not intervals:
        raise ValueError("pool_seeds needs at least one interval")
    if len(intervals) == 1:
        return intervals[0]
    level = intervals[0].level
    estimates = np.array([i.estimate for i in intervals], dtype=np.float64)
    lows = np.array([i.low for i in intervals], dtype=np.float64)
    highs = np.array([i.high for i in intervals], dtype=np.float64)
    mean, k = float(estimates.mean()), len(intervals)
    if not np.isfinite(estimates).all():  # e.g. a fit with no peak in some seed: nothing to pool but the ends
        return Interval(mean, float(lows.min()), float(highs.max()), level)
    z = float(norm.ppf((1 + level) / 2))
    sample_var = float(np.mean(((highs - lows) / (2 * z)) ** 2)) if np.isfinite(lows).all() else math.inf
    if not math.isfinite(sample_var):
        low = mean if np.isfinite(lows).all() else -math.inf  # only the unbounded side stays open
        high = mean if np.isfinite(highs).all() else math.inf
        return Interval(mean, min(low, float(lows.min())), max(high, float(highs.max())), level)
    seed_var = float(estimates.var(ddof=1)) / k
    half = math.sqrt(z**2 * sample_var + float(t.ppf((1 + level) / 2, k - 1)) ** 2 * seed_var)
    return Interval(mean, mean - half, mean + half, level)


def unit_table(fields: dict) -> np.ndarray | None:
    """The ``[units, seeds]`` table behind an interval dict or a claim: its ``units_by_seeds`` (pooled seeds) or
    its ``per_unit`` values (one seed, as a one-column table); None when it has neither."""
    if "units_by_seeds" in fields:
        return np.asarray(fields["units_by_seeds"], dtype=np.float64)
    if "per_unit" in fields:
        return np.asarray(fields["per_unit"], dtype=np.float64)[:, None]
    return None


def pool_tables(tables: list) -> tuple[Interval, list]:
    """Per-seed tables of one quantity on shared units, side by side: its two-way interval and the ``[units,
    seeds]`` table (as nested lists) that results keep for the power planner."""
    from rlnoise.core.variance import table_interval

    if len({len(t) for t in tables}) != 1:
        raise ValueError(f"seeds disagree on the number of units: {[len(t) for t in tables]}")
    table = np.hstack(tables)
    return table_interval(table), table.tolist()


INTERVAL_FIELDS = ("estimate", "low", "high")


def pool_seed_results(per_seed: list):
    """One study's results from several seeds, pooled field by field (the per-seed results share one layout):
    interval dicts by :func:`pool_seeds`; a curve ``x`` with a band ``x_band`` (``[lows, highs]``) point by point
    the same way; other numbers and number lists by their mean; integers, flags and strings that differ between
    seeds (e.g. the index of the best n) by their most common value. Keys missing in some seed are dropped."""
    first = per_seed[0]
    if len(per_seed) == 1:
        return first
    if isinstance(first, dict):
        if all(f in first for f in INTERVAL_FIELDS):
            tables = [unit_table(r) for r in per_seed]
            if all(t is not None for t in tables):
                interval, table = pool_tables(tables)
                pooled = dict(interval.as_dict(), units_by_seeds=table)
            else:
                pooled = pool_seeds([Interval.from_dict(r) for r in per_seed]).as_dict()
            kept = {
                k: _most_common([r[k] for r in per_seed]) for k in first if k not in ("per_unit", "units_by_seeds")
            }
            return kept | pooled
        out = {}
        for key in first:
            if key.endswith("_band") and key[: -len("_band")] in first or not all(key in r for r in per_seed):
                continue
            values = [r[key] for r in per_seed]
            if f"{key}_band" in first and all(f"{key}_band" in r for r in per_seed):
                out[key], out[f"{key}_band"] = _pool_band(values, [r[f"{key}_band"] for r in per_seed])
            else:
                out[key] = pool_seed_results(values)
        return out
    if isinstance(first, list | tuple):
        if len({len(v) for v in per_seed}) != 1:
            raise ValueError(f"seeds disagree on a list's length: {[len(v) for v in per_seed]}")
        return [pool_seed_results([v[i] for v in per_seed]) for i in range(len(first))]
    if all(v == first for v in per_seed):  # unchanged between seeds: kept exactly (a mean would round it)
        return first
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in per_seed):
        return float(np.mean(per_seed))
    return _most_common(per_seed)


def _pool_band(curves: list, bands: list) -> tuple[list, list]:
    if len({len(c) for c in curves} | {len(b[0]) for b in bands} | {len(b[1]) for b in bands}) != 1:
        raise ValueError("seeds disagree on a curve's length")
    points = [
        pool_seeds([Interval(c[i], b[0][i], b[1][i]) for c, b in zip(curves, bands)]) for i in range(len(curves[0]))
    ]
    return [p.estimate for p in points], [[p.low for p in points], [p.high for p in points]]


def _most_common(values: list):
    counts = [values.count(v) for v in values]
    return values[counts.index(max(counts))]


def pooled_note(seeds: int) -> str:
    """How a report's intervals were pooled: "" for one seed."""
    if seeds < 2:
        return ""
    return (
        f", pooled over {seeds} replicate seeds (mean; two-way random effects on the units x seeds table where "
        "per-unit values exist, else the spread between seeds added)"
    )


def pool_seed_claims(per_seed: list[list[Claim]]) -> list[Claim]:
    """The same claims made in every seed (same statements, same order), each pooled over the seeds: by the
    two-way model on its units x seeds table when every seed has its per-unit values, else by :func:`pool_seeds`."""
    statements = [[c.statement for c in claims] for claims in per_seed]
    if any(s != statements[0] for s in statements):
        raise ValueError("the seeds' claims differ: every seed must make the same statements in the same order")
    if len(per_seed) == 1:
        return list(per_seed[0])
    pooled = []
    for claims in zip(*per_seed):
        first = claims[0]
        if all(c.table is not None for c in claims):
            interval, table = pool_tables([c.table for c in claims])
            table = np.asarray(table)
        else:
            interval, table = pool_seeds([c.interval for c in claims]), None
        pooled.append(Claim(first.statement, interval, first.threshold, table, first.note, first.max_units))
    return pooled


@dataclass(frozen=True)
class Claim:
    """A statement "quantity > threshold" about a run, with the interval that decides it."""

    statement: str
    interval: Interval
    threshold: float = 0.0
    table: np.ndarray | None = field(default=None, compare=False)  # per-unit values [units, seeds]: the planner's
    note: str = ""  # what would decide the claim when more units or seeds cannot (e.g. a larger n)
    max_units: int | None = None  # the most units the study's data holds (test examples of a fixed task)

    @property
    def verdict(self) -> str:
        return self.interval.verdict(self.threshold)

    def line(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.statement}: {self.interval} -> **{self.verdict}**{note}"

    def as_dict(self) -> dict:
        fields = dict(statement=self.statement, threshold=self.threshold, verdict=self.verdict)
        table = {} if self.table is None else dict(units_by_seeds=np.asarray(self.table).tolist())
        extra = (dict(note=self.note) if self.note else {}) | ({"max_units": self.max_units} if self.max_units else {})
        return fields | self.interval.as_dict() | table | extra

    @classmethod
    def from_dict(cls, fields: dict) -> Claim:
        """A claim from its ``as_dict``, or from an interval dict (with a ``statement``) of a study's results."""
        interval, threshold = Interval.from_dict(fields), fields.get("threshold", 0.0)
        table, note = unit_table(fields), fields.get("note", "")
        return cls(fields["statement"], interval, threshold, table, note, fields.get("max_units"))

    @classmethod
    def of(cls, statement: str, fields: dict, threshold: float = 0.0, max_units: int | None = None) -> Claim:
        """The claim "``statement``" decided by the interval dict ``fields`` of a study's results (with its
        per-unit table when it has one)."""
        return cls(statement, Interval.from_dict(fields), threshold, unit_table(fields), max_units=max_units)


def claims_markdown(claims: list[Claim], level: float = LEVEL) -> str:
    """The "Claims" section that opens a study's ``results.md``."""
    head = f"## Claims ({level:.0%} intervals; holds / does not hold / unresolved)\n"
    return head + "\n".join(f"- {c.line()}" for c in claims) + "\n"
