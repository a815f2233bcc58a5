"""Online RL overoptimization with trl's GRPOTrainer or RLOOTrainer, rewarded by a conservative ensemble objective.

The same study as ``ppo.py`` (noise settings x objectives x KL coefficients, evaluation every k steps, Gao RL fits,
plots), with trl doing the optimisation: the ensemble reward is a plain trl reward function and the KL coefficient
is trl's ``beta``. Checkpoints are trl's; a killed run resumes from the last one.

    python recipes/overoptimization/grpo.py --config recipes/overoptimization/configs/grpo_quick.yaml
    python recipes/overoptimization/grpo.py --config .../grpo_quick.yaml --algorithm rloo
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from rlnoise.config import check_choice, check_positive, parse_config, to_dict
from rlnoise.distributed import barrier, process_state
from rlnoise.models import load_model
from rlnoise.optimize.reward import EnsembleReward, trl_reward_function
from rlnoise.optimize.rl_eval import evaluate_policy
from rlnoise.optimize.rl_study import (
    RLStudyConfig,
    initial_gold_std,
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


@dataclass
class TrlRLConfig:
    """trl GRPO / RLOO settings."""

    algorithm: str = field(default="grpo", metadata={"help": "'grpo' (trl.GRPOTrainer) or 'rloo' (trl.RLOOTrainer)."})
    num_generations: int = field(default=4, metadata={"help": "Completions per prompt (the group)."})
    prompts_per_step: int = field(default=2, metadata={"help": "Prompts per optimisation step (per process)."})
    rl_learning_rate: float = field(default=3e-4, metadata={"help": "Learning rate (LoRA)."})
    policy_lora_r: int = field(default=16, metadata={"help": "LoRA rank of the policy."})
    policy_lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha of the policy."})

    def __post_init__(self):
        check_choice("algorithm", self.algorithm, ("grpo", "rloo"))
        check_positive("num_generations", self.num_generations, integer=True)
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be >= 2 (group baselines need two), got {self.num_generations}")
        check_positive("prompts_per_step", self.prompts_per_step, integer=True)
        check_positive("rl_learning_rate", self.rl_learning_rate)
        check_positive("policy_lora_r", self.policy_lora_r, integer=True)
        check_positive("policy_lora_alpha", self.policy_lora_alpha, integer=True)


class EvaluateEvery(TrainerCallback):
    """Evaluate the policy on fixed prompts at step 0 and every ``every`` steps; one metrics row each."""

    def __init__(self, every: int, evaluate):
        self.every, self.evaluate = every, evaluate

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self.evaluate(model, state.global_step)


def train_one(run, study, rl, sampling, reward, gold, rl_prompts, eval_prompts, out, state):
    """One trl run (``run``: noise, objective, beta), resumed from trl's last checkpoint if any."""
    from peft import LoraConfig

    label = run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed)
    folder = out / "checkpoints" / run_folder_name(label)
    common = dict(
        output_dir=str(folder),
        learning_rate=rl.rl_learning_rate,
        per_device_train_batch_size=rl.prompts_per_step * rl.num_generations,
        num_generations=rl.num_generations,
        max_completion_length=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        beta=run["beta"],
        max_steps=study.total_steps,
        save_strategy="steps",
        save_steps=study.checkpoint_every,
        logging_steps=1,
        report_to="none",
        seed=study.seed,
        bf16=False,
        accelerator_config={"use_configured_state": True},
    )
    if rl.algorithm == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer

    def evaluate(model, step):
        if state.is_main_process:
            start = time.time()
            metrics = evaluate_policy(model, tokenizer, eval_prompts, sampling, gold, reward, seed=study.seed + 1)
            samples = metrics.pop("samples")
            append_jsonl(
                out / "metrics.jsonl", dict(run=label, **run, step=step, seconds=time.time() - start, **metrics)
            )
            for p, r, g, x in samples[:4]:
                append_jsonl(out / "samples.jsonl", dict(run=label, step=step, prompt=p, response=r, gold=g, proxy=x))
            state.print(f"[{label}] step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        barrier()

    dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in rl_prompts]})
    trainer = Trainer(
        model=policy,
        reward_funcs=[trl_reward_function(reward)],
        args=Config(**common),
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[EvaluateEvery(study.eval_every, evaluate)],
        peft_config=LoraConfig(r=rl.policy_lora_r, lora_alpha=rl.policy_lora_alpha, target_modules="all-linear"),
    )
    last = get_last_checkpoint(str(folder)) if folder.exists() else None
    if last is None:
        evaluate(trainer.model, 0)
    else:
        state.print(f"[{label}] resuming from {last}")
    trainer.train(resume_from_checkpoint=last)


def main():
    study, rl, sampling, gold_config, ensemble_config = parse_config(
        RLStudyConfig, TrlRLConfig, SamplingConfig, GoldConfig, EnsembleConfig
    )
    state = process_state()
    out = run_dir("overoptimization", study.run_name, study.output_root)
    if state.is_main_process:
        write_yaml(out / "config.yaml", to_dict((study, rl, sampling, gold_config, ensemble_config)))
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
                run = dict(noise=spec, objective=objective, beta=beta)
                train_one(run, study, rl, sampling, reward, gold, rl_prompts, eval_prompts, out, state)
    gold_std = initial_gold_std(study, sampling, gold_config, rm_splits)  # all processes: it reads a cached stage
    if state.is_main_process:
        results = rl_results(read_jsonl(out / "metrics.jsonl"), gold_std)
        results.update(
            recipe="rl", algorithm=rl.algorithm, metadata=run_metadata(), noise=study.noise, flip_rate=flip_rates
        )
        write_json(out / "results.json", results)
        for path in plot_rl(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


if __name__ == "__main__":
    main()
