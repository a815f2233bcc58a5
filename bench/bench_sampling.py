"""Sampling throughput: rlnoise's `sample_responses` (each prompt prefilled once, its KV cache shared by its samples)
vs the same call with `share_prompt=False` (transformers' own `generate`, which recomputes the prompt for every
sample), side by side in one process, for a best-of-n pool (64 samples per prompt) and for preference pairs (2 per
prompt). Targets: pool >= 2.5x, pairs >= 1.25x.

    python bench/bench_sampling.py [--policy smollm2-135m-instruct] [--tokens 32] [--repeats 2]

Both paths use the same per-unit seeds; the bench prints the share of samples that come out identical (the
distribution check: the shared path must not change what is sampled) and the machine's load.
"""

from __future__ import annotations

import argparse
import os

import torch
from bench_ensemble import timed_round_robin

from rlnoise.core.config import SamplingConfig
from rlnoise.core.generation import sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.tasks import load_prompts


def compare(model, tokenizer, prompts, n, batch, tokens, repeats) -> None:
    config = SamplingConfig(max_new_tokens=tokens, generation_batch_size=batch)
    with torch.no_grad():
        ours = sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0)
        raw = sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0, share_prompt=False)
    same = sum(a == b for pa, pb in zip(ours, raw) for a, b in zip(pa, pb))
    times = timed_round_robin(
        dict(
            raw=lambda: sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0, share_prompt=False),
            ours=lambda: sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0),
        ),
        repeats,
    )
    print(f"{len(prompts)} prompts x {n} samples, batch {batch}, <= {tokens} tokens (load {os.getloadavg()[0]:.2f})")
    print(f"  unshared (transformers) {times['raw']:.2f} s   shared {times['ours']:.2f} s   ", end="")
    print(f"speed-up {times['raw'] / times['ours']:.2f}x   identical samples {same} of {len(prompts) * n}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.policy, "causal_lm")
    model.eval()
    prompts = list(load_prompts(["openbookqa"], n_train=0, n_eval=16, seed=0)["eval"]["prompt"])
    print(f"{args.policy}, {torch.get_num_threads()} threads")
    compare(model, tokenizer, prompts[:3], n=64, batch=64, tokens=args.tokens, repeats=args.repeats)  # a pool
    compare(model, tokenizer, prompts, n=2, batch=32, tokens=args.tokens, repeats=args.repeats)  # RM pairs


if __name__ == "__main__":
    main()
