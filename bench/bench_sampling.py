"""Sampling throughput: rlnoise's `sample_responses` (each prompt prefilled once, its KV cache shared by its samples)
vs raw `model.generate` (which recomputes the prompt for every sample), side by side in one process, for a best-of-n
pool (64 samples per prompt) and for preference pairs (2 per prompt). Targets: pool >= 2.5x, pairs >= 1.25x.

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
from rlnoise.core.generation import chat_prompt, sample_responses, sampling_units
from rlnoise.core.models import load_model
from rlnoise.core.tasks import load_prompts


def raw_generate(model, tokenizer, prompts, n, config, seed=0) -> list[list[str]]:
    """transformers' own path at the same units, seeds and settings (the baseline)."""
    responses: list[list[str]] = [[] for _ in prompts]
    for unit in sampling_units(len(prompts), n, config.generation_batch_size, seed):
        batch = tokenizer(
            [chat_prompt(tokenizer, p) for p in prompts[unit.first : unit.last]],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        torch.manual_seed(unit.seed)
        out = model.generate(
            **batch,
            do_sample=True,
            num_return_sequences=unit.count,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_k=config.top_k,
            top_p=config.top_p,
            pad_token_id=tokenizer.pad_token_id,
            use_cache=True,
        )
        texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        for i in range(unit.last - unit.first):
            responses[unit.first + i] += [t.strip() for t in texts[i * unit.count : (i + 1) * unit.count]]
    return responses


def compare(model, tokenizer, prompts, n, batch, tokens, repeats) -> None:
    config = SamplingConfig(max_new_tokens=tokens, generation_batch_size=batch)
    with torch.no_grad():
        ours = sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0)
        raw = raw_generate(model, tokenizer, prompts, n, config)
    same = sum(a == b for pa, pb in zip(ours, raw) for a, b in zip(pa, pb))
    times = timed_round_robin(
        dict(
            raw=lambda: raw_generate(model, tokenizer, prompts, n, config),
            ours=lambda: sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0),
        ),
        repeats,
    )
    print(f"{len(prompts)} prompts x {n} samples, batch {batch}, <= {tokens} tokens (load {os.getloadavg()[0]:.2f})")
    print(f"  raw generate {times['raw']:.2f} s   sample_responses {times['ours']:.2f} s   ", end="")
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
    tokenizer.padding_side = "left"
    prompts = list(load_prompts(["openbookqa"], n_train=0, n_eval=16, seed=0)["eval"]["prompt"])
    print(f"{args.policy}, {torch.get_num_threads()} threads")
    compare(model, tokenizer, prompts[:3], n=64, batch=64, tokens=args.tokens, repeats=args.repeats)  # a pool
    compare(model, tokenizer, prompts, n=2, batch=32, tokens=args.tokens, repeats=args.repeats)  # RM pairs


if __name__ == "__main__":
    main()
