"""Online RL overoptimization with PPO: a policy optimised against conservative ensemble objectives, with and
without label noise, over a sweep of KL coefficients.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> for each objective and beta: PPO on the
objective's reward, evaluated every ``eval_every`` steps on fixed prompts (KL k2, gold, proxy, ensemble variance)
-> metrics.jsonl, Gao RL fits, results.json, ppo.png. Killed runs resume from their last checkpoint.

    python recipes/overoptimization/ppo.py --config recipes/overoptimization/configs/ppo_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/ppo.py --config ...
"""

from __future__ import annotations

from functools import partial

import numpy as np

from rlnoise.core.config import parse_config, to_dict
from rlnoise.core.generation import SamplingConfig
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ensemble import EnsembleConfig
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.ppo import PPOConfig, PPOTrainer
from rlnoise.overoptimization.rl_study import (
    RLContext,
    RLStudyConfig,
    evaluate_and_record,
    latest_checkpoint,
    run_folder_name,
    run_label,
    run_rl_study,
)


def train_one(ppo_config: PPOConfig, run: dict, reward, ctx: RLContext) -> None:
    """One PPO run (``run``: noise, objective, beta), resumed from its last checkpoint if any."""
    study, state, label = ctx.study, ctx.state, run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed)
    config = PPOConfig(**{**to_dict(ppo_config), "kl_coef": run["beta"]})
    trainer = PPOTrainer(policy.to(state.device), tokenizer, reward, config, ctx.sampling)
    checkpoints = ctx.out / "checkpoints" / run_folder_name(label)
    resume = latest_checkpoint(checkpoints)
    if resume is not None:
        trainer.load(resume)
        state.print(f"[{label}] resumed from {resume.name}")

    def evaluate():
        policy = trainer.unwrapped.policy
        evaluate_and_record(ctx, run, trainer.step, policy, tokenizer, reward, reference=trainer.reference)

    if trainer.step == 0:
        evaluate()
    per_process = config.rollout_batch_size
    while trainer.step < study.total_steps:
        # each process takes its own slice of a per-step permutation: its own rollouts
        order = np.random.default_rng([study.seed, trainer.step]).permutation(len(ctx.rl_prompts))
        first = state.process_index * per_process
        prompts = [ctx.rl_prompts[order[(first + i) % len(order)]] for i in range(per_process)]
        stats = trainer.train_step(prompts)
        if state.is_main_process and trainer.step % 5 == 0:
            print(f"[{label}] step {trainer.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
        if trainer.step % study.eval_every == 0 or trainer.step == study.total_steps:
            evaluate()
        if trainer.step % study.checkpoint_every == 0 or trainer.step == study.total_steps:
            trainer.save(checkpoints / f"step-{trainer.step:06d}")


def main():
    configs = parse_config(RLStudyConfig, PPOConfig, SamplingConfig, GoldConfig, EnsembleConfig)
    run_rl_study("ppo", configs, partial(train_one, configs[1]))


if __name__ == "__main__":
    main()
