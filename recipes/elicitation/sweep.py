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

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.elicitation.config import LearnerConfig, SweepConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/*.yaml"))


def main():
    sweep, learner = parse_config(SweepConfig, LearnerConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.core.distributed import process_state  # after parsing: --help never loads torch
    from rlnoise.elicitation.sweep import run_elicitation_sweep

    if process_state().num_processes > 1:
        raise SystemExit("recipes/elicitation/sweep.py runs cells one after another; split a grid with --shard i/n")
    run_elicitation_sweep(sweep, learner)


if __name__ == "__main__":
    run_main(main)
