"""The strong learner: a binary classifier fine-tuned on soft labels with ``transformers.Trainer``.

Three ways to train it (``LearnerConfig.mode``):

- ``lora``: the registry model with a classification head and LoRA adapters (peft), the paper's setup;
- ``full``: the same, every weight trained;
- ``head``: a linear head on the model's frozen, cached features (``rlnoise.core.features``); cells then train in
  seconds, which is what lets a 2-core machine sweep a grid. Few-shot exemplars before each input (``fewshot_sft``)
  need a causal strong model here: its features are then read after the exemplars, from their reused cache.

Early stopping uses the validation split (gold labels charged to the budget): the checkpoint with the best
validation accuracy is restored at the end of each phase. Each call to ``fit`` builds a new ``Trainer``, so a
second phase (sequential SFT) starts with a fresh optimizer and schedule.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import torch
from datasets import Dataset
from torch import nn
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainingArguments,
    default_data_collator,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from rlnoise.core.distributed import process_state
from rlnoise.core.features import extract_features
from rlnoise.core.models import load_model, load_tokenizer
from rlnoise.core.tracking import attach_tracking, tracker
from rlnoise.elicitation.config import LearnerConfig
from rlnoise.elicitation.losses import log_confidence_loss


class FeatureHead(nn.Module):
    """A linear classifier on standardised frozen features (``head`` mode)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.linear = nn.Linear(len(mean), 2)

    def forward(self, features, labels=None):
        return SequenceClassifierOutput(logits=self.linear((features - self.mean) / self.std))


PREFIX_SCALE_ROWS = 256


def _scale(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(0), features.std(0) + 1e-6


class SoftLabelTrainer(Trainer):
    """``Trainer`` whose loss is soft-label cross-entropy, optionally with the log-confidence auxiliary loss.

    The stock loss of a sequence classifier takes hard class labels; weak labels are probabilities.
    """

    def __init__(self, *args, logconf_alpha: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.logconf_alpha = logconf_alpha

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop("labels")
        outputs = model(**inputs)
        warmup = max(1, int(0.2 * max(self.state.max_steps, 1)))  # Burns et al. ramp alpha over the first 20%
        alpha = self.logconf_alpha * min(1.0, self.state.global_step / warmup)
        loss = log_confidence_loss(outputs.logits, targets, alpha)
        return (loss, outputs) if return_outputs else loss


def _accuracy(prediction) -> dict:
    logits, targets = prediction.predictions, prediction.label_ids
    return {"accuracy": float(np.mean(logits.argmax(-1) == (targets > 0.5)))}


class StrongLearner:
    """Makes fresh strong models for a task's texts and trains / evaluates them.

    Args:
        config: the learner settings.
        texts: every text of the task (features are extracted once for all of them in head mode).
        fit_rows: rows whose features set the standardisation (head mode; unlabeled, so any rows may be used).
    """

    def __init__(self, config: LearnerConfig, texts: list[str], fit_rows: list[int]):
        self.config = config
        self.texts = texts
        self.fit_rows = fit_rows
        if config.mode == "head":
            self.features = self._extract(texts)
            self._scales = {"": _scale(self.features[fit_rows])}
            self._prefixed: dict[str, dict[int, np.ndarray]] = {}
            self.tokenizer = None
        else:
            self.features = None
            self.tokenizer = load_tokenizer(config.strong_model)
        self._encodings: dict[str, dict[int, list[int]]] = {}

    def _extract(self, texts: list[str], prefix: str = "") -> np.ndarray:
        c = self.config
        return extract_features(
            c.strong_model, texts, pooling=c.pooling, max_length=c.max_length, dtype=c.feature_dtype, prefix=prefix
        )

    def _features(self, rows: list[int], prefix: str) -> np.ndarray:
        """Head mode: features of ``rows``; with a prefix, of each text read after it (computed on first use)."""
        if not prefix:
            return self.features[rows]
        done = self._prefixed.setdefault(prefix, {})
        todo = [i for i in dict.fromkeys(rows) if i not in done]
        if todo:
            done.update(zip(todo, self._extract([self.texts[i] for i in todo], prefix)))
        return np.stack([done[i] for i in rows]) if rows else np.zeros((0, self.features.shape[1]), np.float32)

    def _scale(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """Head mode: the standardisation of features read after ``prefix``. Without one, every fit row sets it;
        with one, the first ``PREFIX_SCALE_ROWS`` of them do (their features would otherwise cost a full pass)."""
        if prefix not in self._scales:
            self._scales[prefix] = _scale(self._features(self.fit_rows[:PREFIX_SCALE_ROWS], prefix))
        return self._scales[prefix]

    def new_model(self, seed: int, prefix: str = ""):
        """A fresh classifier; in head mode, for features read after ``prefix``."""
        c = self.config
        if c.mode == "head":
            return FeatureHead(*self._scale(prefix), seed)
        model, _ = load_model(c.strong_model, "reward_model", num_labels=2, seed=seed)
        if c.mode == "lora":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(
                model,
                LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, target_modules="all-linear", task_type="SEQ_CLS"),
            )
        return model

    def dataset(self, rows: list[int], targets=None, prefix: str = "") -> Dataset:
        """Model inputs for ``rows`` (with ``prefix`` before each text) and soft targets (0.0 when absent)."""
        labels = [0.0] * len(rows) if targets is None else [float(t) for t in targets]
        if self.config.mode == "head":
            data = {"features": self._features(rows, prefix), "labels": np.asarray(labels, dtype=np.float32)}
            return Dataset.from_dict(data).with_format("torch")  # tensors, not lists: collation was half a cell
        cache = self._encodings.setdefault(prefix, {})
        todo = [i for i in dict.fromkeys(rows) if i not in cache]
        if todo:  # each text is tokenised once per prefix; cells reuse the ids
            ids = self.tokenizer(
                [prefix + self.texts[i] for i in todo], truncation=True, max_length=self.config.max_length
            )["input_ids"]
            cache.update(zip(todo, ids))
        input_ids = [cache[i] for i in rows]
        return Dataset.from_dict(
            {"input_ids": input_ids, "attention_mask": [[1] * len(x) for x in input_ids], "labels": labels}
        )

    def _args(self, folder: str, seed: int, validate: bool) -> TrainingArguments:
        c = self.config
        strategy = "epoch" if validate else "no"
        return TrainingArguments(
            output_dir=folder,
            learning_rate=c.learning_rate,
            num_train_epochs=c.epochs,
            per_device_train_batch_size=c.batch_size,
            per_device_eval_batch_size=max(c.batch_size, 32),
            weight_decay=c.weight_decay,
            lr_scheduler_type="linear",
            warmup_steps=0.1,  # a fraction of the steps (transformers 5)
            eval_strategy=strategy,
            save_strategy=strategy,
            load_best_model_at_end=validate,
            metric_for_best_model="accuracy" if validate else None,
            save_total_limit=1 if validate else None,
            save_only_model=True,
            dataloader_pin_memory=False,
            logging_strategy="epoch" if tracker() != "none" else "no",  # a live tracker gets every epoch
            report_to="none",  # the run's tracker joins in fit (rlnoise.core.tracking)
            seed=seed,
            disable_tqdm=True,
            accelerator_config={"use_configured_state": True},
        )

    def _collator(self):
        return default_data_collator if self.config.mode == "head" else DataCollatorWithPadding(self.tokenizer)

    def fit(
        self, model, train: Dataset, val: Dataset | None, *, seed: int, logconf: bool = False, name: str = "learner"
    ) -> dict:
        """One training phase with a fresh optimizer; early stopping on ``val`` when it is given. ``name``: the
        phase's name in the run's live tracker, if any."""
        if len(train) == 0:
            return {"examples": 0}
        process_state()
        folder = tempfile.mkdtemp(prefix="rlnoise-learner-")
        try:
            validate = val is not None and len(val) > 0
            trainer = SoftLabelTrainer(
                model=model,
                args=self._args(folder, seed, validate),
                train_dataset=train,
                eval_dataset=val if validate else None,
                data_collator=self._collator(),
                compute_metrics=_accuracy if validate else None,
                callbacks=[EarlyStoppingCallback(self.config.patience)] if validate else None,
                logconf_alpha=self.config.logconf_alpha if logconf else 0.0,
            )
            trainer.remove_callback(PrinterCallback)  # one line per epoch and cell would drown the sweep's bar
            attach_tracking(trainer, name)
            trainer.train()
            best = trainer.state.best_metric
            return {
                "examples": len(train),
                "steps": trainer.state.global_step,
                "val_accuracy": None if best is None else float(best),
            }
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @torch.no_grad()
    def predict_proba(self, model, data: Dataset) -> np.ndarray:
        """Probability of class 1 for each row of ``data``."""
        model.eval()
        collate = self._collator()
        out = []
        for start in range(0, len(data), 64):
            batch = collate([data[i] for i in range(start, min(start + 64, len(data)))])
            batch.pop("labels", None)
            out.append(torch.softmax(model(**batch).logits.float(), -1)[:, 1].numpy())
        return np.concatenate(out) if out else np.zeros(0)
