"""Best-of-n overoptimization: single reward models vs ensemble objectives, with and without label noise.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> a pool of N policy samples per
evaluation prompt -> gold and proxy scores -> best-of-n gold/proxy curves against sqrt(KL) for every member and
every objective -> Gao fits -> results.json, samples.jsonl, bon.png.

    python recipes/overoptimization/bon.py --config recipes/overoptimization/configs/bon_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/bon.py --config .../bon_quick.yaml
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.core.config import SamplingConfig
from rlnoise.overoptimization.config import BonStudyConfig, EnsembleConfig, GoldConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/bon_*.yaml"))


def main():
    configs = parse_config(BonStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.overoptimization.bon_study import run_bon_study  # after parsing: --help never loads torch

    run_bon_study(*configs)


if __name__ == "__main__":
    run_main(main)
