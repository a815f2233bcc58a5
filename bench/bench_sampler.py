"""Token draw: transformers' `torch.multinomial` vs rlnoise's inverse-CDF sampler (`sampler: inverse_cdf`,
rlnoise/core/sampler.py), side by side in one process; and two one-thread processes vs one two-thread process.

    python bench/bench_sampler.py [--policy smollm2-135m-instruct] [--samples 64] [--tokens 32] [--repeats 3]
    python bench/bench_sampler.py --quick   # smoke run in seconds: tiny-llama, 8 samples of 4 tokens, 1 repeat

1. One decode step's draw over 64 rows x the policy's vocabulary (49,152 for SmolLM2): softmax + multinomial (what
   `generate` does when it samples) vs softmax + float64 cumsum + searchsorted (`inverse_cdf_draw`).
2. The pool path (`sample_responses`, shared prompt cache, one generate call) for one prompt, `--samples` x
   `--tokens`, with each sampler; beside it the saving step 1 predicts (tokens x the draw's saving per step).
3. Per sampler: two processes of one thread each sampling half the samples at once vs one process of two threads
   sampling all of them. Each runs in its own subprocess, loads and warms up, then all start together; the wall
   time of a configuration is its slowest process's.

Ratios are multinomial / inverse_cdf (> 1: the inverse CDF is faster) and one process / two processes (> 1: two
processes are faster). The two samplers draw other random streams from one seed, so samples differ; that their
distributions agree is tests/test_sampler.py's chi-square checks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from bench_ensemble import timed_round_robin

from rlnoise.core.config import SAMPLERS, SamplingConfig
from rlnoise.core.generation import sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.sampler import inverse_cdf_draw
from rlnoise.core.tasks import load_prompts

ROWS = 64  # sequences in one decode step


def one_prompt() -> str:
    return str(load_prompts(["openbookqa"], n_train=0, n_eval=1, seed=0)["eval"]["prompt"][0])


def pool(model, tokenizer, prompt: str, samples: int, tokens: int, sampler: str, seed: int = 0):
    config = SamplingConfig(max_new_tokens=tokens, generation_batch_size=samples, sampler=sampler)
    return sample_responses(model, tokenizer, [prompt], n=samples, config=config, seed=seed, shard=False)


def draw_step(vocab: int, repeats: int) -> dict[str, float]:
    logits = torch.randn(ROWS, vocab, generator=torch.Generator().manual_seed(0)) * 3
    generator = torch.Generator().manual_seed(0)
    paths = dict(
        multinomial=lambda: torch.multinomial(torch.softmax(logits, -1), 1, generator=generator),
        inverse_cdf=lambda: inverse_cdf_draw(logits, generator),
    )
    return timed_round_robin(paths, repeats * 10)


def worker(args) -> None:
    """One process of step 3, for each sampler in turn: warm up, say READY, wait for the start line, sample, print
    RESULT (one process for both samplers: a process start costs more than a quick run's sampling)."""
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.policy, "causal_lm")
    model.eval()
    prompt = one_prompt()
    for sampler in SAMPLERS:
        pool(model, tokenizer, prompt, args.samples, min(args.tokens, 4), sampler)  # warm-up
        print("READY", flush=True)
        sys.stdin.readline()
        start = time.perf_counter()
        for _ in range(args.repeats):
            pool(model, tokenizer, prompt, args.samples, args.tokens, sampler, seed=args.seed)
        print("RESULT " + json.dumps(dict(seconds=(time.perf_counter() - start) / args.repeats)), flush=True)


def processes_wall(args, processes: int, threads: int) -> dict[str, float]:
    """Per sampler, seconds per repeat of ``processes`` concurrent workers of ``threads`` threads that share
    ``args.samples`` (each process its own seed, as sampling units spread over processes)."""
    env = dict(os.environ, RLNOISE_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", "--policy", args.policy, "--threads", str(threads)]
    cmd += ["--samples", str(args.samples // processes), "--tokens", str(args.tokens), "--repeats", str(args.repeats)]
    procs = [
        subprocess.Popen(cmd + ["--seed", str(r)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for r in range(processes)
    ]
    walls = {}
    try:
        for sampler in SAMPLERS:
            for proc in procs:
                if proc.stdout.readline().strip() != "READY":
                    raise SystemExit(f"a {sampler} worker failed (its error is above)")
            for proc in procs:  # all loaded and warm: start together
                proc.stdin.write("go\n")
                proc.stdin.flush()
            seconds = []
            for proc in procs:
                line = proc.stdout.readline()
                if not line.startswith("RESULT "):
                    raise SystemExit(f"a {sampler} worker failed (its error is above)")
                seconds.append(json.loads(line[7:])["seconds"])
            walls[sampler] = max(seconds)
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait()
    return walls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny-llama, 8 samples, 4 tokens, 1 repeat")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.policy, args.samples, args.tokens, args.repeats = "tiny-llama", 8, 4, 1
    if args.worker:
        return worker(args)
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.policy, "causal_lm")
    model.eval()
    vocab = model.config.vocab_size
    print(f"{args.policy}, {torch.get_num_threads()} threads (load {os.getloadavg()[0]:.2f})")

    draw = draw_step(vocab, args.repeats)
    saving = draw["multinomial"] - draw["inverse_cdf"]
    print(f"1. one decode step's draw, {ROWS} rows x {vocab} tokens:")
    print(
        f"   multinomial {draw['multinomial'] * 1e3:.1f} ms, inverse CDF {draw['inverse_cdf'] * 1e3:.1f} ms: ", end=""
    )
    print(f"{draw['multinomial'] / draw['inverse_cdf']:.1f}x")

    prompt = one_prompt()
    paths = {s: (lambda s=s: pool(model, tokenizer, prompt, args.samples, args.tokens, s)) for s in SAMPLERS}
    with torch.no_grad():
        times = timed_round_robin(paths, args.repeats)
    print(f"2. pool of one prompt, {args.samples} samples x <= {args.tokens} tokens (shared prompt cache):")
    print(f"   multinomial {times['multinomial']:.2f} s, inverse CDF {times['inverse_cdf']:.2f} s: ", end="")
    saved, predicted = times["multinomial"] - times["inverse_cdf"], args.tokens * saving * args.samples / ROWS
    print(f"{times['multinomial'] / times['inverse_cdf']:.2f}x; saved {saved:.2f} s (step 1 predicts {predicted:.2f})")

    half = args.samples // 2
    print(f"3. two processes x 1 thread ({half} samples each) vs one process x 2 threads ({args.samples} samples):")
    two = processes_wall(args, processes=2, threads=1)
    one = processes_wall(args, processes=1, threads=2)
    for sampler in SAMPLERS:
        print(f"   {sampler}: one process {one[sampler]:.2f} s, two processes {two[sampler]:.2f} s: ", end="")
        print(f"{one[sampler] / two[sampler]:.2f}x")


if __name__ == "__main__":
    main()
