"""How should I spend this labeling budget? Reads a finished elicitation sweep and recommends a method and a
(weak, gold) split, with the expected accuracy, an uncertainty band and the regime (see rlnoise.elicitation.planner
for the interpolation between swept budgets).

    python recipes/elicitation/plan.py --run runs/elicitation/elicitation_quick \
        --budget 100 --weak-cost 0.1 --task boolq
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="folder of a finished sweep (holds cells*.jsonl)")
    parser.add_argument("--budget", type=float, required=True, help="label budget in gold-label units")
    parser.add_argument("--weak-cost", type=float, required=True, help="cost of one weak label (gold = 1)")
    parser.add_argument("--task", required=True, help="a task of the sweep")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    if not Path(args.run).is_dir():
        raise SystemExit(f"error: --run {args.run}: no such folder (a run of recipes/elicitation/sweep.py)")
    from rlnoise.elicitation.planner import load_cells, plan  # after parsing: --help stays instant

    rows = load_cells(args.run)
    if not rows:
        raise SystemExit(f"no finished cells in {args.run} (expected cells*.jsonl from recipes/elicitation/sweep.py)")
    try:
        p = plan(rows, args.budget, args.weak_cost, args.task)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    if args.json:
        print(json.dumps(p, indent=2))
        return
    lo, hi = p["band"]
    print(f"Budget {p['budget']:g} on {p['task']} (weak label = {p['weak_marginal_cost']:g} of a gold label):")
    print(f"  method        {p['method']}")
    print(
        f"  labels        {p['n_weak']} weak + {p['n_gold']} gold for training, {p['n_val']} gold for validation, "
        f"{p['n_fewshot']} gold exemplars  (cost {p['cost']:g})"
    )
    print(f"  expected accuracy {p['expected_accuracy']:.3f}  (95% band {lo:.3f} - {hi:.3f})")
    print(f"  regime        {p['regime']}  (best accuracy by swept weak fraction: {p['by_fraction']})")
    if p["interpolated_between"]:
        print(f"  interpolated between swept budgets {p['interpolated_between']}")
    for note in p["notes"]:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
