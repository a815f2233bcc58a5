"""Run under `accelerate launch --num_processes 2`: each process makes its own rollouts, gradients are all-reduced,
so after PPO steps every process holds the same weights. Prints one JSON line per process."""

import json
import os
import sys

import torch
import torch.distributed as dist

from rlnoise.core.config import SamplingConfig
from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ppo import PPOConfig, PPOTrainer

state = process_state()
model, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
config = PPOConfig(rollout_batch_size=4, num_minibatches=2, ppo_epochs=2, ppo_learning_rate=1e-2, policy_lora_r=4)
reward = lambda prompts, responses: torch.tensor([r.count("e") / 3.0 for r in responses])  # noqa: E731
trainer = PPOTrainer(model, tokenizer, reward, config, SamplingConfig(max_new_tokens=5))
prompts = [f"Question {state.process_index}-{i}?" for i in range(4)]  # each process its own prompts
texts = []
for _ in range(2):
    texts.append(trainer.rollout(prompts, seed=trainer.step * 10 + state.process_index)["texts"])
    trainer.train_step(prompts)
checksum = sum(float(p.double().sum()) for p in trainer.unwrapped.parameters() if p.requires_grad)
gathered = [None] * state.num_processes
dist.all_gather_object(gathered, dict(checksum=checksum, texts=texts))
if state.is_main_process:
    print("RESULT " + json.dumps(dict(processes=state.num_processes, results=gathered)))
dist.barrier()
dist.destroy_process_group()
# Gloo's worker threads can still abort the process during interpreter finalization even after the group is
# destroyed ("terminate called without an active exception", pytorch/pytorch#190489); everything this check
# reports is printed, so leave without finalization.
sys.stdout.flush()
os._exit(0)
