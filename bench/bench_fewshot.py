"""Few-shot prompting's cost: scoring rotten_tomatoes queries after a 4-shot prefix with SmolLM2 (batch 8, as the
sweep does), projecting the vocabulary at every position (the earlier path) against each query's last token only
(``logits_to_keep``, the current path), alternated in one process; also checks that both give the same scores.

    .venv/bin/python bench/bench_fewshot.py [--n 48] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rlnoise.core.models import load_model
from rlnoise.core.tasks import binary_task
from rlnoise.elicitation.fewshot import _label_token, fewshot_prefix, fewshot_query, score_queries


@torch.no_grad()
def every_position(model, tokenizer, prefix: str, texts: list[str], batch_size=8, max_length=256) -> np.ndarray:
    """The earlier path: logits over the whole sequence, then each row's last token."""
    one, zero = _label_token(tokenizer, "1"), _label_token(tokenizer, "0")
    scores = np.zeros(len(texts), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        queries = [prefix + fewshot_query(texts[i]) for i in idx]
        batch = tokenizer(queries, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        logits = model(**batch).logits
        last = logits[torch.arange(len(idx)), batch["attention_mask"].sum(1) - 1].float()
        scores[idx] = (last[:, one] - last[:, zero]).numpy()
    return scores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = binary_task("rotten_tomatoes")
    texts, labels = list(data["text"]), list(data["label"])
    prefix = fewshot_prefix([(texts[i], labels[i]) for i in range(4)], "rotten_tomatoes")
    queries = texts[4 : 4 + args.n]
    model, tokenizer = load_model(args.model, "causal_lm")
    model.eval()
    tokenizer.padding_side, tokenizer.truncation_side = "right", "left"  # as score_queries sets them
    times = {"every position": [], "last token": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        full = every_position(model, tokenizer, prefix, queries)
        times["every position"].append(time.perf_counter() - start)
        start = time.perf_counter()
        last = score_queries(model, tokenizer, prefix, queries, batch_size=8, max_length=256)
        times["last token"].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    print(f"{args.n} queries, 4-shot prefix, {args.model}, {torch.get_num_threads()} threads, "
          f"{torch.backends.cpu.get_cpu_capability()}; best of {args.repeats}:")  # fmt: skip
    for k, v in best.items():
        print(f"  {k:15s} {v:6.2f} s")
    print(f"last token / every position: {best['last token'] / best['every position']:.2f}x the time; "
          f"largest score difference {np.abs(full - last).max():.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
