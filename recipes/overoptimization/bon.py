"""Best-of-n overoptimization: single reward models vs ensemble objectives, with and without label noise.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> a pool of N policy samples per
evaluation prompt -> gold and proxy scores -> best-of-n gold/proxy curves against sqrt(KL) for every member and
every objective -> Gao fits -> results.json, samples.jsonl, bon.png.

    python recipes/overoptimization/bon.py --config recipes/overoptimization/configs/bon_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/bon.py --config .../bon_quick.yaml
"""

from __future__ import annotations

from rlnoise.core.config import parse_config
from rlnoise.core.generation import SamplingConfig
from rlnoise.overoptimization.bon_study import run_bon_study
from rlnoise.overoptimization.config import BonStudyConfig
from rlnoise.overoptimization.ensemble import EnsembleConfig
from rlnoise.overoptimization.gold import GoldConfig


def main():
    run_bon_study(*parse_config(BonStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig))


if __name__ == "__main__":
    main()
