"""Confidence intervals and the verdicts every report uses.

- Means over prompts (or examples): a percentile bootstrap that resamples rows. :func:`bootstrap_means` draws the
  resampled means of many statistics at once from one ``[B, P]`` weight matrix (``weights @ per_row``), so curves
  of a thousand prompts get their bands in milliseconds; statistics drawn with the same ``seed`` share their
  resamples, which makes any difference of them a *paired* bootstrap. scipy's ``stats.bootstrap`` materialises
  every resample of the data (``[B, P, ...]``), hence this small hand-written version.
- Accuracies and exact-match rates: Wilson intervals (``scipy.stats.binomtest``); differences of two of them:
  Newcombe's interval.
- Seeds: a t interval over per-seed results (``scipy.stats.t``).

A claim "X > threshold" *holds* when the whole interval lies above the threshold, *does not hold* when it lies
below, and is *unresolved* otherwise: never a trend read off noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class Claim:
    """A statement "quantity > threshold" about a run, with the interval that decides it."""

    statement: str
    interval: Interval
    threshold: float = 0.0

    @property
    def verdict(self) -> str:
        return self.interval.verdict(self.threshold)

    def line(self) -> str:
        return f"{self.statement}: {self.interval} -> **{self.verdict}**"

    def as_dict(self) -> dict:
        fields = dict(statement=self.statement, threshold=self.threshold, verdict=self.verdict)
        return fields | self.interval.as_dict()

    @classmethod
    def from_dict(cls, fields: dict) -> Claim:
        return cls(fields["statement"], Interval.from_dict(fields), fields.get("threshold", 0.0))


def claims_markdown(claims: list[Claim], level: float = LEVEL) -> str:
    """The "Claims" section that opens a study's ``results.md``."""
    head = f"## Claims ({level:.0%} intervals; holds / does not hold / unresolved)\n"
    return head + "\n".join(f"- {c.line()}" for c in claims) + "\n"
