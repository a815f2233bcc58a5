"""FSDP2 on the CPU: run under `torchrun --nproc_per_node 2` (gloo). accelerate hands FSDP only to accelerator
devices, so the models are sharded with torch's own `fully_shard`, the way accelerate's FSDP2 plugin shards them on
GPUs (each decoder layer, then the root). Every process also holds an unsharded copy of each model with the same
initial weights, which takes the same steps on the whole batch; rank 0 prints one JSON line comparing them:

- the PPO policy with its value head (`PolicyWithValue`, shared trunk) and the multi-head reward ensemble (a
  sequence classifier with K = 3 heads): SGD steps on each process's half of a batch (FSDP2 averages the
  gradients) against the same steps on the whole batch, unsharded;
- a LoRA policy: the adapter weights (peft's state-dict view) after a step, gathered to a full state dict;
- sharded checkpoints: `torch.distributed.checkpoint` saves each process's shards, a fresh sharded model loads
  them, and its weights equal the saved ones bit for bit;
- generation: greedy `generate` from the sharded policy (every process decodes in step, since each forward
  all-gathers the layers) against the unsharded copy. PPO samples from, and scores the reference with, the policy
  inside `PolicyWithValue`; sharded as accelerate's transformer-layer wrap would (the layers, then the root), the
  policy's own embeddings and head stay sharded outside the root's forward, and generation fails ("mixed
  torch.Tensor and DTensor"). The check records that failure and shards the policy as its own unit, which works.
"""

import copy
import tempfile

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from check_common import TEXTS, finish, greedy, value_loss
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ppo import PolicyWithValue


def shard(model, layers) -> None:
    for layer in layers:
        fully_shard(layer)
    fully_shard(model)


def full_state(model) -> dict[str, torch.Tensor]:
    """Every parameter gathered to a full tensor (the state dict a single-file save would write)."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=False)
    return {k: v.detach().clone() for k, v in get_model_state_dict(model, options=options).items()}


def largest_difference(a: dict, b: dict) -> float:
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def sgd_steps(sharded, reference, loss_fn, batch, rank, world, steps=2, lr=0.5) -> None:
    """The same SGD steps: the sharded model on this process's half of ``batch``, the reference on all of it (the
    mean of the halves' losses, so its gradient is the average FSDP2 forms)."""
    halves = [{k: v[r::world] for k, v in batch.items()} for r in range(world)]
    opt, ref_opt = torch.optim.SGD(sharded.parameters(), lr=lr), torch.optim.SGD(reference.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad(), ref_opt.zero_grad()
        loss_fn(sharded, halves[rank]).backward()
        (sum(loss_fn(reference, h) for h in halves) / world).backward()
        opt.step(), ref_opt.step()


def lm_loss(model, batch):
    return model(**batch, labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)).loss


def main():
    state = process_state()
    rank, world = state.process_index, state.num_processes
    assert world == 2, "run under torchrun --nproc_per_node 2"
    out = {"world": world}
    policy, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
    batch = dict(tokenizer(TEXTS, return_tensors="pt", padding=True))

    # the PPO policy with its value head on the shared trunk; the policy is its own unit (see the docstring)
    value_model = PolicyWithValue(policy)
    reference = copy.deepcopy(value_model)
    initial = {k: v.clone() for k, v in reference.state_dict().items()}
    shard(value_model, [*value_model.policy.model.layers, value_model.policy])
    out["dtensor_parameters"] = all(isinstance(p, DTensor) for p in value_model.parameters())

    sgd_steps(value_model, reference, value_loss, batch, rank, world)
    out["policy_value"] = largest_difference(full_state(value_model), reference.state_dict())
    out["policy_value_moved"] = largest_difference(reference.state_dict(), initial)
    out["policy_value_scale"] = max(float(p.detach().abs().max()) for p in reference.parameters())

    # sharded checkpoint: save the shards, load them into a freshly sharded model
    folder = tempfile.mkdtemp() if rank == 0 else None
    folder = [folder]
    dist.broadcast_object_list(folder)
    dcp.save(get_model_state_dict(value_model), checkpoint_id=folder[0])
    fresh = PolicyWithValue(load_model("tiny-llama", "causal_lm", seed=1)[0])
    shard(fresh, [*fresh.policy.model.layers, fresh.policy])
    loaded = get_model_state_dict(fresh)
    dcp.load(loaded, checkpoint_id=folder[0])
    fresh.load_state_dict(loaded)
    out["checkpoint"] = largest_difference(full_state(fresh), full_state(value_model))

    # generation from the sharded policy (greedy, a fixed number of steps on every process)
    prompts, settings = greedy(tokenizer)
    with torch.no_grad():
        sharded_tokens = value_model.policy.generate(**prompts, **settings)
        reference_tokens = reference.policy.generate(**prompts, **settings)
    out["generation_equal"] = bool(torch.equal(sharded_tokens, reference_tokens))
    layers_only = PolicyWithValue(load_model("tiny-llama", "causal_lm", seed=0)[0])
    shard(layers_only, layers_only.policy.model.layers)  # the layers, then the root: the policy is no unit
    try:
        with torch.no_grad():
            layers_only.policy.generate(**prompts, **settings)
        out["layer_wrap_generation_error"] = ""
    except RuntimeError as err:
        out["layer_wrap_generation_error"] = str(err).splitlines()[0]

    # the reward ensemble's heads: one trunk, K = 3 scalar heads
    ensemble, rm_tokenizer = load_model("tiny-llama", "reward_model", num_labels=3, seed=0)
    reference_ensemble = copy.deepcopy(ensemble)
    initial_ensemble = {k: v.clone() for k, v in ensemble.state_dict().items()}
    shard(ensemble, ensemble.model.layers)
    targets = torch.tensor([[1.0, 0.0, -1.0]]).expand(len(TEXTS), 3)

    def ensemble_loss(model, b):
        rows = b["row"]
        scores = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        return (scores - targets[rows]).pow(2).mean()

    rm_batch = dict(rm_tokenizer(TEXTS, return_tensors="pt", padding=True), row=torch.arange(len(TEXTS)))
    sgd_steps(ensemble, reference_ensemble, ensemble_loss, rm_batch, rank, world)
    out["ensemble_heads"] = largest_difference(full_state(ensemble), reference_ensemble.state_dict())
    out["ensemble_moved"] = largest_difference(reference_ensemble.state_dict(), initial_ensemble)

    # LoRA adapters: only they train; peft's view of the gathered state dict is what save_pretrained writes
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    lora = get_peft_model(
        load_model("tiny-llama", "causal_lm", seed=0)[0], LoraConfig(r=4, target_modules="all-linear")
    )
    for name, p in lora.named_parameters():  # B starts at zero: give it values so both factors get gradients
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(len(name)))
    reference_lora = copy.deepcopy(lora)
    initial_adapters = {k: v.clone() for k, v in get_peft_model_state_dict(lora).items()}
    shard(lora, lora.base_model.model.model.layers)
    sgd_steps(lora, reference_lora, lm_loss, batch, rank, world)
    adapters = get_peft_model_state_dict(lora, state_dict=full_state(lora))
    reference_adapters = get_peft_model_state_dict(reference_lora)
    out["lora_adapter_keys"] = len(adapters)
    out["lora_adapters"] = largest_difference(adapters, reference_adapters)
    out["lora_moved"] = largest_difference(reference_adapters, initial_adapters)
    finish(out, rank)


if __name__ == "__main__":
    main()
