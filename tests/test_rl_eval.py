"""The RL evaluation samples and scores a LoRA policy from a merged float32 copy: the same distribution as the
policy itself, the policy untouched, and anything else (bfloat16 weights, a full model) used as it is."""

import numpy as np
import torch

from rlnoise.core.models import load_model
from rlnoise.overoptimization.objectives import apply_objective
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


def _evaluation_inputs():
    from rlnoise.core.config import SamplingConfig
    from rlnoise.overoptimization.ensemble import RewardEnsemble
    from rlnoise.overoptimization.gold import GoldConfig, RubricGold
    from rlnoise.overoptimization.reward import EnsembleReward

    prompts = ["Where is fog likely?", "Name a fruit.", "What is two plus two?"]
    gold = RubricGold(GoldConfig(), {p: ("a marsh", ["a desert"]) for p in prompts})
    scorer, scorer_tokenizer = load_model("tiny-bert", "reward_model", num_labels=3, seed=0)
    ensemble = RewardEnsemble("multihead", [scorer], scorer_tokenizer, 3)
    rewards = {o: EnsembleReward(ensemble, o) for o in ("mean", "wco")}
    return prompts, gold, rewards, SamplingConfig(max_new_tokens=6)


@torch.no_grad()
def test_a_recurring_evaluation_is_sampled_once_and_a_changed_policy_is_not(monkeypatch):
    from peft import LoraConfig, get_peft_model

    from rlnoise.overoptimization import rl_eval

    prompts, gold, rewards, sampling = _evaluation_inputs()
    calls = []
    real = rl_eval.generate_responses
    monkeypatch.setattr(rl_eval, "generate_responses", lambda *a, **k: calls.append(1) or real(*a, **k))
    rl_eval._MEASURED.clear()

    def evaluate(policy, tokenizer, reward, reuse=True):
        kwargs = dict(seed=3, batch_size=2, samples_per_prompt=3, reuse=reuse)
        return rl_eval.evaluate_policy(policy, tokenizer, prompts, sampling, gold, reward, **kwargs)

    def initial_policy():  # what every run of a study evaluates at step 0: LoRA B = 0, A drawn per run
        base, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
        torch.manual_seed(len(calls))
        return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")), tokenizer

    policy, tokenizer = initial_policy()
    first = evaluate(policy, tokenizer, rewards["mean"])
    assert len(calls) == 2  # two generate calls of 2 prompts
    after_miss = torch.rand(3)
    other_run, tokenizer = initial_policy()  # another run: fresh models, another LoRA A, another objective
    torch.manual_seed(99)
    second = evaluate(other_run, tokenizer, rewards["wco"])
    assert len(calls) == 2  # served from the first
    assert torch.equal(torch.rand(3), after_miss)  # torch's random state as the sampling left it
    fresh = evaluate(other_run, tokenizer, rewards["wco"], reuse=False)  # what a miss computes for this run
    assert len(calls) == 4
    assert fresh == second
    for key in ("kl", "gold", "kl_by_prompt", "gold_by_prompt"):
        assert second[key] == first[key]
    assert [s[:3] for s in second["samples"]] == [s[:3] for s in first["samples"]]
    # the proxy is scored afresh with this run's objective, per generate call (padding shapes move float32 sums)
    texts = [(s[0], s[1]) for s in second["samples"]]
    calls_members = [rewards["wco"].member_scores(*zip(*texts[a:b])) for a, b in ((0, 6), (6, 9))]
    proxy = torch.cat([apply_objective("wco", m) for m in calls_members])
    assert [s[3] for s in second["samples"]] == proxy.tolist()
    variance = torch.cat([m.var(0, correction=0) for m in calls_members]).tolist()
    by_prompt = np.asarray(variance, dtype=np.float64).reshape(3, -1).mean(1)  # as evaluate_policy averages
    assert second["ensemble_variance_by_prompt"] == by_prompt.tolist()
    with torch.no_grad():  # a trained step: the adapter moves, so the evaluation is sampled again
        for name, param in other_run.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    trained = evaluate(other_run, tokenizer, rewards["wco"])
    assert len(calls) == 6
    assert trained["kl"] > 0 and trained["kl_by_prompt"] != first["kl_by_prompt"]


@torch.no_grad()
def test_weights_held_elsewhere_are_never_taken_for_equal(monkeypatch):
    """A ZeRO-3 placeholder or an FSDP shard leaves a process without the weights: its evaluations are not reused."""
    from rlnoise.overoptimization import rl_eval

    full, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
    assert rl_eval.weights_fingerprint(full) == rl_eval.weights_fingerprint(load_model("tiny-llama", seed=0)[0])
    assert rl_eval.weights_fingerprint(full) != rl_eval.weights_fingerprint(load_model("tiny-llama", seed=1)[0])
    zero3, _ = load_model("tiny-llama", "causal_lm", seed=0)
    next(zero3.parameters()).ds_id = 0  # DeepSpeed marks the parameters it partitions
    assert rl_eval.weights_fingerprint(zero3) is None
    full.register_buffer("placeholder", torch.empty(0))  # what a partitioned parameter looks like locally
    assert rl_eval.weights_fingerprint(full) is None
    prompts, gold, rewards, sampling = _evaluation_inputs()
    calls = []
    real = rl_eval.generate_responses
    monkeypatch.setattr(rl_eval, "generate_responses", lambda *a, **k: calls.append(1) or real(*a, **k))
    rl_eval._MEASURED.clear()
    for _ in range(2):
        kwargs = dict(reference=full, reuse=True)
        rl_eval.evaluate_policy(full, tokenizer, prompts[:1], sampling, gold, rewards["mean"], **kwargs)
    assert len(calls) == 2 and not rl_eval._MEASURED
