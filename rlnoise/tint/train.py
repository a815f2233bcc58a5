"""Fine-tuning on TInt traces with ``trl.SFTTrainer``: prompt-completion data, loss on the completion only,
LoRA or full fine-tuning."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.console import say, summarise_trainer
from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.core.tracking import attach_tracking
from rlnoise.tint.config import FinetuneConfig
from rlnoise.tint.evaluate import format_prompt


class StopAtExactMatch:
    """Stops training once held-out exact match reaches ``target`` (a ``TrainerCallback`` built in ``finetune``):
    ``score(model, tokenizer)`` runs every ``every`` steps; ``checks`` keeps ``(step, exact match)``."""

    def __init__(self, score, target: float, every: int):
        self.score, self.target, self.every = score, target, every
        self.checks: list[tuple[int, float]] = []


def _stopper(until: StopAtExactMatch | None, stop_at: int):
    from transformers import TrainerCallback

    class Callback(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            step = state.global_step
            if stop_at and step >= stop_at:
                control.should_training_stop = True
            if until is not None and (step % until.every == 0 or step == state.max_steps):
                em = until.score(model, kwargs["processing_class"])
                until.checks.append((step, em))
                say(f"      step {step}: held-out exact match {em:.2f} (target {until.target:g})")
                if em >= until.target:
                    control.should_training_stop = True

    return Callback()


def finetune(
    train,
    config: FinetuneConfig,
    output_dir: str | Path,
    *,
    max_steps: int = 0,
    until=None,
    stop_at: int = 0,
    name: str = "tint_sft",
):
    """Fine-tune ``config.model`` on a TInt dataset (columns prompt, completion); returns (model, tokenizer, log).

    The loss covers the completion (trace + EOS) only, as trl does for prompt-completion datasets. The learning
    rate follows a cosine schedule over ``config.sft_epochs`` epochs, or over ``max_steps`` steps when given. Training
    ends early once ``until`` (a ``StopAtExactMatch``) is met or at step ``stop_at``: a run stopped by ``until`` at
    step S and a run with ``stop_at=S`` and the same ``max_steps`` follow the same schedule to the same step.
    ``log``: the trainer's loss rows (``loss``) and the steps trained (``steps``). ``name``: the run's name in a
    live tracker, if any.
    """
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    process_state()  # the trainer reuses the launch's accelerate state (use_configured_state)
    model, tokenizer = load_model(config.model, "causal_lm", seed=config.sft_seed)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = train.select_columns(["prompt", "completion"]).map(lambda row: {"prompt": format_prompt(row["prompt"])})
    length = dict(max_steps=max_steps) if max_steps else dict(num_train_epochs=config.sft_epochs)
    args = SFTConfig(
        output_dir=str(output_dir),
        learning_rate=config.sft_learning_rate,
        per_device_train_batch_size=config.sft_batch_size,
        max_length=config.max_length,
        completion_only_loss=True,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,  # a fraction of the steps (transformers 5)
        logging_steps=2,
        save_strategy="no",
        report_to="none",
        seed=config.sft_seed,
        bf16=False,
        disable_tqdm=False,
        accelerator_config={"use_configured_state": True},
        **length,
    )
    peft_config = None
    if config.lora_r:
        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_stopper(until, stop_at)] if until is not None or stop_at else None,
    )
    attach_tracking(trainer, name)
    summarise_trainer(trainer, "fine-tuned")
    trainer.train()
    log = [row for row in trainer.state.log_history if "loss" in row]
    return trainer.model, tokenizer, {"loss": log, "steps": trainer.state.global_step}
