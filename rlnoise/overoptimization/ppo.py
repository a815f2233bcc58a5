"""A readable PPO for language models on accelerate, after Huang et al. ("The N implementation details of RLHF with
PPO") and Coste et al. (2024). trl removed its PPOTrainer, so this file is the trainer.

One step: sample a batch of responses -> score them with a conservative objective over a reward ensemble (at the
final token, clipped; optional penalty for responses cut before EOS) -> per-token KL penalty -beta * log(pi/pi_ref)
-> GAE and whitened advantages -> several epochs of clipped policy and value updates over minibatches.

The reference policy is the initial policy: with a LoRA policy it is the same model with its adapters disabled,
not a second copy. Under ``accelerate launch`` every process makes its own rollouts and gradients are all-reduced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlnoise.core.generation import (
    SamplingConfig,
    decode_responses,
    generate_responses,
    positions_from_mask,
    response_logprobs,
    response_mask,
)
from rlnoise.core.tracking import accelerate_tracking, start_accelerate_tracker, stop_accelerate_tracker
from rlnoise.overoptimization.config import PPOConfig
from rlnoise.overoptimization.rl_math import (
    AdaptiveKLController,
    compute_gae,
    kl_k2,
    masked_mean,
    masked_whiten,
    policy_loss,
    shaped_rewards,
    value_loss,
)

__all__ = ["PPOConfig", "PPOTrainer", "compute_gae", "kl_k2"]


class PolicyWithValue(nn.Module):
    """The policy and a scalar value head, on the policy's trunk ('shared') or on a separate copy ('separate')."""

    def __init__(self, policy: nn.Module, value_trunk: nn.Module | None = None):
        super().__init__()
        self.policy = policy
        self.value_trunk = value_trunk
        hidden = policy.config.hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=1 / (hidden + 1) ** 0.5)  # Huang et al.: small init
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask, n_response: int, temperature: float):
        """Log-probs of the last ``n_response`` tokens and the values of the states before them, ``[B, T]``."""
        logprobs, hidden = response_logprobs(
            self.policy, input_ids, attention_mask, n_response, temperature, hidden=self.value_trunk is None
        )
        if self.value_trunk is not None:
            hidden = self.value_trunk(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=positions_from_mask(attention_mask)
            ).last_hidden_state
        values = self.value_head(hidden[:, -n_response - 1 : -1].float()).squeeze(-1)
        return logprobs, values


class PPOTrainer:
    """PPO against a reward function over responses.

    Args:
        policy: a causal LM (wrapped with LoRA here when ``config.policy_lora_r > 0``).
        tokenizer: its tokenizer.
        reward_fn: ``fn(prompts, responses) -> [B]`` scores (e.g. an ensemble objective).
        config: PPO settings. sampling: generation settings (temperature also divides logits in training).
        accelerator: an ``accelerate.Accelerator`` (one is made if None).
    """

    def __init__(self, policy, tokenizer, reward_fn, config: PPOConfig, sampling: SamplingConfig, accelerator=None):
        from accelerate import Accelerator

        self.config, self.sampling, self.tokenizer, self.reward_fn = config, sampling, tokenizer, reward_fn
        self.accelerator = accelerator or Accelerator(**accelerate_tracking())  # the run's live tracker, if any
        value_trunk = None
        if config.value_model == "separate":
            import copy

            value_trunk = copy.deepcopy(policy.get_decoder() if hasattr(policy, "get_decoder") else policy.model)
        self.reference = None
        if config.policy_lora_r > 0:
            from peft import LoraConfig, get_peft_model

            policy = get_peft_model(
                policy,
                LoraConfig(r=config.policy_lora_r, lora_alpha=config.policy_lora_alpha, target_modules="all-linear"),
            )
        else:
            import copy

            self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        model = PolicyWithValue(policy, value_trunk)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=config.ppo_learning_rate, eps=1e-5
        )
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        if self.reference is not None:
            self.reference.to(self.accelerator.device)
        self.kl_controller = (
            AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon) if config.adaptive_kl else None
        )
        self.beta = config.kl_coef
        self.step = 0

    # ---------------------------------------------------------------------------------------------------- rollouts
    @property
    def unwrapped(self) -> PolicyWithValue:
        return self.accelerator.unwrap_model(self.model)

    def generate(self, prompts: list[str], seed: int):
        """Sample one response per prompt with the current policy."""
        return generate_responses(self.unwrapped.policy, self.tokenizer, prompts, self.sampling, seed)

    @torch.no_grad()
    def reference_logprobs(self, input_ids, attention_mask, n_response: int) -> torch.Tensor:
        """Log-probs under the initial policy (adapters disabled, or the frozen copy)."""
        if self.reference is None:
            with self.unwrapped.policy.disable_adapter():
                return response_logprobs(
                    self.unwrapped.policy, input_ids, attention_mask, n_response, self.sampling.temperature
                )[0]
        return response_logprobs(self.reference, input_ids, attention_mask, n_response, self.sampling.temperature)[0]

    def rollout(self, prompts: list[str], seed: int) -> dict:
        """Sample, score and compute everything a PPO update needs."""
        enc, responses = self.generate(prompts, seed)
        mask, has_eos = response_mask(responses, self.tokenizer.eos_token_id)
        input_ids = torch.cat([enc["input_ids"], responses], 1)
        attention_mask = torch.cat([enc["attention_mask"], mask], 1)
        n = responses.shape[1]
        texts = decode_responses(self.tokenizer, responses, mask)
        scores = torch.as_tensor(self.reward_fn(prompts, texts), dtype=torch.float32).to(self.accelerator.device)
        raw_scores = scores.clone()
        if self.config.truncation_penalty is not None:
            scores = torch.where(has_eos, scores, torch.full_like(scores, self.config.truncation_penalty))
        scores = scores.clamp(-self.config.reward_clip, self.config.reward_clip)
        with torch.no_grad():
            self.unwrapped.eval()
            logprobs, values = self.unwrapped(input_ids, attention_mask, n, self.sampling.temperature)
            ref_logprobs = self.reference_logprobs(input_ids, attention_mask, n)
        maskf = mask.float()
        rewards = shaped_rewards(scores, logprobs, ref_logprobs, maskf, self.beta)
        advantages, returns = compute_gae(rewards, values, maskf, self.config.gamma, self.config.gae_lambda)
        advantages = masked_whiten(advantages, maskf)
        return dict(
            input_ids=input_ids,
            attention_mask=attention_mask,
            mask=maskf,
            logprobs=logprobs,
            values=values,
            advantages=advantages,
            returns=returns,
            stats=dict(
                kl=float(kl_k2(logprobs, ref_logprobs, maskf)),
                score=float(raw_scores.mean()),
                truncated=float((~has_eos).float().mean()),
                response_tokens=float(maskf.sum(1).mean()),
            ),
            texts=texts,
        )

    # ------------------------------------------------------------------------------------------------------ update
    def train_step(self, prompts: list[str]) -> dict:
        """One PPO step on ``prompts`` (this process's share); returns logged statistics."""
        seed = self.config.ppo_seed * 1_000_003 + self.step * 7_919 + self.accelerator.process_index
        batch = self.rollout(prompts, seed)
        stats = self.update(batch, seed)
        stats.update({f"ppo/{k}": v for k, v in batch["stats"].items()}, **{"ppo/beta": self.beta})
        if self.kl_controller is not None:
            self.beta = self.kl_controller.update(batch["stats"]["kl"], len(prompts) * self.accelerator.num_processes)
        self.step += 1
        return stats

    def update(self, batch: dict, seed: int = 0) -> dict:
        """``ppo_epochs`` passes of clipped policy + value updates over minibatches of a rollout batch."""
        c = self.config
        n = batch["mask"].shape[1]
        size = batch["mask"].shape[0]
        minibatch = size // c.num_minibatches
        micro = minibatch // c.gradient_accumulation_steps
        generator = torch.Generator().manual_seed(seed)
        totals = dict(policy_loss=0.0, value_loss=0.0, clip_fraction=0.0, value_clip_fraction=0.0, approx_kl=0.0)
        updates = 0
        self.model.train()
        for _ in range(c.ppo_epochs):
            order = torch.randperm(size, generator=generator)
            for start in range(0, size, minibatch):
                for micro_start in range(start, start + minibatch, micro):
                    idx = order[micro_start : micro_start + micro].to(self.accelerator.device)
                    part = {k: v[idx] for k, v in batch.items() if isinstance(v, torch.Tensor)}
                    logprobs, values = self.model(
                        part["input_ids"], part["attention_mask"], n, self.sampling.temperature
                    )
                    old, mask = part["logprobs"], part["mask"]
                    pg, clip_frac = policy_loss(logprobs, old, part["advantages"], mask, c.clip_range)
                    vf, v_clip = value_loss(values, part["values"], part["returns"], mask, c.value_clip_range)
                    loss = (pg + c.vf_coef * vf) / c.gradient_accumulation_steps
                    self.accelerator.backward(loss)
                    with torch.no_grad():
                        approx_kl = masked_mean(0.5 * (logprobs - part["logprobs"]) ** 2, part["mask"])
                    for key, value in zip(totals, (pg, vf, clip_frac, v_clip, approx_kl)):
                        totals[key] += float(value.detach())
                    updates += 1
                self.accelerator.clip_grad_norm_(self.model.parameters(), c.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
        return {f"ppo/{k}": v / updates for k, v in totals.items()}

    def train(
        self,
        prompts: list[str],
        *,
        total_steps: int,
        seed: int = 0,
        evaluate: Callable[[PPOTrainer], None] | None = None,
        eval_every: int = 0,
        checkpoints: str | Path | None = None,
        checkpoint_every: int = 0,
        label: str = "ppo",
    ) -> None:
        """Run PPO until ``total_steps``: resume from the latest checkpoint in ``checkpoints``, evaluate at step 0,
        every ``eval_every`` steps and at the end, checkpoint every ``checkpoint_every`` steps and at the end.

        Each step every process takes its own slice of a per-step permutation of ``prompts`` (seeded by ``seed``
        and the step), ``rollout_batch_size`` prompts each.
        """
        start_accelerate_tracker(self.accelerator, label)
        resume = latest_checkpoint(checkpoints) if checkpoints is not None else None
        if resume is not None:
            self.load(resume)
            if self.accelerator.is_main_process:
                print(f"[{label}] resumed from {resume.name}")
        if evaluate is not None and self.step == 0:
            evaluate(self)
        per_process = self.config.rollout_batch_size
        while self.step < total_steps:
            order = np.random.default_rng([seed, self.step]).permutation(len(prompts))
            first = self.accelerator.process_index * per_process
            stats = self.train_step([prompts[order[(first + i) % len(order)]] for i in range(per_process)])
            self.accelerator.log(stats, step=self.step)  # rollout and update statistics (no tracker: nothing)
            if self.accelerator.is_main_process and self.step % 5 == 0:
                print(f"[{label}] step {self.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()))
            last = self.step == total_steps
            if evaluate is not None and (last or (eval_every and self.step % eval_every == 0)):
                evaluate(self)
            if checkpoints is not None and (last or (checkpoint_every and self.step % checkpoint_every == 0)):
                self.save(Path(checkpoints) / f"step-{self.step:06d}")
        stop_accelerate_tracker(self.accelerator)

    # ------------------------------------------------------------------------------------------------- checkpoints
    def save(self, folder: str | Path) -> None:
        """Trainable weights, optimizer, step, beta and RNG state (main process writes)."""
        folder = Path(folder)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            trainable = {k: v for k, v in self.unwrapped.state_dict().items() if _is_trainable(self.unwrapped, k)}
            torch.save(
                dict(model=trainable, optimizer=self.optimizer.state_dict(), rng=torch.get_rng_state()),
                folder / "state.pt",
            )
            (folder / "trainer.json").write_text(
                json.dumps(dict(step=self.step, beta=self.beta, config=asdict(self.config)))
            )
        self.accelerator.wait_for_everyone()

    def load(self, folder: str | Path) -> None:
        folder = Path(folder)
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
        self.unwrapped.load_state_dict(state["model"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        meta = json.loads((folder / "trainer.json").read_text())
        self.step, self.beta = meta["step"], meta["beta"]
        if self.kl_controller is not None:
            self.kl_controller.value = self.beta


def _is_trainable(model: nn.Module, key: str) -> bool:
    params = dict(model.named_parameters())
    return key in params and params[key].requires_grad


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The ``step-NNNNNN`` checkpoint with the highest step under ``folder`` (complete ones only), or None."""
    folder = Path(folder)
    done = [p for p in folder.glob("step-*") if (p / "trainer.json").exists()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None
