"""Noisy algorithmic chain of thought (Havrilla & Iyer 2024): how static and dynamic noise in TInt traces affect
fine-tuned and few-shot-prompted models.

task x noise type x contamination x intensity -> noisy training set (TInt) -> SFT (trl) and few-shot prompting ->
greedy decoding on a clean test set -> exact match, step accuracy, parse failures -> cells.jsonl (finished cells
are skipped on rerun), results.json, a markdown table and tint.png.

    python recipes/tint/sweep.py --config recipes/tint/configs/quick.yaml
    accelerate launch recipes/tint/sweep.py --config recipes/tint/configs/quick.yaml
"""

from __future__ import annotations

import datasets

from rlnoise.core.config import parse_config, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.files import write_json, write_jsonl, write_text, write_yaml
from rlnoise.core.runs import run_dir, run_metadata
from rlnoise.tint.plots import plot_tint
from rlnoise.tint.sweep import TIntSweepConfig, results_table, run_sweep
from rlnoise.tint.train import FinetuneConfig


def main():
    sweep, finetune = parse_config(TIntSweepConfig, FinetuneConfig)
    datasets.disable_progress_bars()  # many small per-cell datasets; the cells log their own progress
    state = process_state()
    if state.num_processes > 1:
        raise SystemExit(
            "recipes/tint/sweep.py runs its cells one after another in one process; "
            "launch it without --num_processes (or split the grid over several runs)"
        )
    out = run_dir("tint", sweep.run_name, sweep.output_root)
    write_yaml(out / "config.yaml", to_dict((sweep, finetune)))
    rows = run_sweep(sweep, finetune, out)
    results = {
        "recipe": "tint",
        "cells": [{k: v for k, v in r.items() if k != "samples"} for r in rows],
        "metadata": run_metadata(),
    }
    write_json(out / "results.json", results)
    table = results_table(results["cells"])
    write_text(out / "results.md", table + "\n")
    write_jsonl(
        out / "samples.jsonl",
        [{"cell": r["cell"], "method": r["method"], **s} for r in rows for s in r.get("samples", [])],
    )
    plot_tint(results, out)
    print(table)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
