"""PPO trainer on a tiny random policy: it trains, the reference stays fixed, checkpoints resume, bad config errors."""

import pytest
import torch

from rlnoise.core.config import SamplingConfig
from rlnoise.core.generation import response_mask
from rlnoise.core.models import load_model
from rlnoise.overoptimization.ppo import PPOConfig, PPOTrainer

PROMPTS = ["Say a word.", "Name a fruit.", "Count to three.", "Greet me."]
SAMPLING = SamplingConfig(max_new_tokens=6)


def letter_reward(prompts, responses):
    """Rewards responses for containing the letter 'e' (a learnable, deterministic signal)."""
    return torch.tensor([r.count("e") / 3.0 for r in responses])


def make_trainer(sampling=SAMPLING, **overrides):
    model, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
    settings = dict(rollout_batch_size=4, num_minibatches=2, ppo_epochs=2, ppo_learning_rate=3e-3) | overrides
    config = PPOConfig(**settings)
    return PPOTrainer(model, tokenizer, letter_reward, config, sampling)


def test_response_mask_keeps_tokens_through_first_eos():
    mask, has_eos = response_mask(torch.tensor([[5, 2, 9, 2], [5, 6, 7, 8]]), eos_token_id=2)
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]] and has_eos.tolist() == [True, False]


@pytest.mark.parametrize("lora_r, value_model", [(8, "shared"), (0, "separate")])
def test_ppo_step_updates_policy_not_reference(lora_r, value_model):
    trainer = make_trainer(policy_lora_r=lora_r, value_model=value_model)
    trainable = {k: v.detach().clone() for k, v in trainer.unwrapped.named_parameters() if v.requires_grad}
    batch = trainer.rollout(PROMPTS, seed=0)
    n = batch["mask"].shape[1]
    ref_before = trainer.reference_logprobs(batch["input_ids"], batch["attention_mask"], n)
    # before any update the policy is the reference: per-token log-ratio 0, so KL 0
    assert batch["stats"]["kl"] == pytest.approx(0.0, abs=1e-8)
    stats = [trainer.train_step(PROMPTS) for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(list(s.values()))).all() for s in stats)
    changed = [
        k for k, v in trainer.unwrapped.named_parameters() if v.requires_grad and not torch.equal(v, trainable[k])
    ]
    assert changed and any("value_head" in k for k in changed) and any("value_head" not in k for k in changed)
    ref_after = trainer.reference_logprobs(batch["input_ids"], batch["attention_mask"], n)
    assert torch.allclose(ref_before, ref_after)  # the reference never moves
    assert trainer.rollout(PROMPTS, seed=0)["stats"]["kl"] > 0  # the policy did


@pytest.mark.parametrize("lora_r, dtype", [(8, "float32"), (0, "float32"), (8, "bfloat16")])
def test_importance_ratio_is_one_before_the_first_update(lora_r, dtype):
    """The rollout's log-probs and the first minibatch's come from the same forward (dtype, train mode, positions,
    temperature), so the PPO ratio starts at exactly 1: how the responses were sampled (bfloat16 included) cannot
    bias it."""
    trainer = make_trainer(SamplingConfig(max_new_tokens=6, dtype=dtype), policy_lora_r=lora_r)
    batch = trainer.rollout(PROMPTS, seed=0)
    trainer.model.train()  # as update() runs it
    with torch.no_grad():
        logprobs, _ = trainer.model(
            batch["input_ids"], batch["attention_mask"], batch["mask"].shape[1], trainer.sampling.temperature
        )
    ratio = torch.exp(logprobs - batch["logprobs"])
    assert torch.equal(ratio[batch["mask"].bool()], torch.ones_like(ratio[batch["mask"].bool()]))


@pytest.mark.parametrize("lora_r", [8, 0])
def test_update_improves_the_surrogate_and_fits_values(lora_r):
    """PPO's defining property on a fixed rollout: after the update, sum(A * log pi) is higher and the value
    predictions are closer to the returns."""
    trainer = make_trainer(policy_lora_r=lora_r, ppo_epochs=4)
    batch = trainer.rollout(PROMPTS, seed=1)
    n, mask = batch["mask"].shape[1], batch["mask"]

    def surrogate_and_value_error():
        with torch.no_grad():
            logprobs, values = trainer.unwrapped(batch["input_ids"], batch["attention_mask"], n, 1.0)
        surrogate = (batch["advantages"] * logprobs * mask).sum()
        return surrogate, (((values - batch["returns"]) ** 2) * mask).sum()

    surrogate, value_error = surrogate_and_value_error()
    trainer.update(batch)
    new_surrogate, new_value_error = surrogate_and_value_error()
    assert new_surrogate > surrogate and new_value_error < value_error


@pytest.mark.equivalence
def test_checkpoint_resumes(tmp_path):
    trainer = make_trainer(adaptive_kl=True)
    trainer.train_step(PROMPTS)
    trainer.save(tmp_path / "ckpt")
    expected = trainer.train_step(PROMPTS)
    resumed = make_trainer(adaptive_kl=True)
    resumed.load(tmp_path / "ckpt")
    assert resumed.step == 1 and resumed.beta == pytest.approx(trainer.kl_controller.value, rel=0.1)
    again = resumed.train_step(PROMPTS)
    assert again["ppo/score"] == pytest.approx(expected["ppo/score"])  # same rollout after resuming
    # same weights, optimizer state and rollout, the same kernels in the same process: bit-identical
    assert again["ppo/policy_loss"] == expected["ppo/policy_loss"]


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(rollout_batch_size=6, num_minibatches=4), "divisible"),
        (dict(value_model="tied"), "value_model"),
        (dict(gamma=1.5), "gamma"),
        (dict(kl_coef=-0.1), "kl_coef"),
    ],
)
def test_bad_config(overrides, match):
    with pytest.raises(ValueError, match=match):
        PPOConfig(**overrides)
