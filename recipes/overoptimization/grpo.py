"""Online RL overoptimization with trl's GRPOTrainer or RLOOTrainer, rewarded by a conservative ensemble objective.

The same study as ``ppo.py`` (noise settings x objectives x KL coefficients, evaluation every k steps, Gao RL fits,
plots), with trl doing the optimisation: the ensemble reward is a plain trl reward function and the KL coefficient
is trl's ``beta``. Checkpoints are trl's; a killed run resumes from the last one.

    python recipes/overoptimization/grpo.py --config recipes/overoptimization/configs/grpo_quick.yaml
    python recipes/overoptimization/grpo.py --config .../grpo_quick.yaml --algorithm rloo
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.core.config import SamplingConfig
from rlnoise.overoptimization.config import EnsembleConfig, GoldConfig, RLStudyConfig, TrlRLConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/grpo_*.yaml"))


def main():
    configs = parse_config(
        RLStudyConfig, TrlRLConfig, SamplingConfig, GoldConfig, EnsembleConfig, doc=__doc__, presets=PRESETS
    )
    from rlnoise.overoptimization.rl_study import run_rl_study  # after parsing: --help never loads torch

    run_rl_study(*configs)


if __name__ == "__main__":
    run_main(main)
