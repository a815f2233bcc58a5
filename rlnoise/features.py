"""Frozen features from any model in the registry: batched, length-sorted, with a progress bar, cached on disk.

Used by the elicitation study (weak labeler, frozen-feature learners) and by the black-box adapter study.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from tqdm.auto import tqdm

from rlnoise.config import check_choice, check_positive
from rlnoise.models import load_model
from rlnoise.runs import cached_stage

POOLINGS = ("mean", "last")


def texts_fingerprint(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]


@torch.no_grad()
def compute_features(
    model,
    tokenizer,
    texts: list[str],
    *,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 256,
    desc: str | None = "features",
) -> np.ndarray:
    """``[len(texts), hidden]`` float32 features from the last hidden layer of ``model`` (a base model).

    ``mean`` averages the non-padding positions; ``last`` takes the last non-padding token (the natural summary
    of a causal LM). Texts are batched in order of length, which cuts padding work by several times.
    """
    check_choice("pooling", pooling, POOLINGS)
    check_positive("batch_size", batch_size, integer=True)
    model.eval()
    tokenizer.padding_side = "right"
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, disable=desc is None):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        hidden = model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"]
        if pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        else:
            pooled = hidden[torch.arange(len(idx)), mask.sum(1) - 1]
        out[idx] = pooled.numpy()
    return out


def extract_features(
    model_name: str, texts: list[str], *, pooling: str = "mean", batch_size: int = 32, max_length: int = 256
) -> np.ndarray:
    """Features of ``texts`` from the registry model ``model_name``, cached by (model, pooling, length, texts).

    A rerun with the same inputs loads them from ``$RLNOISE_CACHE/stages/features-*`` instead of running the model.
    """
    check_choice("pooling", pooling, POOLINGS)
    key = dict(model=model_name, pooling=pooling, max_length=max_length, texts=texts_fingerprint(texts), n=len(texts))

    def build(folder):
        model, tokenizer = load_model(model_name, "encoder")
        features = compute_features(
            model,
            tokenizer,
            texts,
            pooling=pooling,
            batch_size=batch_size,
            max_length=max_length,
            desc=f"features ({model_name}, {pooling})",
        )
        np.save(folder / "features.npy", features)

    return np.load(cached_stage("features", key, build) / "features.npy")
