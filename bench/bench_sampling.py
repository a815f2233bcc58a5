"""Sampling throughput: rlnoise's `sample_responses` (each prompt prefilled once, its KV cache shared by its samples)
vs the same call with `share_prompt=False` (transformers' own `generate`, which recomputes the prompt for every
sample), and the default path against transformers' plain sampling (unshared, `sampler: multinomial`), side by
side in one process, for a best-of-n pool (64 samples per prompt) and for preference pairs (2 per
prompt); and the shared path with `dtype: bfloat16`. Targets: pool >= 2.5x, pairs >= 1.25x.

    python bench/bench_sampling.py [--policy smollm2-135m-instruct] [--tokens 32] [--repeats 2]

Distribution checks beside every speed-up: float32 shared vs unshared use the same per-unit seeds, so the bench
prints the share of identical samples; bfloat16 gets `rlnoise.core.precision.next_token_fidelity` (per-token KL and
greedy agreement against float32 on the float32 samples). A matmul probe gives the machine's float32 and bfloat16
limits and the share of the float32 limit each sampling path reaches.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch
from bench_ensemble import timed_round_robin

from rlnoise.core.config import SamplingConfig
from rlnoise.core.generation import chat_prompt, positions_from_mask, sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.precision import next_token_fidelity
from rlnoise.core.tasks import load_prompts


def matmul_gflops(dtype: torch.dtype, size: int = 1024, repeats: int = 20) -> float:
    """The machine's matrix-product rate at ``dtype`` (best of ``repeats`` square products)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def sampling_gflop(model, tokenizer, prompts, responses, shared: bool) -> float:
    """Forward FLOPs of sampling (2 x parameters per processed token; attention left out): the prompt once per
    sample unshared, once per prompt shared, plus every response token."""
    params = sum(p.numel() for p in model.parameters())
    prompt_tokens = [len(tokenizer(chat_prompt(tokenizer, p), add_special_tokens=False)["input_ids"]) for p in prompts]
    response_tokens = sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for rs in responses for r in rs)
    n = len(responses[0])
    processed = sum(prompt_tokens) * (1 if shared else n) + response_tokens
    return 2 * params * processed / 1e9


def fidelity(model, tokenizer, prompts, responses) -> str:
    texts = [chat_prompt(tokenizer, p) + r for p, rs in zip(prompts, responses) for r in rs[:8]]
    tokenizer.padding_side = "left"
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    inputs = dict(enc, position_ids=positions_from_mask(enc["attention_mask"]))
    return next_token_fidelity(model, inputs, "bfloat16").summary()


def compare(model, tokenizer, prompts, n, batch, tokens, repeats, limit, with_bf16=True) -> None:
    config = SamplingConfig(max_new_tokens=tokens, generation_batch_size=batch)
    bf16 = replace(config, dtype="bfloat16")
    plain = replace(config, sampler="multinomial")  # transformers' own draw, as plain generate samples
    paths = dict(
        plain=lambda: sample_responses(model, tokenizer, prompts, n=n, config=plain, seed=0, share_prompt=False),
        raw=lambda: sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0, share_prompt=False),
        ours=lambda: sample_responses(model, tokenizer, prompts, n=n, config=config, seed=0),
    )
    if with_bf16:
        paths["bf16"] = lambda: sample_responses(model, tokenizer, prompts, n=n, config=bf16, seed=0)
    with torch.no_grad():
        samples = {name: fn() for name, fn in paths.items()}
    same = sum(a == b for pa, pb in zip(samples["ours"], samples["raw"]) for a, b in zip(pa, pb))
    times = timed_round_robin(paths, repeats)
    work = {shared: sampling_gflop(model, tokenizer, prompts, samples["ours"], shared) for shared in (False, True)}
    share = {k: work[k not in ("raw", "plain")] / times[k] / limit for k in times}  # share of the float32 limit
    print(f"{len(prompts)} prompts x {n} samples, batch {batch}, <= {tokens} tokens (load {os.getloadavg()[0]:.2f})")
    print(f"  unshared float32 (transformers) {times['raw']:.2f} s ({share['raw']:.2f} of the float32 limit)")
    print(f"  shared float32 {times['ours']:.2f} s ({share['ours']:.2f}): ", end="")
    print(f"speed-up {times['raw'] / times['ours']:.2f}x, identical samples {same} of {len(prompts) * n}")
    if with_bf16:
        print(f"  shared bfloat16 {times['bf16']:.2f} s: speed-up {times['raw'] / times['bf16']:.2f}x")
    print(
        f"  the default path ({config.sampler}, shared prompt) vs transformers' plain generate (multinomial, "
        f"unshared, {times['plain']:.2f} s): {times['plain'] / times['ours']:.2f}x (issue 27's target: >= 2.0x)"
    )
    if with_bf16:
        print(f"    {fidelity(model, tokenizer, prompts, samples['ours'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    limit, bf16_limit = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    print(f"matmul limit: float32 {limit:.0f} GFLOP/s, bfloat16 {bf16_limit:.0f} GFLOP/s")
    # without native bfloat16 (AVX2) its matmuls run at a few GFLOP/s: its row would take an hour and show nothing
    with_bf16 = bf16_limit >= limit / 4
    if not with_bf16:
        print("bfloat16 skipped: this CPU has no native bfloat16 matmul (under a quarter of the float32 rate)")
    model, tokenizer = load_model(args.policy, "causal_lm")
    model.eval()
    prompts = list(load_prompts(["openbookqa"], n_train=0, n_eval=16, seed=0)["eval"]["prompt"])
    print(f"{args.policy}, {torch.get_num_threads()} threads")
    common = dict(tokens=args.tokens, repeats=args.repeats, limit=limit, with_bf16=with_bf16)
    compare(model, tokenizer, prompts[:3], n=64, batch=64, **common)
    compare(model, tokenizer, prompts, n=2, batch=32, **common)


if __name__ == "__main__":
    main()
