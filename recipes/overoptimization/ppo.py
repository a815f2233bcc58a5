"""Online RL overoptimization with PPO: a policy optimised against conservative ensemble objectives, with and
without label noise, over a sweep of KL coefficients.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> for each objective and beta: PPO on the
objective's reward, evaluated every ``eval_every`` steps on fixed prompts (KL k2, gold, proxy, ensemble variance)
-> metrics.jsonl, Gao RL fits, results.json, ppo.png. Killed runs resume from their last checkpoint.

    python recipes/overoptimization/ppo.py --config recipes/overoptimization/configs/ppo_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/ppo.py --config ...
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.core.config import SamplingConfig
from rlnoise.overoptimization.config import EnsembleConfig, GoldConfig, PPOConfig, RLStudyConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/ppo_*.yaml"))


def main():
    configs = parse_config(
        RLStudyConfig, PPOConfig, SamplingConfig, GoldConfig, EnsembleConfig, doc=__doc__, presets=PRESETS
    )
    import os

    from rlnoise.core.engine import requested_engine

    if requested_engine(dict(os.environ)).startswith("FSDP"):
        raise SystemExit(
            "error: PPO does not run under FSDP yet: it samples from and scores the reference with the policy inside "
            "its value wrapper, which a layer-wise FSDP wrap leaves sharded (reproduced on the CPU by "
            "tests/distributed/fsdp2_check.py). Launch PPO with recipes/accelerate_configs/ddp.yaml, zero2.yaml or "
            "zero3.yaml."
        )
    from rlnoise.overoptimization.rl_study import run_rl_study  # after parsing: --help never loads torch

    run_rl_study(*configs)


if __name__ == "__main__":
    run_main(main)
