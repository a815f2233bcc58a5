"""DeepSpeed ZeRO on the CPU: run under `torchrun --nproc_per_node 2` with ZERO_STAGE=2 or 3 (DeepSpeed's CPU
accelerator, gloo). accelerate gives DeepSpeed only to accelerator devices, so the engine is built with
`deepspeed.initialize` directly, as accelerate builds it on GPUs. The PPO policy with its value head trains two SGD
steps on each process's half of a batch against an unsharded copy that takes them on the whole batch; rank 0
prints one JSON line: the largest difference, how far the weights moved, and whether greedy generation from the
engine's inner policy matches the copy's."""

import copy
import os

import deepspeed
import torch
from check_common import TEXTS, finish, greedy, value_loss

from rlnoise.core.distributed import process_state
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ppo import PolicyWithValue


def full_parameters(engine, module) -> dict[str, torch.Tensor]:
    """Every parameter in full (ZeRO-3 partitions them: gather each)."""
    params = dict(module.named_parameters())
    with deepspeed.zero.GatheredParameters(list(params.values()), modifier_rank=None):
        return {k: v.detach().clone() for k, v in params.items()}


def main():
    state = process_state()
    rank, world, stage = state.process_index, state.num_processes, int(os.environ["ZERO_STAGE"])
    policy, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
    model = PolicyWithValue(policy)
    reference = copy.deepcopy(model)
    initial = {k: v.detach().clone() for k, v in reference.named_parameters()}
    config = {
        "train_micro_batch_size_per_gpu": len(TEXTS) // world,
        "gradient_accumulation_steps": 1,
        "zero_optimization": {"stage": stage},
        "zero_allow_untested_optimizer": True,
        "gradient_clipping": 0.0,  # DeepSpeed 0.19 clips at 1.0 unless told; the copy does not clip
    }
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.5)
    batch = dict(tokenizer(TEXTS, return_tensors="pt", padding=True))
    halves = [{k: v[r::world] for k, v in batch.items()} for r in range(world)]
    for _ in range(2):
        engine.backward(value_loss(engine, halves[rank]))
        engine.step()
        ref_opt.zero_grad()
        (sum(value_loss(reference, h) for h in halves) / world).backward()
        ref_opt.step()
    trained = full_parameters(engine, engine.module)
    reference_params = dict(reference.named_parameters())
    out = dict(
        stage=stage,
        world=world,
        difference=max(float((trained[k] - reference_params[k].detach()).abs().max()) for k in trained),
        moved=max(float((reference_params[k].detach() - initial[k]).abs().max()) for k in initial),
        scale=max(float(p.detach().abs().max()) for p in reference.parameters()),
    )
    prompts, settings = greedy(tokenizer)
    try:
        with torch.no_grad():
            tokens = engine.module.policy.generate(**prompts, **settings)
            out["generation_equal"] = bool(torch.equal(tokens, reference.policy.generate(**prompts, **settings)))
    except Exception as err:  # recorded, not raised: the test reads it
        out["generation_error"] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    finish(out, rank)


if __name__ == "__main__":
    main()
