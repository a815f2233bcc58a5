"""Label budgets (Mallen & Belrose 2024): how to split a labeling budget between cheap weak labels and gold labels.

task -> balanced binary data, disjoint splits -> weak labeler (trained on its own gold split) soft-labels the weak
pool -> budgets x weak fractions x methods x seeds, each cell trains the strong model on its labels and is scored
on the held-out test set -> cells*.jsonl (finished cells are skipped; --shard i/n splits the grid) -> results.json
(summary, Pareto frontier, regime per budget), results.md and elicitation.png.

    python recipes/elicitation/sweep.py --config recipes/elicitation/configs/quick.yaml
    python recipes/elicitation/sweep.py --config recipes/elicitation/configs/paper.yaml --shard 0/4   # one of 4
    python recipes/elicitation/plan.py --run runs/elicitation/elicitation_quick \
        --budget 100 --weak-cost 0.1 --task boolq
"""

from __future__ import annotations

import datasets

from rlnoise.core.config import parse_config, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.files import write_json, write_text, write_yaml
from rlnoise.core.runs import run_metadata
from rlnoise.elicitation.analysis import frontier, regimes, summarize
from rlnoise.elicitation.learner import LearnerConfig
from rlnoise.elicitation.plots import plot_elicitation
from rlnoise.elicitation.report import results_table
from rlnoise.elicitation.sweep import SweepConfig, run_folder, run_sweep


def main():
    sweep, learner = parse_config(SweepConfig, LearnerConfig)
    datasets.disable_progress_bars()
    if process_state().num_processes > 1:
        raise SystemExit("recipes/elicitation/sweep.py runs cells one after another; split a grid with --shard i/n")
    out = run_folder(sweep)
    out.mkdir(parents=True, exist_ok=True)
    write_yaml(out / "config.yaml", to_dict((sweep, learner)))
    rows = run_sweep(sweep, learner)
    summary = summarize(rows, sweep.weak_marginal_cost)
    results = {
        "recipe": "elicitation",
        "weak_marginal_cost": sweep.weak_marginal_cost,
        "summary": summary,
        "regimes": regimes(summary),
        "frontier": {t: frontier(summary, t) for t in sorted({s["task"] for s in summary})},
        "weak_labeler": {r["task"]: r["weak_accuracy"] for r in rows if r.get("weak_accuracy") is not None},
        "cells": len(rows),
        "metadata": run_metadata(),
    }
    write_json(out / "results.json", results)
    table = results_table(results)
    write_text(out / "results.md", table + "\n")
    plot_elicitation(results, out)
    print(table)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
