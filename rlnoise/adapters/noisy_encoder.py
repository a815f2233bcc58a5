"""Noisy pre-training on real features: the feature encoder itself fine-tuned on the ID task's training labels with
symmetric label noise, then frozen and used as the features of an ID/OOD pair (Chen et al.'s question, asked of
a real text encoder instead of the synthetic simulation).

The fine-tuned encoder is a cached stage keyed by the base model, the pair, the noise rate and seed and the
training settings, so its features (``rlnoise.core.features``, keyed by the encoder's folder) are computed once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlnoise.core.features import texts_fingerprint
from rlnoise.core.noise import apply_noise
from rlnoise.core.precision import trainer_precision
from rlnoise.core.stages import cached_stage
from rlnoise.core.tasks import binary_task


@dataclass(frozen=True)
class EncoderTraining:
    """How the encoder is fine-tuned on the noisy ID labels (a linear classifier head on its pooled output)."""

    epochs: float = 1.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    dtype: str = "float32"  # bfloat16: autocast (about 2x faster on CPUs with bf16 units), the weights stay float32


def noisy_encoder(
    model: str, task: str, train_rows: list[int], rate: float, training: EncoderTraining, seed: int = 0
) -> Path:
    """Fine-tune ``model`` on ``train_rows`` of the binary ``task`` with a ``rate`` share of labels flipped
    (symmetric noise drawn by ``seed``); returns the folder of the fine-tuned encoder (``from_pretrained``-ready,
    tokenizer included), from the cache when it exists."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from rlnoise.core.distributed import process_state  # the trainer reuses the launch's accelerate state
    from rlnoise.core.models import load_model
    from rlnoise.core.tracking import attach_tracking

    data = binary_task(task).select(train_rows)
    texts, labels = list(data["text"]), np.asarray(data["label"])
    settings = dict(
        model=model,
        task=task,
        texts=texts_fingerprint(texts),  # the rows' contents, not only their indices
        labels=texts_fingerprint([str(y) for y in labels.tolist()]),
        rate=rate,
        seed=seed,
        training=vars(training),
        processes=process_state().num_processes,  # the effective batch size scales with them
    )

    def build(folder: Path) -> None:
        noisy = apply_noise("symmetric", labels, seed=seed, p=rate).labels if rate else labels
        classifier, tokenizer = load_model(model, "reward_model", num_labels=2, seed=seed)
        encoded = Dataset.from_dict({"text": texts, "label": noisy.tolist()}).map(
            lambda b: tokenizer(b["text"], truncation=True, max_length=training.max_length),
            batched=True,
            remove_columns=["text"],
        )
        args = TrainingArguments(
            output_dir=str(folder / "scratch"),
            num_train_epochs=training.epochs,
            learning_rate=training.learning_rate,
            per_device_train_batch_size=training.batch_size,
            lr_scheduler_type="linear",
            warmup_steps=0.06,  # a fraction of the steps (transformers 5)
            save_strategy="no",
            report_to="none",
            seed=seed,
            **trainer_precision(training.dtype),
            disable_tqdm=True,
            accelerator_config={"use_configured_state": True},
        )
        trainer = Trainer(
            model=classifier, args=args, train_dataset=encoded, data_collator=DataCollatorWithPadding(tokenizer)
        )
        attach_tracking(trainer, f"noisy_encoder-{task}-rate{rate:g}-seed{seed}").train()
        classifier.save_pretrained(folder / "encoder")  # AutoModel reads the trunk and ignores the head
        tokenizer.save_pretrained(folder / "encoder")
        shutil.rmtree(folder / "scratch", ignore_errors=True)

    return cached_stage("noisy_encoder", settings, build) / "encoder"
