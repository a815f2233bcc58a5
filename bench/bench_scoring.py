"""Scoring and embedding passes: batches formed by text length (`rlnoise.core.models.forward_by_length`, used by the
gold encoder, the reward ensembles and feature extraction) vs batches in the texts' own order, side by side in one
process, on MiniLM over prompts of mixed lengths; then the sorted path at `dtype: bfloat16`, for MiniLM embeddings
and for SmolLM2 last-token features (`rlnoise.core.features.compute_features`). Prints the speed-ups, the padding
each way and the largest difference from the float32 result (the distribution check of a scoring path: for
embeddings, the largest change of a cosine similarity, which is what the gold's relevance and agreement terms use).

    python bench/bench_scoring.py [--texts 1000] [--batch 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from bench_ensemble import timed_round_robin

from rlnoise.core.data import data_yaml
from rlnoise.core.features import compute_features
from rlnoise.core.models import load_model
from rlnoise.core.tasks import load_prompts
from rlnoise.overoptimization.gold import SentenceEncoder


def in_given_order(encoder: SentenceEncoder, texts: list[str], batch: int) -> tuple[torch.Tensor, float]:
    """The baseline: the same embedding over batches in the texts' order; returns it and its padding share."""
    out, real, total = [], 0, 0
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            enc = encoder.tokenizer(
                texts[start : start + batch], padding=True, truncation=True, max_length=encoder.max_length,
                return_tensors="pt",
            )  # fmt: skip
            hidden = encoder.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0), dim=-1))
            real, total = real + int(enc["attention_mask"].sum()), total + enc["attention_mask"].numel()
    return torch.cat(out), total / real


def padded_tokens_sorted(encoder: SentenceEncoder, texts: list[str], batch: int) -> float:
    lengths = sorted(min(len(encoder.tokenizer(t)["input_ids"]), encoder.max_length) for t in texts)
    total = sum(max(lengths[i : i + batch]) * len(lengths[i : i + batch]) for i in range(0, len(lengths), batch))
    return total / sum(lengths)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sources = list(data_yaml("prompt_sources.yaml"))
    texts = list(load_prompts(sources, n_train=args.texts, n_eval=1, seed=0)["train"]["prompt"])[: args.texts]
    encoder = SentenceEncoder("minilm-l6", batch_size=args.batch)
    sorted_out = encoder.encode(texts)
    given_out, given_padding = in_given_order(encoder, texts, args.batch)
    times = timed_round_robin(
        dict(given=lambda: in_given_order(encoder, texts, args.batch), sorted=lambda: encoder.encode(texts)),
        args.repeats,
    )
    print(f"MiniLM over {len(texts)} prompts ({', '.join(sources)}), batch {args.batch}, {args.threads} threads,")
    print(f"load {os.getloadavg()[0]:.2f}: padded / real tokens {given_padding:.2f} in given order, ", end="")
    print(f"{padded_tokens_sorted(encoder, texts, args.batch):.2f} sorted by length")
    print(f"  given order {times['given']:.2f} s   by length {times['sorted']:.2f} s   ", end="")
    difference = float((sorted_out - given_out).abs().max())
    print(f"speed-up {times['given'] / times['sorted']:.2f}x   max |difference| {difference:.1e}")
    bf16 = SentenceEncoder("minilm-l6", batch_size=args.batch, dtype="bfloat16")
    times = timed_round_robin(dict(f32=lambda: encoder.encode(texts), bf16=lambda: bf16.encode(texts)), args.repeats)
    low = bf16.encode(texts)
    cosine_change = float((low @ low.T - sorted_out @ sorted_out.T).abs().max())
    print(f"  by length, bfloat16 {times['bf16']:.2f} s: {times['f32'] / times['bf16']:.2f}x float32; ", end="")
    print(f"largest change of a cosine similarity {cosine_change:.1e}")
    features(texts[:256], args.repeats)


def features(texts: list[str], repeats: int) -> None:
    """SmolLM2 last-token features, float32 vs bfloat16, with each text's relative change |b - f| / |f|."""
    model, tokenizer = load_model("smollm2-135m-instruct", "encoder")
    run = {
        dtype: lambda dtype=dtype: compute_features(model, tokenizer, texts, pooling="last", desc=None, dtype=dtype)
        for dtype in ("float32", "bfloat16")
    }
    f32, b16 = run["float32"](), run["bfloat16"]()
    times = timed_round_robin(run, repeats)
    change = np.linalg.norm(b16 - f32, axis=1) / np.linalg.norm(f32, axis=1)
    print(f"SmolLM2 last-token features of {len(texts)} prompts: float32 {times['float32']:.2f} s, bfloat16 ", end="")
    print(f"{times['bfloat16']:.2f} s ({times['float32'] / times['bfloat16']:.2f}x);")
    print(f"  relative change per text: median {np.median(change):.1e}, max {change.max():.1e}")


if __name__ == "__main__":
    main()
