"""``python -m rlnoise.power RUN_DIR``: for every claim of a finished run, its verdict and what deciding it costs.

Options: ``--target H`` (the half-width to reach; default half the distance from each estimate to its threshold),
``--hours H`` (flag plans that need longer), ``--claim TEXT`` (only claims whose statement contains TEXT),
``--min-seeds N`` (default 3), ``--json`` (print the plans as JSON instead of a table), ``--at UNITSxSEEDS`` (the
half-width each claim would have at that size) and ``--compare LARGER_RUN`` (predict LARGER_RUN's half-widths from
RUN_DIR's claims and set them beside the measured ones).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from rlnoise.core.power import MIN_SEEDS, ClaimPlan, CostModel, plan_run, predicted_half_width
from rlnoise.core.stats import unit_table


def _load(run_dir: str) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        sys.exit(f"error: RUN_DIR {run_dir!r} has no results.json (give the folder of a finished run)")
    return json.loads(path.read_text())


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.0f} s"
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def plans_markdown(cost: CostModel | None, plans: list[ClaimPlan]) -> str:
    """The planner's table, one row per claim, with the cost model it priced them by."""
    rows = [
        "| claim | now | units x seeds | variance now: unit / seed / interaction | target +- | cheapest | "
        "predicted +- | predicted time | note |",
        "|---" * 9 + "|",
    ]
    for p in plans:
        now = f"{p.estimate:.3g} [{p.low:.3g}, {p.high:.3g}] {p.verdict}"
        size = f"{p.units} x {p.seeds}" if p.units else "-"
        shares = "-"
        if p.components:
            c = p.components
            seed = c["seed"] if c["seed"] == c["seed"] else 0.0  # NaN (one seed): unknown, shown as 0
            parts = [c["unit"] / p.units, seed / p.seeds, c["interaction"] / (p.units * p.seeds)]
            total = sum(parts) or 1.0
            shares = " / ".join(f"{x / total:.0%}" for x in parts)
        a = p.allocation
        target = f"{p.target:.3g}" if p.target is not None else "-"
        cheapest = f"{a['units']} x {a['seeds']}" if a else "-"
        half = f"{a['half_width']:.3g}" if a else "-"
        rows.append(
            f"| {p.statement} | {now} | {size} | {shares} | {target} | {cheapest} | {half} | "
            f"{_seconds(a['seconds']) if a else '-'} | {p.reason} |"
        )
    if cost is None:
        head = "Cost model: this run recorded no stage timings, so allocations are ranked by units x seeds.\n"
    else:
        head = (
            f"Cost model (seconds on {cost.host or 'the host that ran it'}): {cost.fixed:.0f} fixed + "
            f"{cost.per_unit:.2f} per unit + {cost.per_seed:.1f} per seed + {cost.per_unit_seed:.2f} per unit x "
            "seed.\n"
        )
    return head + "\n" + "\n".join(rows)


def comparison_markdown(small: dict, large: dict) -> tuple[str, list[float]]:
    """Each claim's half-width in ``large`` as predicted from ``small`` and as measured, with their ratio."""
    rows = ["| claim | predicted from | predicted +- | measured at | measured +- | ratio |", "|---" * 6 + "|"]
    ratios = []
    measured = {c["statement"]: c for c in large.get("claims", [])}
    for claim in small.get("claims", []):
        other = measured.get(claim["statement"])
        table, big = unit_table(claim), unit_table(other) if other else None
        if table is None or big is None:
            continue
        units, seeds = big.shape
        predicted = predicted_half_width(claim, units, seeds)
        if predicted is None or seeds > 1 and table.shape[1] < 2:
            continue
        half = (other["high"] - other["low"]) / 2
        ratio = predicted / half if half > 0 else float("nan")
        ratios.append(ratio)
        rows.append(
            f"| {claim['statement']} | {table.shape[0]} x {table.shape[1]} | {predicted:.3g} | {units} x {seeds} | "
            f"{half:.3g} | {ratio:.2f} |"
        )
    return "\n".join(rows), ratios


def predictions_markdown(results: dict, units: int, seeds: int) -> str:
    """Each claim's predicted half-width at ``units`` x ``seeds``, beside its current one."""
    rows = [f"| claim | now | +- now | predicted +- at {units} x {seeds} |", "|---" * 4 + "|"]
    for claim in results.get("claims", []):
        table = unit_table(claim)
        if table is None or seeds > 1 and table.shape[1] < 2:
            predicted = "-"
        else:
            value = predicted_half_width(claim, units, seeds)
            predicted = "- (the same in every unit and seed)" if value is None else f"{value:.3g}"
        size = f"{table.shape[0]} x {table.shape[1]}" if table is not None else "-"
        half = (claim["high"] - claim["low"]) / 2
        rows.append(f"| {claim['statement']} | {size} | {half:.3g} | {predicted} |")
    return "\n".join(rows)


def _size(text: str) -> tuple[int, int]:
    try:
        units, seeds = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at must be UNITSxSEEDS, e.g. 32x3, got {text!r}") from None
    if units < 2 or seeds < 1:
        raise argparse.ArgumentTypeError(f"--at needs at least 2 units and 1 seed, got {text!r}")
    return units, seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlnoise.power", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a finished run's folder (holding results.json)")
    parser.add_argument("--target", type=float, help="half-width to reach (default: |estimate - threshold| / 2)")
    parser.add_argument("--hours", type=float, help="flag plans that need more than this many hours")
    parser.add_argument("--claim", help="only claims whose statement contains this text")
    parser.add_argument("--min-seeds", type=int, default=MIN_SEEDS, help=f"fewest seeds a plan uses ({MIN_SEEDS})")
    parser.add_argument("--json", action="store_true", help="print the plans as JSON")
    parser.add_argument("--at", type=_size, metavar="UNITSxSEEDS", help="each claim's half-width at this size")
    parser.add_argument("--compare", metavar="LARGER_RUN", help="predict this run's half-widths and compare")
    args = parser.parse_args(argv)
    if args.target is not None and args.target <= 0:
        parser.error(f"--target must be > 0, got {args.target}")
    if args.hours is not None and args.hours <= 0:
        parser.error(f"--hours must be > 0, got {args.hours}")
    if args.min_seeds < 1:
        parser.error(f"--min-seeds must be >= 1, got {args.min_seeds}")
    results = _load(args.run_dir)
    if args.at:
        print(predictions_markdown(results, *args.at))
        cost, _ = plan_run(results)
        if cost is not None:
            print(f"\nPredicted time at {args.at[0]} x {args.at[1]}: {_seconds(cost.seconds(*args.at))} on "
                  f"{cost.host or 'the host that ran it'} (its cost model).")  # fmt: skip
        return 0
    if args.compare:
        table, ratios = comparison_markdown(results, _load(args.compare))
        print(table)
        if ratios:
            print(f"\nmedian ratio {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
        return 0
    cost, plans = plan_run(results, target=args.target, hours=args.hours, claim=args.claim, min_seeds=args.min_seeds)
    if args.claim and not plans:
        parser.error(f"--claim {args.claim!r} matches no claim of {args.run_dir}")
    if args.json:
        cost_fields = None if cost is None else cost.__dict__
        print(json.dumps(dict(cost_model=cost_fields, plans=[p.as_dict() for p in plans]), indent=1))
    else:
        print(plans_markdown(cost, plans))
    return 0


if __name__ == "__main__":
    sys.exit(main())
