"""Scoring cost of a K-member reward ensemble relative to one reward model, measured side by side in one process.

Target (foundation issue): multihead and lora <= 1.3x one reward model; independent about K x.

    python bench/bench_ensemble.py [--backbone minilm-l6] [--k 5] [--batch 32] [--repeats 5]

Scores do not depend on training, so members are untrained (LoRA B matrices are randomised so adapters do work).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rlnoise.core.models import load_model
from rlnoise.overoptimization.ensemble import EnsembleConfig, RewardEnsemble, lora_ensemble_model


def lora_ensemble(backbone: str, k: int, lora_layers: int) -> RewardEnsemble:
    base, tokenizer = load_model(backbone, "reward_model")
    config = EnsembleConfig(kind="lora", k=k, backbone=backbone, lora_layers=lora_layers)
    model = lora_ensemble_model(base, config, init_lora_weights=False)  # random B: adapters change the scores
    return RewardEnsemble("lora", [model], tokenizer, k, config)


def timed_round_robin(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, interleaving them so machine drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="minilm-l6")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--words", type=int, default=60, help="words per scored text")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lora-layers", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.manual_seed(0)
    texts = [" ".join(f"word{(i * 7 + j) % 97}" for j in range(args.words)) for i in range(args.batch)]

    single, tokenizer = load_model(args.backbone, "reward_model")
    baseline = RewardEnsemble("independent", [single], tokenizer, 1)
    variants = {
        "independent": RewardEnsemble(
            "independent",
            [load_model(args.backbone, "reward_model", seed=i)[0] for i in range(args.k)],
            tokenizer,
            args.k,
        ),
        "multihead": RewardEnsemble(
            "multihead", [load_model(args.backbone, "reward_model", num_labels=args.k)[0]], tokenizer, args.k
        ),
    }
    n_layers = single.config.num_hidden_layers
    for lora_layers in args.lora_layers:
        label = "lora (all layers)" if lora_layers == 0 else f"lora (top {lora_layers} of {n_layers} layers)"
        variants[label] = lora_ensemble(args.backbone, args.k, lora_layers)

    variants = {"one reward model": baseline, **variants}
    fns = {name: (lambda e=e: e.score_texts(texts, batch_size=args.batch)) for name, e in variants.items()}
    with torch.inference_mode():
        seconds = timed_round_robin(fns, args.repeats)
    tokens = len(tokenizer(texts[0])["input_ids"])
    print(f"backbone={args.backbone} K={args.k} batch={args.batch}x{tokens} tokens threads={torch.get_num_threads()}")
    for name, t in seconds.items():
        print(f"{name:32s} {t * 1e3:8.1f} ms   {t / seconds['one reward model']:.2f}x")


if __name__ == "__main__":
    main()
