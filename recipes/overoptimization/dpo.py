"""Direct alignment under label noise: DPO, conservative DPO, robust DPO, IPO and SLiC trained with trl's
DPOTrainer on the reward-model study's sampled, gold-labelled and noised pairs; gold against sqrt(KL) over training,
Gao's RL fit, the implicit reward's accuracy on held-out pairs, claims and ``dpo.png``.

    python recipes/overoptimization/dpo.py --config recipes/overoptimization/configs/dpo_quick.yaml
    python recipes/overoptimization/dpo.py --config .../dpo_quick.yaml --losses dpo rdpo:measured*2 --betas 0.05 0.5
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.core.config import SamplingConfig
from rlnoise.overoptimization.config import GoldConfig
from rlnoise.overoptimization.dpo_config import DPOConfig, DPOStudyConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/dpo_*.yaml"))


def main():
    configs = parse_config(DPOStudyConfig, DPOConfig, SamplingConfig, GoldConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.overoptimization.dpo_study import run_dpo_study  # after parsing: --help never loads torch

    run_dpo_study(*configs)


if __name__ == "__main__":
    run_main(main)
