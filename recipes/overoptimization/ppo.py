"""Online RL overoptimization with PPO: a policy optimised against conservative ensemble objectives, with and
without label noise, over a sweep of KL coefficients.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> for each objective and beta: PPO on the
objective's reward, evaluated every ``eval_every`` steps on fixed prompts (KL k2, gold, proxy, ensemble variance)
-> metrics.jsonl, Gao RL fits, results.json, ppo.png. Killed runs resume from their last checkpoint.

    python recipes/overoptimization/ppo.py --config recipes/overoptimization/configs/ppo_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/ppo.py --config ...
"""

from __future__ import annotations

import time

import numpy as np

from rlnoise.config import parse_config, to_dict
from rlnoise.distributed import barrier, process_state
from rlnoise.models import load_model
from rlnoise.optimize.ppo import PPOConfig, PPOTrainer
from rlnoise.optimize.reward import EnsembleReward
from rlnoise.optimize.rl_eval import evaluate_policy
from rlnoise.optimize.rl_study import (
    RLStudyConfig,
    initial_gold_std,
    latest_checkpoint,
    proxy_rewards,
    rl_prompt_splits,
    rl_results,
    run_folder_name,
    run_label,
)
from rlnoise.optimize.sampling import SamplingConfig
from rlnoise.plotting import plot_rl
from rlnoise.rewards.ensemble import EnsembleConfig
from rlnoise.rewards.gold import GoldConfig
from rlnoise.rewards.pipeline import make_gold
from rlnoise.runs import append_jsonl, read_jsonl, run_dir, run_metadata, write_json, write_yaml


def train_one(run, study, ppo_config, sampling, reward, gold, rl_prompts, eval_prompts, out, state):
    """One PPO run (``run``: noise, objective, beta), resumed from its last checkpoint if any."""
    label = run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed)
    trainer = PPOTrainer(policy.to(state.device), tokenizer, reward, ppo_config, sampling)
    checkpoints = out / "checkpoints" / run_folder_name(label)
    resume = latest_checkpoint(checkpoints)
    if resume is not None:
        trainer.load(resume)
        state.print(f"[{label}] resumed from {resume.name}")
    per_process = ppo_config.rollout_batch_size

    def evaluate():
        if state.is_main_process:
            start = time.time()
            metrics = evaluate_policy(
                trainer.unwrapped.policy,
                tokenizer,
                eval_prompts,
                sampling,
                gold,
                reward,
                reference=trainer.reference,
                seed=study.seed + 1,
            )
            samples = metrics.pop("samples")
            row = dict(run=label, **run, step=trainer.step, seconds=time.time() - start, **metrics)
            append_jsonl(out / "metrics.jsonl", row)
            shown = [
                dict(run=label, step=trainer.step, prompt=p, response=r, gold=g, proxy=x) for p, r, g, x in samples[:4]
            ]
            for sample in shown:
                append_jsonl(out / "samples.jsonl", sample)
            state.print(f"[{label}] step {trainer.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        barrier()

    if trainer.step == 0:
        evaluate()
    while trainer.step < study.total_steps:
        order = np.random.default_rng([study.seed, trainer.step]).permutation(len(rl_prompts))
        first = state.process_index * per_process
        prompts = [rl_prompts[order[(first + i) % len(order)]] for i in range(per_process)]
        stats = trainer.train_step(prompts)
        if state.is_main_process and trainer.step % 5 == 0:
            print(f"[{label}] step {trainer.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
        if trainer.step % study.eval_every == 0 or trainer.step == study.total_steps:
            evaluate()
        if trainer.step % study.checkpoint_every == 0 or trainer.step == study.total_steps:
            trainer.save(checkpoints / f"step-{trainer.step:06d}")


def main():
    study, ppo_config, sampling, gold_config, ensemble_config = parse_config(
        RLStudyConfig, PPOConfig, SamplingConfig, GoldConfig, EnsembleConfig
    )
    state = process_state()
    out = run_dir("overoptimization", study.run_name, study.output_root)
    if state.is_main_process:
        write_yaml(out / "config.yaml", to_dict((study, ppo_config, sampling, gold_config, ensemble_config)))
    rm_splits, rl_rows, rl_prompts, eval_prompts = rl_prompt_splits(study)
    gold = make_gold(gold_config, rl_rows)
    flip_rates = {}
    for spec, ensemble, reference, flip_rate in proxy_rewards(
        study, sampling, gold_config, ensemble_config, rm_splits, state.device
    ):
        flip_rates[spec] = flip_rate
        for objective in study.objectives:
            reward = EnsembleReward(ensemble, objective, study.uwo_lambda, reference=reference)
            for beta in study.kl_coefs:
                config = PPOConfig(**{**to_dict(ppo_config), "kl_coef": beta})
                run = dict(noise=spec, objective=objective, beta=beta)
                train_one(run, study, config, sampling, reward, gold, rl_prompts, eval_prompts, out, state)
    gold_std = initial_gold_std(study, sampling, gold_config, rm_splits)  # all processes: it reads a cached stage
    if state.is_main_process:
        results = rl_results(read_jsonl(out / "metrics.jsonl"), gold_std)
        results.update(recipe="rl", algorithm="ppo", metadata=run_metadata(), noise=study.noise, flip_rate=flip_rates)
        write_json(out / "results.json", results)
        for path in plot_rl(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


if __name__ == "__main__":
    main()
