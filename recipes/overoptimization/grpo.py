"""Online RL overoptimization with trl's GRPOTrainer or RLOOTrainer, rewarded by a conservative ensemble objective.

The same study as ``ppo.py`` (noise settings x objectives x KL coefficients, evaluation every k steps, Gao RL fits,
plots), with trl doing the optimisation: the ensemble reward is a plain trl reward function and the KL coefficient
is trl's ``beta``. Checkpoints are trl's; a killed run resumes from the last one.

    python recipes/overoptimization/grpo.py --config recipes/overoptimization/configs/grpo_quick.yaml
    python recipes/overoptimization/grpo.py --config .../grpo_quick.yaml --algorithm rloo
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from rlnoise.core.config import check_choice, check_positive, parse_config
from rlnoise.core.generation import SamplingConfig
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ensemble import EnsembleConfig
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.reward import trl_reward_function
from rlnoise.overoptimization.rl_study import (
    RLContext,
    RLStudyConfig,
    evaluate_and_record,
    run_folder_name,
    run_label,
    run_rl_study,
)


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


def train_one(rl: TrlRLConfig, run: dict, reward, ctx: RLContext) -> None:
    """One trl run (``run``: noise, objective, beta), resumed from trl's last checkpoint if any."""
    from peft import LoraConfig

    study, sampling, label = ctx.study, ctx.sampling, run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed)
    folder = ctx.out / "checkpoints" / run_folder_name(label)
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
        evaluate_and_record(ctx, run, step, model, tokenizer, reward)

    dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in ctx.rl_prompts]})
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
        ctx.state.print(f"[{label}] resuming from {last}")
    trainer.train(resume_from_checkpoint=last)


def main():
    configs = parse_config(RLStudyConfig, TrlRLConfig, SamplingConfig, GoldConfig, EnsembleConfig)
    run_rl_study(configs[1].algorithm, configs, partial(train_one, configs[1]))


if __name__ == "__main__":
    main()
