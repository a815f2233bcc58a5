"""Online RL cost: rlnoise's PPO step vs trl's GRPOTrainer step, and the memory of a K=5 ensemble reward.

Both trainers use the same LoRA policy, prompts per step, completions per prompt and response length, one
optimisation pass per batch (PPO: 1 epoch, 1 minibatch; GRPO: num_iterations 1) and a cheap length reward, so the
ratio is the trainers' own cost. Targets (issue 4): PPO step <= 1.25x GRPO step; peak memory of PPO with a K=5
LoRA-ensemble reward <= 1.5x PPO with the cheap reward. Each configuration runs in its own subprocess, so peak
RSS is its own.

    python bench/bench_rl.py [--policy smollm2-135m-instruct] [--prompts 2] [--generations 4] [--tokens 32]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch


def length_reward(prompts, responses):
    return torch.tensor([len(r.split()) / 10 for r in responses], dtype=torch.float32)


def prompts_for(n: int) -> list[str]:
    from rlnoise.core.tasks import load_prompts

    return list(load_prompts(["openbookqa"], n_train=0, n_eval=n, seed=0)["eval"]["prompt"])


def run_ppo(args, ensemble: bool) -> dict:
    from rlnoise.core.config import SamplingConfig
    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.ppo import PPOConfig, PPOTrainer

    policy, tokenizer = load_model(args.policy, "causal_lm")
    reward = length_reward
    if ensemble:
        from rlnoise.overoptimization.ensemble import EnsembleConfig, RewardEnsemble, lora_ensemble_model
        from rlnoise.overoptimization.reward import EnsembleReward

        base, rm_tokenizer = load_model("minilm-l6", "reward_model")
        config = EnsembleConfig(kind="lora", k=5, backbone="minilm-l6", lora_layers=1)
        members = RewardEnsemble("lora", [lora_ensemble_model(base, config)], rm_tokenizer, 5, config)
        reward = EnsembleReward(members, "uwo", 0.5)
    batch = args.prompts * args.generations
    config = PPOConfig(rollout_batch_size=batch, ppo_epochs=1, num_minibatches=1, policy_lora_r=16)
    trainer = PPOTrainer(policy, tokenizer, reward, config, SamplingConfig(max_new_tokens=args.tokens))
    prompts = [p for p in prompts_for(args.prompts) for _ in range(args.generations)]
    times = []
    for _ in range(args.steps + 1):
        start = time.perf_counter()
        trainer.train_step(prompts)
        times.append(time.perf_counter() - start)
    return dict(step=statistics.median(times[1:]))


def run_grpo(args) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from rlnoise.core.models import load_model

    policy, tokenizer = load_model(args.policy, "causal_lm")
    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in prompts_for(args.prompts)] * 50})
    config = GRPOConfig(
        output_dir="/tmp/bench_grpo",
        per_device_train_batch_size=args.prompts * args.generations,
        num_generations=args.generations,
        max_completion_length=args.tokens,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        max_steps=args.steps + 1,
        learning_rate=1e-4,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        bf16=False,
    )

    def reward(prompts, completions, **kwargs):
        return length_reward(None, [c[0]["content"] for c in completions]).tolist()

    peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear")
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=[reward],
        args=config,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.train()
    times = [float(log["step_time"]) for log in trainer.state.log_history if "step_time" in log]
    return dict(step=statistics.median(times[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--mode", choices=["ppo", "ppo_ensemble", "grpo"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        out = run_grpo(args) if args.mode == "grpo" else run_ppo(args, ensemble=args.mode == "ppo_ensemble")
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps(out))
        return
    results = {}
    for mode in ("ppo", "grpo", "ppo_ensemble"):
        cmd = [sys.executable, __file__, "--mode", mode] + sys.argv[1:]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(line[0][7:])
    ppo, grpo, ens = results["ppo"], results["grpo"], results["ppo_ensemble"]
    print(
        f"{args.policy}: {args.prompts} prompts x {args.generations} completions, <= {args.tokens} tokens, LoRA r=16"
    )
    ratio = ppo["step"] / grpo["step"]
    print(f"PPO step {ppo['step']:.2f} s, GRPO step {grpo['step']:.2f} s -> PPO / GRPO = {ratio:.2f}x")
    print(
        f"peak RSS: PPO {ppo['peak_rss_mb']:.0f} MB, PPO + K=5 LoRA ensemble reward {ens['peak_rss_mb']:.0f} MB "
        f"-> {ens['peak_rss_mb'] / ppo['peak_rss_mb']:.2f}x; GRPO {grpo['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
