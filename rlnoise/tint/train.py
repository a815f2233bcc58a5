"""Fine-tuning on TInt traces with ``trl.SFTTrainer``: prompt-completion data, loss on the completion only,
LoRA or full fine-tuning."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.console import summarise_trainer
from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.tint.config import FinetuneConfig
from rlnoise.tint.evaluate import format_prompt


def finetune(train, config: FinetuneConfig, output_dir: str | Path):
    """Fine-tune ``config.model`` on a TInt dataset (columns prompt, completion); returns (model, tokenizer, log).

    The loss covers the completion (trace + EOS) only, as trl does for prompt-completion datasets.
    """
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    process_state()  # the trainer reuses the launch's accelerate state (use_configured_state)
    model, tokenizer = load_model(config.model, "causal_lm", seed=config.sft_seed)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    data = train.select_columns(["prompt", "completion"]).map(lambda row: {"prompt": format_prompt(row["prompt"])})
    args = SFTConfig(
        output_dir=str(output_dir),
        learning_rate=config.sft_learning_rate,
        num_train_epochs=config.sft_epochs,
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
    )
    peft_config = None
    if config.lora_r:
        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data, processing_class=tokenizer, peft_config=peft_config
    )
    summarise_trainer(trainer, "fine-tuned")
    trainer.train()
    log = [row for row in trainer.state.log_history if "loss" in row]
    return trainer.model, tokenizer, log
