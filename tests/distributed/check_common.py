"""What the sharding check scripts share: the batch, the PPO loss they train, greedy generation settings, and the
way a check reports and leaves."""

import json
import os
import sys

import torch.distributed as dist

TEXTS = ["The cat sat on the mat.", "A dog ran far away today.", "Birds sing at dawn.", "Rain fell all night long."]


def value_loss(model, b):
    """A PPO-shaped loss on a `PolicyWithValue`: the policy's log-probs and the value head, both with gradients."""
    logprobs, values = model(b["input_ids"], b["attention_mask"], n_response=3, temperature=1.0)
    return -logprobs.mean() + values.pow(2).mean()


def greedy(tokenizer) -> tuple[dict, dict]:
    """Two prompts and greedy settings with a fixed number of steps (every process decodes in step)."""
    prompts = tokenizer(["The cat", "Birds"], return_tensors="pt", padding=True, padding_side="left")
    return prompts, dict(max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)


def finish(out: dict, rank: int) -> None:
    """Rank 0 prints the RESULT line; every process leaves the group and exits."""
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)  # gloo's threads can abort interpreter finalization (see ppo_ddp_check.py)
