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
from dataclasses import dataclass, field

import numpy as np

from rlnoise.config import check_positive, parse_config, to_dict
from rlnoise.distributed import barrier, process_state
from rlnoise.models import load_model
from rlnoise.optimize.ppo import PPOConfig, PPOTrainer
from rlnoise.optimize.reward import EnsembleReward
from rlnoise.optimize.rl_eval import evaluate_policy
from rlnoise.optimize.rl_study import latest_checkpoint, rl_results, run_label
from rlnoise.optimize.sampling import SamplingConfig
from rlnoise.plotting import plot_rl
from rlnoise.rewards.ensemble import EnsembleConfig
from rlnoise.rewards.gold import GoldConfig
from rlnoise.rewards.objectives import OBJECTIVES
from rlnoise.rewards.pipeline import RMStudyConfig, cached_ensemble, make_gold, scored_pair_datasets
from rlnoise.runs import append_jsonl, read_jsonl, run_dir, run_metadata, write_json, write_yaml
from rlnoise.tasks import load_prompts


@dataclass
class RLStudyConfig(RMStudyConfig):
    """Online-RL settings on top of the reward-model study."""

    run_name: str = field(default="ppo_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_rl_prompts: int = field(default=64, metadata={"help": "Training prompts of the policy."})
    n_rl_eval_prompts: int = field(default=16, metadata={"help": "Fixed evaluation prompts."})
    objectives: list[str] = field(
        default_factory=lambda: ["mean"], metadata={"help": "Reward objectives to train on."}
    )
    kl_coefs: list[float] = field(default_factory=lambda: [0.01], metadata={"help": "beta values to sweep."})
    total_steps: int = field(default=40, metadata={"help": "PPO steps per run."})
    eval_every: int = field(default=10, metadata={"help": "Evaluate every k steps (and at 0 and the end)."})
    checkpoint_every: int = field(default=10, metadata={"help": "Checkpoint every k steps."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_rl_prompts", "n_rl_eval_prompts", "total_steps", "eval_every", "checkpoint_every"):
            check_positive(name, getattr(self, name), integer=True)
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ValueError(f"objectives must be names in {sorted(OBJECTIVES)}, got '{name}'")
        for beta in self.kl_coefs:
            check_positive("kl_coefs", beta, allow_zero=True)


def train_one(run, study, ppo_config, sampling, reward, gold, rl_prompts, eval_prompts, out, state):
    """One PPO run (``run``: noise, objective, beta), resumed from its last checkpoint if any."""
    label = run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed)
    trainer = PPOTrainer(policy.to(state.device), tokenizer, reward, ppo_config, sampling)
    checkpoints = out / "checkpoints" / "".join(c if c.isalnum() or c in "._" else "-" for c in label)
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
    n_rl = study.n_rl_prompts + study.n_rl_eval_prompts
    prompts = load_prompts(
        study.prompt_sources, n_train=study.n_train_pairs, n_eval=study.n_eval_pairs + n_rl, seed=study.seed
    )
    held_out = prompts["eval"].to_list()
    splits = {"train": prompts["train"].to_list(), "eval": held_out[: study.n_eval_pairs]}
    rl_rows = held_out[study.n_eval_pairs :]
    rl_prompts = [r["prompt"] for r in rl_rows[: study.n_rl_prompts]]
    eval_prompts = [r["prompt"] for r in rl_rows[study.n_rl_prompts :]]
    gold = make_gold(gold_config, rl_rows)
    accuracy = {}
    for spec in study.noise:
        pairs = scored_pair_datasets(study.policy, splits, sampling, gold_config, spec, study.seed)
        ensemble, _ = cached_ensemble(pairs["train"], ensemble_config, spec)
        ensemble.to(state.device)
        # members are standardised on the initial policy's responses (the held-out pairs)
        reference = (
            list(pairs["eval"]["raw_prompt"]) * 2,
            list(pairs["eval"]["chosen"]) + list(pairs["eval"]["rejected"]),
        )
        for objective in study.objectives:
            reward = EnsembleReward(ensemble, objective, study.uwo_lambda, reference=reference)
            for beta in study.kl_coefs:
                config = PPOConfig(**{**to_dict(ppo_config), "kl_coef": beta})
                run = dict(noise=spec, objective=objective, beta=beta)
                train_one(run, study, config, sampling, reward, gold, rl_prompts, eval_prompts, out, state)
        accuracy[spec] = float(sum(pairs["train"]["flipped"]) / len(pairs["train"]))
    if state.is_main_process:
        results = rl_results(read_jsonl(out / "metrics.jsonl"))
        results.update(recipe="rl", algorithm="ppo", metadata=run_metadata(), noise=study.noise, flip_rate=accuracy)
        write_json(out / "results.json", results)
        for path in plot_rl(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


if __name__ == "__main__":
    main()
