"""Pool sampling throughput: rlnoise's sharded, per-unit-seeded `sample_responses` vs raw `model.generate` at the
same batch size and settings, side by side in one process (target: >= 0.9x raw throughput).

    python bench/bench_sampling.py [--policy smollm2-135m-instruct] [--prompts 3] [--n 64] [--tokens 32]

Both paths use the same seeds, so they generate the same tokens and the ratio is pure overhead.
"""

from __future__ import annotations

import argparse

import torch
from bench_ensemble import timed_round_robin

from rlnoise.core.config import SamplingConfig
from rlnoise.core.generation import chat_prompt, sample_responses, sampling_units
from rlnoise.core.models import load_model
from rlnoise.core.tasks import load_prompts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model, tokenizer = load_model(args.policy, "causal_lm")
    model.eval()
    prompts = load_prompts(["openbookqa"], n_train=0, n_eval=args.prompts, seed=0)["eval"]["prompt"]
    prompts = list(prompts)
    config = SamplingConfig(max_new_tokens=args.tokens, generation_batch_size=args.batch)
    units = sampling_units(len(prompts), args.n, args.batch, seed=0)
    tokenizer.padding_side = "left"
    encoded = [
        tokenizer(
            [chat_prompt(tokenizer, p) for p in prompts[u.first : u.last]],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        for u in units
    ]

    @torch.no_grad()
    def raw():
        for unit, batch in zip(units, encoded):
            torch.manual_seed(unit.seed)
            model.generate(
                **batch,
                do_sample=True,
                num_return_sequences=unit.count,
                max_new_tokens=args.tokens,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,
            )

    def ours():
        sample_responses(model, tokenizer, prompts, n=args.n, config=config, seed=0)

    times = timed_round_robin(dict(raw=raw, ours=ours), args.repeats)
    print(f"{args.policy}: {args.prompts} prompts x {args.n} samples, batch {args.batch}, <= {args.tokens} tokens")
    print(f"raw generate: {times['raw']:.2f} s   sample_responses: {times['ours']:.2f} s")
    print(f"throughput ratio (ours / raw): {times['raw'] / times['ours']:.3f}x")


if __name__ == "__main__":
    main()
