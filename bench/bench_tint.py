"""TInt generation speed: datasets of 10-digit additions with full traces, and the explicit tracer against a
``sys.settrace``-based tracer that writes the same trace from a plain Python addition, side by side in one process.

    .venv/bin/python bench/bench_tint.py               # 5,000 samples
    .venv/bin/python bench/bench_tint.py --n 20000
"""

from __future__ import annotations

import argparse
import inspect
import random
import sys
import time

from rlnoise.tint import run_task
from rlnoise.tint.dataset import generate_rows
from rlnoise.tint.ops import _ADD_COLUMNS
from rlnoise.tint.tasks import sample_args
from rlnoise.tint.trace import fmt


def plain_add(a: int, b: int) -> int:
    """Column addition with carry, written for plain ints (the settrace tracer watches it run)."""
    xs, ys = str(a)[::-1], str(b)[::-1]
    carry, digits = 0, []
    for i in range(max(len(xs), len(ys))):
        dx = int(xs[i]) if i < len(xs) else 0
        dy = int(ys[i]) if i < len(ys) else 0
        v = dx + dy + carry
        digits.append(v % 10)
        carry = v // 10
    text = "".join(str(d) for d in reversed(digits))
    return int(str(carry) + text) if carry else int(text)


_SOURCE, _FIRST = inspect.getsourcelines(plain_add)
_STEP_LINE = _FIRST + next(i for i, line in enumerate(_SOURCE) if line.strip().startswith("v = "))


def settrace_add_trace(a: int, b: int) -> str:
    """The same trace as ``run_task('add', (a, b)).completion``, recovered the way a generic ``sys.settrace``
    tracer does: after every executed line of every traced frame, snapshot (line number, locals); then write a
    step for each execution of the step line ``v = dx + dy + carry`` from the snapshot taken after it."""
    snapshots: list[tuple[int, dict]] = []

    def local(frame, event, arg):
        if event in ("line", "return"):
            snapshots.append((local.last, dict(frame.f_locals)))
            local.last = frame.f_lineno
        return local

    local.last = None
    sys.settrace(lambda frame, event, arg: local)
    try:
        result = plain_add(a, b)
    finally:
        sys.settrace(None)
    lines = [
        f"{loc['dx']} + {loc['dy']} + {fmt(loc['carry'])} = {fmt(loc['v'])}"
        for executed, loc in snapshots
        if executed == _STEP_LINE
    ]
    lines += [f"{fmt(a)} + {fmt(b)} = {fmt(result)}", fmt(result)]
    return "\n".join(lines)


def bare_add_completion(a: int, b: int) -> str:
    """The same completion built directly as a string, with no tracer, TInt or Trace: an upper bound on how fast
    any Python tracer can write it (the column lines come from the tracer's own lookup table)."""
    sx, sy = str(a), str(b)
    width = max(len(sx), len(sy))
    carry, lines = 0, []
    for dx, dy in zip(reversed(sx.zfill(width)), reversed(sy.zfill(width))):
        line, _, carry = _ADD_COLUMNS[dx, dy, carry]
        lines.append(line)
    result = fmt(a + b)
    lines += [f"{fmt(a)} + {fmt(b)} = {result}", result]
    return "\n".join(lines)


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--digits", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(0)
    problems = [sample_args("add", rng, args.digits, args.digits) for _ in range(args.n)]
    for a, b in problems[:200]:  # the baseline writes exactly our traces
        assert settrace_add_trace(a, b) == run_task("add", (a, b)).completion == bare_add_completion(a, b)
    dataset = timed(lambda: generate_rows("add", args.n, min_digits=args.digits, max_digits=args.digits, seed=0))
    explicit = timed(lambda: [run_task("add", p).completion for p in problems])
    bare = timed(lambda: [bare_add_completion(*p) for p in problems])
    settrace = timed(lambda: [settrace_add_trace(*p) for p in problems], repeats=1)
    print(f"{args.n} additions of {args.digits}-digit numbers, full traces, one process (one core)")
    print(f"make_dataset rows (sample + trace + columns): {args.n / dataset:,.0f} samples/s")
    print(f"explicit tracer (run_task):                   {args.n / explicit:,.0f} traces/s")
    print(f"settrace tracer, same traces:                 {args.n / settrace:,.0f} traces/s")
    print(f"bare string builder (no tracer), same text:   {args.n / bare:,.0f} traces/s")
    print(f"speed-up over settrace: {settrace / explicit:.1f}x (bare string builder: {settrace / bare:.1f}x)")


if __name__ == "__main__":
    main()
