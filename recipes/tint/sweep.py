"""Noisy algorithmic chain of thought (Havrilla & Iyer 2024): how static and dynamic noise in TInt traces affect
fine-tuned and few-shot-prompted models.

task x noise type x contamination x intensity -> noisy training set (TInt) -> SFT (trl) and few-shot prompting ->
greedy decoding on a clean test set -> exact match, step accuracy, parse failures -> cells.jsonl (finished cells
are skipped on rerun), results.json, a markdown table and tint.png.

    python recipes/tint/sweep.py --config recipes/tint/configs/quick.yaml
    accelerate launch recipes/tint/sweep.py --config recipes/tint/configs/quick.yaml
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.tint.config import FinetuneConfig, TIntSweepConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/*.yaml"))


def main():
    sweep, finetune = parse_config(TIntSweepConfig, FinetuneConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.core.distributed import process_state  # after parsing: --help never loads torch
    from rlnoise.tint.sweep import run_tint_sweep

    if process_state().num_processes > 1:
        raise SystemExit(
            "recipes/tint/sweep.py runs its cells one after another in one process; "
            "launch it without --num_processes (or split the grid over several runs)"
        )
    run_tint_sweep(sweep, finetune)


if __name__ == "__main__":
    run_main(main)
