"""Online RL with trl's GRPOTrainer or RLOOTrainer, rewarded by a conservative ensemble objective.

The ensemble reward is a plain trl reward function and the KL coefficient is trl's ``beta``. Checkpoints are
trl's; a killed run resumes from the last one.
"""

from __future__ import annotations

from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

from rlnoise.core.console import summarise_trainer
from rlnoise.core.models import load_model
from rlnoise.core.precision import trainer_precision
from rlnoise.core.tracking import attach_tracking, tracker
from rlnoise.overoptimization.config import TrlRLConfig
from rlnoise.overoptimization.reward import trl_reward_function
from rlnoise.overoptimization.rl_study import RLContext, evaluate_and_record, run_folder_name, run_label


class EvaluateEvery(TrainerCallback):
    """Evaluate the policy on fixed prompts at step 0 and every ``every`` steps; one metrics row each, also logged
    to the run's live tracker (as ``eval/*``) once :func:`train_from_last_checkpoint` gives it the trainer."""

    def __init__(self, every: int, evaluate):
        self.every, self.evaluate, self.trainer = every, evaluate, None

    def __call__(self, model, step: int) -> None:
        shown = self.evaluate(model, step)
        if shown and self.trainer is not None and tracker() != "none":
            self.trainer.log({f"eval_{k}": v for k, v in shown.items()})  # the trackers file eval_x as eval/x

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self(model, state.global_step)


def train_trl(rl: TrlRLConfig, run: dict, reward, ctx: RLContext) -> None:
    """One trl run (``run``: noise, objective, beta, replicate seed), resumed from trl's last checkpoint if any."""
    from peft import LoraConfig

    study, sampling, label = ctx.study, ctx.sampling, run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed + run["seed"])
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
        seed=study.seed + run["seed"],
        # trl samples and computes both log-probs under one autocast, so the importance ratio stays consistent
        **trainer_precision(sampling.dtype),
        accelerator_config={"use_configured_state": True},
    )
    if rl.algorithm == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer

    def evaluate(model, step):
        return evaluate_and_record(ctx, run, step, model, tokenizer, reward)

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
    train_from_last_checkpoint(trainer, folder, label, rl.algorithm.upper(), ctx.state)


def train_from_last_checkpoint(trainer, folder, label: str, what: str, state) -> None:
    """Train a trl trainer from the last checkpoint in ``folder`` (logging to the run's tracker as ``label``); a
    fresh run is evaluated at step 0 first (by its :class:`EvaluateEvery` callback)."""
    attach_tracking(trainer, label)
    (evaluate,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, EvaluateEvery)]
    evaluate.trainer = trainer
    summarise_trainer(trainer, f"[{label}] {what}")
    last = get_last_checkpoint(str(folder)) if folder.exists() else None
    if last is None:
        evaluate(trainer.model, 0)
    else:
        state.print(f"[{label}] resuming from {last}")
    trainer.train(resume_from_checkpoint=last)
