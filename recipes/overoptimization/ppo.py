"""Online RL overoptimization with PPO: a policy optimised against conservative ensemble objectives, with and
without label noise, over a sweep of KL coefficients.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> for each objective and beta: PPO on the
objective's reward, evaluated every ``eval_every`` steps on fixed prompts (KL k2, gold, proxy, ensemble variance)
-> metrics.jsonl, Gao RL fits, results.json, ppo.png. Killed runs resume from their last checkpoint.

    python recipes/overoptimization/ppo.py --config recipes/overoptimization/configs/ppo_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/ppo.py --config ...
"""

from __future__ import annotations

from rlnoise.core.config import parse_config
from rlnoise.core.generation import SamplingConfig
from rlnoise.overoptimization.config import RLStudyConfig
from rlnoise.overoptimization.ensemble import EnsembleConfig
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.ppo import PPOConfig
from rlnoise.overoptimization.rl_study import run_rl_study


def main():
    run_rl_study(*parse_config(RLStudyConfig, PPOConfig, SamplingConfig, GoldConfig, EnsembleConfig))


if __name__ == "__main__":
    main()
