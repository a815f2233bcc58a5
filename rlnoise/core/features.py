"""Frozen features from any model in the registry: batched, length-sorted, with a progress bar, cached on disk.

Used by the elicitation study (weak labeler, frozen-feature learners) and by the black-box adapter study.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import partial
from pathlib import Path

import numpy as np
import torch

from rlnoise.core.config import DTYPES, POOLINGS, check_choice, check_positive
from rlnoise.core.models import forward_by_length, is_causal, load_model
from rlnoise.core.precision import precision
from rlnoise.core.stages import cached_stage


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
    dtype: str = "float32",
    prefix: str = "",
) -> np.ndarray:
    """``[len(texts), hidden]`` float32 features from the last hidden layer of ``model`` (a base model).

    ``mean`` averages the non-padding positions; ``last`` takes the last non-padding token (the natural summary
    of a causal LM). Texts are batched in order of length, which cuts padding work by several times. The model
    runs at ``dtype`` (bfloat16: autocast; the features are returned in float32 either way).

    ``prefix`` (a causal LM only): a text every input continues, e.g. few-shot exemplars. It runs once; its key /
    value cache is reused by every batch, so a long shared prefix costs about nothing per text. Its tokens are
    context only: pooling and ``max_length`` cover each text's own tokens.
    """
    check_choice("pooling", pooling, POOLINGS)
    check_positive("batch_size", batch_size, integer=True)
    model.eval()
    tokenizer.padding_side = "right"
    prefix_cache, n_prefix = None, 0
    if prefix:
        if not is_causal(model.config.model_type):
            raise ValueError(
                f"a feature prefix needs a causal LM (its key/value cache is reused); {model.config.model_type!r} "
                "is a bidirectional encoder"
            )
        ids = tokenizer(prefix, return_tensors="pt")
        n_prefix = ids["input_ids"].shape[1]
        with precision(dtype):
            prefix_cache = model(**ids, use_cache=True).cache
        tokenizer = partial(tokenizer, add_special_tokens=False)  # a text continues the prefix

    def pool(batch):
        mask = batch["attention_mask"]
        if prefix_cache is None:
            hidden = model(**batch).last_hidden_state.float()
        else:
            cache = copy.deepcopy(prefix_cache)  # the forward pass appends to the cache it is given
            cache.batch_repeat_interleave(len(mask))
            context = torch.cat([mask.new_ones(len(mask), n_prefix), mask], 1)
            hidden = model(
                input_ids=batch["input_ids"], attention_mask=context, cache=cache, use_cache=True
            ).last_hidden_state.float()
        if pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return hidden[torch.arange(len(mask)), mask.sum(1) - 1]

    out = forward_by_length(pool, tokenizer, texts, batch_size, max_length, desc=desc, dtype=dtype)
    return out.numpy() if out is not None else np.zeros((0, model.config.hidden_size), dtype=np.float32)


def extract_features(
    model_name: str,
    texts: list[str],
    *,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 256,
    dtype: str = "float32",
    prefix: str = "",
) -> np.ndarray:
    """Features of ``texts`` from the registry model ``model_name``, cached by (model, pooling, length, dtype,
    prefix, texts). ``prefix``: context before every text (:func:`compute_features`).

    A rerun with the same inputs loads them from ``$RLNOISE_CACHE/stages/features-*`` instead of running the model.
    """
    check_choice("pooling", pooling, POOLINGS)
    check_choice("dtype", dtype, DTYPES)
    key = dict(model=model_name, pooling=pooling, max_length=max_length, texts=texts_fingerprint(texts), n=len(texts))
    if dtype != "float32":
        key["dtype"] = dtype  # float32 features keep the keys they had before dtype existed
    if prefix:
        key["prefix"] = prefix

    def build(folder):
        model, tokenizer = load_model(model_name, "encoder")
        features = compute_features(
            model,
            tokenizer,
            texts,
            pooling=pooling,
            batch_size=batch_size,
            max_length=max_length,
            desc=f"features ({model_name}, {pooling}, {dtype})",
            dtype=dtype,
            prefix=prefix,
        )
        np.save(folder / "features.npy", features)

    return np.load(cached_stage("features", key, build) / "features.npy")


def load_features(path: str | Path, column: str | None = None) -> np.ndarray:
    """Precomputed embeddings (e.g. bought from an API) from a ``.npy`` file or a parquet file.

    Parquet: ``column`` names a list-valued column (one vector per row); without it, a column named ``embedding``
    is used if present, otherwise every numeric column (one dimension each).
    """
    path = Path(path)
    if path.suffix == ".npy":
        features = np.load(path)
    elif path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        column = column or ("embedding" if "embedding" in frame.columns else None)
        if column is not None:
            if column not in frame.columns:
                raise ValueError(f"column {column!r} is not in {path} (columns: {list(frame.columns)})")
            features = np.stack([np.asarray(v, dtype=np.float32) for v in frame[column]])
        else:
            features = frame.select_dtypes("number").to_numpy()
    else:
        raise ValueError(f"features file must end in .npy or .parquet, got {path.name!r}")
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"features in {path} must form a non-empty [examples, dims] matrix, got {features.shape}")
    return features
