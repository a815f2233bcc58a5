"""Adapter training cost: 10,000 x 384 features (MiniLM width), 2 classes, 30 epochs, batch 256, on this machine's
cores; every adapter against the linear probe run in the same process (target: NMTune <= 30 s).

    .venv/bin/python bench/bench_adapters.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rlnoise.adapters import ADAPTERS, AdapterConfig, train_adapter


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    y = (x[:, :8].sum(1) > 0).astype(int)
    seconds = {}
    for name in ["linear", *[a for a in ADAPTERS if a != "linear"]]:
        start = time.perf_counter()
        train_adapter(x, y, AdapterConfig(adapter=name, epochs=args.epochs, batch_size=256))
        seconds[name] = time.perf_counter() - start
        print(f"{name:13s} {seconds[name]:6.2f} s  ({seconds[name] / seconds['linear']:.1f}x the linear probe)")
    print(f"{args.n} x {args.dim}, {args.epochs} epochs: nmtune {seconds['nmtune']:.1f} s (target <= 30 s)")


if __name__ == "__main__":
    main()
