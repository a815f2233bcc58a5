"""Elicitation cell cost: a cell with n = 256 training labels (224 weak + 32 gold, sequential SFT) trained and
evaluated on 2 cores, cold (features, weak labels and token ids built) vs warm (all reused from the caches), in one
process; the issue's target is <= 2 min per cell.

    .venv/bin/python bench/bench_elicitation.py --mode lora --model smollm2-135m-instruct
    .venv/bin/python bench/bench_elicitation.py --mode head --model smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import datasets

from rlnoise.elicitation.cells import run_cell
from rlnoise.elicitation.cost import Spend
from rlnoise.elicitation.learner import LearnerConfig
from rlnoise.elicitation.sweep import SweepConfig, task_data, task_splits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="lora", choices=["lora", "full", "head"])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--task", default="piqa")
    parser.add_argument("--n_test", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=2.0)
    args = parser.parse_args()
    datasets.disable_progress_bars()
    os.environ["RLNOISE_CACHE"] = tempfile.mkdtemp(prefix="bench-elicitation-")  # cold caches
    from rlnoise.core.stages import cache_root

    shared_models = os.path.expanduser("~/.cache/rlnoise/models")  # converted SmolLM2 is reused, not timed
    os.makedirs(shared_models, exist_ok=True)
    (cache_root() / "models").symlink_to(shared_models, target_is_directory=True)
    sweep = SweepConfig(tasks=[args.task], n_test=args.n_test, n_weak_train=200, budgets=[64.0])
    learner = LearnerConfig(
        strong_model=args.model,
        mode=args.mode,
        epochs=args.epochs,
        batch_size=16,
        learning_rate=2e-4 if args.mode != "head" else 1e-3,
    )
    spend = Spend(n_weak=224, n_gold=32, n_val=16)
    timings = {}
    for phase in ("cold", "warm"):
        start = time.perf_counter()
        data, info = task_data(sweep, learner, task_splits(sweep, args.task), need_weak=True)
        prep = time.perf_counter() - start
        result = run_cell(data, "sequential", spend, seed=0)
        timings[phase] = (prep, result["seconds"], result["accuracy"])
        print(
            f"{phase}: data {prep:6.1f} s (features, weak labels{'' if args.mode == 'head' else ', tokens'}) + cell "
            f"{result['seconds']:6.1f} s (train 224 weak + 32 gold, {args.epochs:g} epochs each, evaluate "
            f"{args.n_test}); accuracy {result['accuracy']:.3f}, weak labeler {info['weak_pool_accuracy']:.3f}"
        )
    cold, warm = (sum(timings[p][:2]) for p in ("cold", "warm"))
    print(
        f"{args.mode} {args.model}: cell with warm caches {warm:.1f} s (target <= 120 s); cold {cold:.1f} s; "
        f"cold / warm = {cold / warm:.1f}x"
    )


if __name__ == "__main__":
    main()
