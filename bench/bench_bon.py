"""Best-of-n estimator speed: the vectorised log-space estimator vs a straightforward per-n loop with exact
integer binomial coefficients, on the same inputs, in one process; then one selector's full result with 95%
intervals (`bon_results`: gold and proxy curves, bands, fit and peak interval, drop) from 1,000 bootstrap
resamples of the prompts, against the point-estimate curve alone. Target: <= 20 s for the intervals.

    .venv/bin/python bench/bench_bon.py                 # P = 1,000 prompts x N = 12,600 samples, 20-point grid
    .venv/bin/python bench/bench_bon.py --prompts 100   # smaller
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from rlnoise.overoptimization.bon import bon_curve, default_ns
from rlnoise.overoptimization.bon_curves import bon_results


def per_n_loop(select: np.ndarray, gold: np.ndarray, ns: list[int]) -> np.ndarray:
    """Baseline: for each n, exact weights C(i-1, n-1) / C(N, n) from Python integers, then each prompt sorted by
    the selector and weighted. Same tie rule as bon_curve (lower index ranks higher among equal scores)."""
    big_n = select.shape[1]
    out = []
    for n in ns:
        denom = math.comb(big_n, n)
        weights = np.array([math.comb(i - 1, n - 1) / denom for i in range(1, big_n + 1)])
        values = [weights @ g[np.argsort(-s, kind="stable")[::-1]] for s, g in zip(select, gold)]
        out.append(np.mean(values))
    return np.array(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=12_600)
    parser.add_argument("--points", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    select = rng.normal(size=(args.prompts, args.pool))
    gold = 0.5 * select + rng.normal(size=select.shape)
    ns = default_ns(args.pool, args.points)
    bon_curve(select[:2], gold[:2], ns)  # warm-up
    fast_times = []
    for _ in range(3):
        start = time.perf_counter()
        fast = bon_curve(select, gold, ns)
        fast_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    slow = per_n_loop(select, gold, ns)
    slow_time = time.perf_counter() - start
    fast_time = min(fast_times)
    print(f"P={args.prompts} N={args.pool} grid={len(ns)} points")
    print(f"bon_curve (log-space, vectorised): {fast_time:.3f} s (best of 3)")
    print(f"per-n loop, exact binomials:       {slow_time:.2f} s")
    print(f"speed-up: {slow_time / fast_time:.0f}x   max |difference|: {np.max(np.abs(fast - slow)):.2e}")
    start = time.perf_counter()
    result = bon_results(gold, {"member0": select}, ns, resamples=1000)["selectors"]["member0"]
    interval_time = time.perf_counter() - start
    print(f"bon_results with 95% intervals (1,000 resamples of prompts): {interval_time:.2f} s, ", end="")
    print(f"{interval_time / fast_time:.1f}x the point-estimate curve; gold at n={ns[-1]}: ", end="")
    band = result["gold_at_max_n_interval"]
    print(f"{result['gold_at_max_n']:.3f} [{band['low']:.3f}, {band['high']:.3f}]")


if __name__ == "__main__":
    main()
