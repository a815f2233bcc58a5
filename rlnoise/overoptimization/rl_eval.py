"""Evaluation of an RL policy on fixed prompts: KL to the initial policy (k2), gold, proxy and ensemble variance."""

from __future__ import annotations

import torch

from rlnoise.core.generation import (
    SamplingConfig,
    decode_responses,
    generate_responses,
    response_logprobs,
    response_mask,
)
from rlnoise.overoptimization.reward import EnsembleReward
from rlnoise.overoptimization.rl_math import kl_k2


@torch.no_grad()
def evaluate_policy(
    policy,
    tokenizer,
    prompts: list[str],
    sampling: SamplingConfig,
    gold,
    reward: EnsembleReward,
    *,
    reference=None,
    seed: int = 0,
    batch_size: int = 16,
) -> dict:
    """Sample one response per prompt and measure it.

    Args:
        policy: the causal LM being trained (a peft model when ``reference`` is None: its adapters are disabled to
            get the initial policy).
        reference: the frozen initial policy for full fine-tuning.
        gold: a gold reward (``score(prompts, responses) -> [B]``). reward: the proxy objective.

    Returns:
        ``{"kl", "gold", "proxy", "ensemble_variance", "samples": [(prompt, response, gold, proxy), ...]}`` with
        means over prompts; KL is the k2 estimator summed over response tokens.
    """
    kls, golds, proxies, variances, samples = [], [], [], [], []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        enc, responses = generate_responses(policy, tokenizer, batch, sampling, seed + start)
        mask, _ = response_mask(responses, tokenizer.eos_token_id)
        input_ids = torch.cat([enc["input_ids"], responses], 1)
        attention = torch.cat([enc["attention_mask"], mask], 1)
        n = responses.shape[1]
        logprobs, _ = response_logprobs(policy, input_ids, attention, n, sampling.temperature)
        if reference is None:
            with policy.disable_adapter():
                ref, _ = response_logprobs(policy, input_ids, attention, n, sampling.temperature)
        else:
            ref, _ = response_logprobs(reference, input_ids, attention, n, sampling.temperature)
        kls.append(float(kl_k2(logprobs, ref, mask.float())) * len(batch))
        texts = decode_responses(tokenizer, responses, mask)
        members = reward.member_scores(batch, texts)
        proxy = reward(batch, texts)
        gold_scores = torch.as_tensor(gold.score(batch, texts), dtype=torch.float32)
        golds += gold_scores.tolist()
        proxies += proxy.tolist()
        variances += members.var(0, correction=0).tolist()
        samples += list(zip(batch, texts, gold_scores.tolist(), proxy.tolist()))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return dict(
        kl=sum(kls) / len(prompts),
        gold=mean(golds),
        proxy=mean(proxies),
        ensemble_variance=mean(variances),
        samples=samples,
    )
