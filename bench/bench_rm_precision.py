"""Reward-model training in float32 vs bfloat16 mixed precision (`rm_dtype`), on the best-of-n quick preset's own
preference pairs (its cached pairs are reused when the demo has run; otherwise they are sampled first).

Trains the preset's ensemble once per precision, one after the other in one process, and prints the training time,
the held-out pair accuracy of each member against the gold labels (with a binomial standard error), and how far the
two ensembles' scores of the held-out responses lie apart (Pearson correlation and the largest difference in units
of the float32 scores' standard deviation). bfloat16 is adopted only if accuracy and scores are unchanged within noise.

    python bench/bench_rm_precision.py [--config recipes/overoptimization/configs/bon_quick.yaml] [--noise none]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rlnoise.core.cli import parse_config
from rlnoise.core.config import SamplingConfig
from rlnoise.core.distributed import process_state
from rlnoise.overoptimization.config import BonStudyConfig, EnsembleConfig, GoldConfig
from rlnoise.overoptimization.ensemble import pair_accuracy, train_ensemble
from rlnoise.overoptimization.pipeline import scored_pair_datasets, study_prompts

PRESET = Path(__file__).parents[1] / "recipes/overoptimization/configs/bon_quick.yaml"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(PRESET))
    parser.add_argument("--noise", default="none")
    args = parser.parse_args()
    study, sampling, gold, ensemble = parse_config(
        BonStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig, argv=["--config", args.config]
    )
    process_state()
    splits, _ = study_prompts(study)
    pairs = scored_pair_datasets(study.policy, splits, sampling, gold, args.noise, study.seed)
    eval_pairs = pairs["eval"]
    texts = dict(
        prompts=list(eval_pairs["prompt"]) * 2, responses=list(eval_pairs["chosen"]) + list(eval_pairs["rejected"])
    )
    results = {}
    for dtype in ("float32", "bfloat16"):
        config = replace(ensemble, rm_dtype=dtype)
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            trained, _ = train_ensemble(pairs["train"], config, scratch)
            seconds = time.perf_counter() - start
        with torch.no_grad():
            scores = trained.score(texts["prompts"], texts["responses"]).float().numpy()  # [K, 2 * pairs]
        results[dtype] = (seconds, pair_accuracy(trained, eval_pairs), scores)
    n = len(eval_pairs)
    print(f"{config.k} {config.kind} proxies on {config.backbone}, {len(pairs['train'])} training pairs, {n} held out")
    print(f"load {os.getloadavg()[0]:.2f}, {torch.get_num_threads()} threads")
    for dtype, (seconds, accuracy, _) in results.items():
        members = accuracy["members"]["true"]  # against the gold labels
        spread = ", ".join(f"{a:.3f}" for a in members)
        mean = float(np.mean(members))
        se = float(np.sqrt(mean * (1 - mean) / n))
        print(f"  {dtype}: trained in {seconds:.1f} s; member accuracy {spread} (mean {mean:.3f} +- {se:.3f})")
    reference, low = results["float32"][2], results["bfloat16"][2]
    correlation = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(reference, low)])
    largest = float(np.abs(reference - low).max() / reference.std())
    speed = results["float32"][0] / results["bfloat16"][0]
    print(f"  bfloat16 / float32: {speed:.2f}x faster; score correlation {correlation:.3f}, ", end="")
    print(f"largest score difference {largest:.2f} float32 std")


if __name__ == "__main__":
    main()
