"""Few-shot in-context classification: k gold-labelled exemplars, then the query; the prediction compares the
next-token logits of "1" and "0"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rlnoise.core.data import data_text
from rlnoise.core.features import texts_fingerprint
from rlnoise.core.models import load_model
from rlnoise.core.sentiment import SENTIMENT
from rlnoise.core.stages import cached_stage

INSTRUCTION = data_text("fewshot_instruction.txt")  # question-answering tasks ("is this answer correct?")
SENTIMENT_INSTRUCTION = data_text("fewshot_instruction_sentiment.txt")


def fewshot_prefix(exemplars: list[tuple[str, int]], task: str = "") -> str:
    """The task's instruction (sentiment tasks have their own) and the labelled exemplars that precede a query."""
    instruction = SENTIMENT_INSTRUCTION if task in SENTIMENT else INSTRUCTION
    return instruction + "".join(f"{text}\nLabel: {int(label)}\n\n" for text, label in exemplars)


def fewshot_query(text: str) -> str:
    return f"{text}\nLabel:"


def _label_token(tokenizer, label: str) -> int:
    ids = tokenizer.encode(" " + label, add_special_tokens=False)
    return ids[-1]  # " 1" is one token in BPE vocabularies; the digit is the last piece otherwise


def fewshot_scores(
    model_name: str, prefix: str, texts: list[str], *, batch_size: int = 8, max_length: int = 2048
) -> np.ndarray:
    """``logit("1") - logit("0")`` for each query after ``prefix`` (a causal LM from the registry), cached by the
    model, the prefix and the texts: prompting a test set is a sweep's slowest cell (minutes per seed on a CPU)
    and gives the same scores at every budget and on every rerun."""
    settings = dict(
        model=model_name, prefix=prefix, texts=texts_fingerprint(texts), n=len(texts), max_length=max_length,
        version=1,  # of the query template, the label tokens and left truncation: bump when they change
    )  # fmt: skip

    def build(folder: Path) -> None:
        np.save(
            folder / "scores.npy", _scores(model_name, prefix, texts, batch_size=batch_size, max_length=max_length)
        )

    stage = cached_stage("fewshot_scores", settings, build, scales="units x seeds")  # one prefix per seed
    return np.load(stage / "scores.npy")


def _scores(model_name: str, prefix: str, texts: list[str], *, batch_size: int, max_length: int) -> np.ndarray:
    """The uncached scores."""
    model, tokenizer = load_model(model_name, "causal_lm")
    model.eval()
    return score_queries(model, tokenizer, prefix, texts, batch_size=batch_size, max_length=max_length)


@torch.no_grad()
def score_queries(model, tokenizer, prefix: str, texts: list[str], *, batch_size: int, max_length: int) -> np.ndarray:
    """logit("1") - logit("0") after ``prefix`` and each text's query: batched with right padding, each scored at
    its own last token."""
    tokenizer.padding_side = "right"
    tokenizer.truncation_side = "left"  # a prompt cut to max_length keeps its "Label:" ending
    one, zero = _label_token(tokenizer, "1"), _label_token(tokenizer, "0")
    scores = np.zeros(len(texts), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [prefix + fewshot_query(texts[i]) for i in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        ends = batch["attention_mask"].sum(1, keepdim=True) - 1  # each query's last token, [B, 1]
        # the vocabulary projection at those positions only: [B, 1, V], not [B, S, V] (a fifth of SmolLM2's FLOPs)
        last = model(**batch, logits_to_keep=ends).logits[:, 0].float()
        scores[idx] = (last[:, one] - last[:, zero]).numpy()
    return scores
