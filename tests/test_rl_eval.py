"""The RL evaluation samples and scores a LoRA policy from a merged float32 copy: the same distribution as the
policy itself, the policy untouched, and anything else (bfloat16 weights, a full model) used as it is."""

import torch

from rlnoise.core.models import load_model
from rlnoise.overoptimization.rl_eval import merged_lora


def _lora_policy(dtype=torch.float32):
    from peft import LoraConfig, get_peft_model

    base, _ = load_model("tiny-llama", "causal_lm", seed=0)
    policy = get_peft_model(base.to(dtype), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)  # a trained adapter: LoRA starts at B = 0, which would merge to nothing
    return policy


@torch.no_grad()
def test_merged_copy_computes_the_policy_and_leaves_it_alone():
    policy = _lora_policy()
    ids = torch.randint(0, 200, (3, 12))
    expected = policy(input_ids=ids).logits
    with policy.disable_adapter():
        reference = policy(input_ids=ids).logits
    merged = merged_lora(policy)
    assert merged is not policy and not hasattr(merged, "disable_adapter")
    assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-5)
    assert (expected - reference).abs().max() > 1e-2  # the adapter matters, so the comparison can fail
    assert torch.equal(policy(input_ids=ids).logits, expected)  # the policy keeps its unmerged adapter
    with policy.disable_adapter():
        assert torch.equal(policy(input_ids=ids).logits, reference)


def test_other_policies_are_used_as_they_are():
    bf16 = _lora_policy(torch.bfloat16)
    assert merged_lora(bf16) is bf16  # merging would round the adapter's update away
    full, _ = load_model("tiny-llama", "causal_lm", seed=0)
    assert merged_lora(full) is full
