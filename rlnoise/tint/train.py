"""Fine-tuning on TInt traces with ``trl.SFTTrainer``: prompt-completion data, loss on the completion only,
LoRA or full fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rlnoise.core.config import check_positive
from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.tint.evaluate import format_prompt


@dataclass
class FinetuneConfig:
    """SFT settings for TInt traces."""

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "Model registry name, hub id or path."})
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 = full fine-tuning."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    sft_learning_rate: float = field(default=5e-4, metadata={"help": "Learning rate."})
    sft_epochs: float = field(default=2.0, metadata={"help": "Epochs over the training set."})
    sft_batch_size: int = field(default=16, metadata={"help": "Sequences per optimisation step."})
    max_length: int = field(default=512, metadata={"help": "Longest prompt + trace in tokens (longer ones are cut)."})
    sft_seed: int = field(default=0, metadata={"help": "Seed of model init (tiny models) and data order."})

    def __post_init__(self):
        check_positive("lora_r", self.lora_r, integer=True, allow_zero=True)
        check_positive("lora_alpha", self.lora_alpha, integer=True)
        check_positive("sft_learning_rate", self.sft_learning_rate)
        check_positive("sft_epochs", self.sft_epochs)
        check_positive("sft_batch_size", self.sft_batch_size, integer=True)
        check_positive("max_length", self.max_length, integer=True)


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
    trainer.train()
    log = [row for row in trainer.state.log_history if "loss" in row]
    return trainer.model, tokenizer, log
