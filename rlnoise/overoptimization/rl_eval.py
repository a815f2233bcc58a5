"""Evaluation of an RL policy on fixed prompts: KL to the initial policy (k2), gold, proxy and ensemble variance."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import weakref
from collections import OrderedDict

import numpy as np
import torch
from torch.distributed.tensor import DTensor

from rlnoise.core.generation import (
    SamplingConfig,
    decode_responses,
    generate_responses,
    response_logprobs,
    response_mask,
)
from rlnoise.overoptimization.reward import EnsembleReward
from rlnoise.overoptimization.rl_math import kl_k2_per_sequence


@torch.no_grad()
def evaluate_policy(
    policy,
    tokenizer,
    prompts: list[str],
    sampling: SamplingConfig,
    gold,
    reward: EnsembleReward | None,
    *,
    reference=None,
    seed: int = 0,
    batch_size: int = 16,
    samples_per_prompt: int = 1,
    implicit_beta: float = 1.0,
    reuse: bool = False,
) -> dict:
    """Sample ``samples_per_prompt`` responses per prompt and measure them.

    Args:
        policy: the causal LM being trained (a peft model when ``reference`` is None: its adapters are disabled to
            get the initial policy).
        reference: the frozen initial policy for full fine-tuning.
        gold: a gold reward (``score(prompts, responses) -> [B]``). reward: the proxy objective; None for a policy
            trained without one (DPO): its proxy is then the implicit reward ``implicit_beta * log pi / pi_ref``
            summed over the response, from the KL samples, and there is no ensemble variance.
        batch_size: prompts per generate call (each with its samples).
        reuse: keep this evaluation's samples for an identical one and use one kept (:func:`sampled_batches`):
            for evaluations that recur, such as every run's initial policy at step 0.

    Returns:
        ``{"kl", "gold", "proxy", "ensemble_variance"}`` as means over every sample, the same four per prompt
        (``"<key>_by_prompt"``: the mean over that prompt's samples, so intervals can resample prompts and pair
        evaluations on the same prompts), and ``"samples"``: ``(prompt, response, gold, proxy)`` tuples. KL is the
        k2 estimator summed over response tokens, from the first ``KL_SAMPLES`` samples of each prompt.
    """
    k = samples_per_prompt
    sampler = merged_lora(policy) if reference is None else policy
    inputs = (sampler, policy, reference, tokenizer, prompts, sampling, gold, seed, batch_size, k)
    batches = sampled_batches(*inputs) if reuse else _sample_and_measure(*inputs)
    per_sample: dict[str, list[float]] = {key: [] for key in KEYS}
    samples = []
    for batch in batches:
        repeated, texts, rows = batch["prompts"], batch["texts"], batch["rows"]
        per_sample["kl"] += kl_k2_per_sequence(batch["logprobs"], batch["ref"], batch["mask"]).tolist()
        per_sample["gold"] += batch["gold"].tolist()
        if reward is None:
            implicit = implicit_beta * ((batch["logprobs"] - batch["ref"]) * batch["mask"]).sum(1)
            proxy = torch.full((len(repeated),), float("nan"))
            proxy[rows] = implicit
            per_sample["proxy"] += implicit.tolist()
        else:
            members = reward.member_scores(repeated, texts)  # scored once for the objective and the variance
            proxy = reward.combine(members)
            per_sample["proxy"] += proxy.tolist()
            per_sample["ensemble_variance"] += members.var(0, correction=0).tolist()
        proxies = [None if v != v else v for v in proxy.tolist()]  # NaN: no implicit reward for this sample
        samples += list(zip(repeated, texts, batch["gold"].tolist(), proxies))
    out: dict = {}
    for key, values in per_sample.items():
        if not values:
            continue
        by_prompt = np.asarray(values, dtype=np.float64).reshape(len(prompts), -1).mean(1)
        out[key] = float(by_prompt.mean())
        out[f"{key}_by_prompt"] = by_prompt.tolist()
    return dict(out, samples=samples)


def sampled_batches(sampler, policy, reference, tokenizer, prompts, sampling, gold, seed, batch_size, k) -> list:
    """:func:`_sample_and_measure`, kept for the last few evaluations and reused when one recurs: each run of a study
    evaluates the same initial policy at step 0 on the same prompts and seed, so that evaluation is sampled once (it
    is most of a run's first evaluation; a proxy is scored afresh each time).

    Keyed by both models' weights, configs and modes, the tokenizer, prompts, sampling settings, seed, batch shape
    and the gold reward object; a hit also leaves torch's random state where the sampling left it, so what runs
    next draws the same numbers either way. Not kept where a process holds only part of the weights.
    """
    inputs = (sampler, policy, reference, tokenizer, prompts, sampling, gold, seed, batch_size, k)
    initial = reference if reference is not None else policy
    weights = (weights_fingerprint(sampler), weights_fingerprint(initial, skip="lora_" if reference is None else None))
    if None in weights:
        return _sample_and_measure(*inputs)
    key = (
        *weights,
        *(m.config.to_json_string() for m in (sampler, initial)),
        str(getattr(sampler, "generation_config", None)),
        (sampler.training, initial.training, str(next(sampler.parameters()).device)),
        (tokenizer.name_or_path, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id),
        getattr(tokenizer, "chat_template", None),
        tuple(prompts),
        repr(dataclasses.asdict(sampling)),
        (seed, batch_size, k),
    )
    kept = _MEASURED.get(key)
    if kept is not None and kept["gold"]() is gold:  # that gold object, not one at a reused address
        _MEASURED.move_to_end(key)
        _set_rng_state(kept["rng"])
        return kept["batches"]
    batches = _sample_and_measure(*inputs)
    _MEASURED[key] = dict(gold=weakref.ref(gold), batches=batches, rng=_rng_state())
    while len(_MEASURED) > MEASURED_KEPT:
        _MEASURED.popitem(last=False)
    return batches


def _sample_and_measure(sampler, policy, reference, tokenizer, prompts, sampling, gold, seed, batch_size, k) -> list:
    """Per generate call: the samples, their gold scores and the log-probs of the KL samples under the policy and
    the initial policy; everything of an evaluation that does not depend on the proxy."""
    batches = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        enc, responses = generate_responses(sampler, tokenizer, batch, sampling, seed + start, n=k)
        mask, _ = response_mask(responses, tokenizer.eos_token_id)
        # KL from the first KL_SAMPLES samples of each prompt: the two full forwards cost ~3x the sampling itself
        rows = [i * k + j for i in range(len(batch)) for j in range(min(k, KL_SAMPLES))]
        input_ids = torch.cat([enc["input_ids"], responses], 1)[rows]
        attention = torch.cat([enc["attention_mask"], mask], 1)[rows]
        n = responses.shape[1]
        logprobs, _ = response_logprobs(sampler, input_ids, attention, n, sampling.temperature)
        if reference is None:
            with policy.disable_adapter():
                ref, _ = response_logprobs(policy, input_ids, attention, n, sampling.temperature)
        else:
            ref, _ = response_logprobs(reference, input_ids, attention, n, sampling.temperature)
        repeated = [p for p in batch for _ in range(k)]
        texts = decode_responses(tokenizer, responses, mask)
        gold_scores = torch.as_tensor(gold.score(repeated, texts), dtype=torch.float32)
        batches.append(
            dict(
                prompts=repeated,
                texts=texts,
                rows=rows,
                logprobs=logprobs,
                ref=ref,
                mask=mask[rows].float(),
                gold=gold_scores,
            )
        )
    return batches


def weights_fingerprint(model, skip: str | None = None) -> str | None:
    """A digest of a model's parameters and buffers (names, dtypes, shapes and bytes), leaving out those whose name
    contains ``skip``: two models with one fingerprint hold the same weights. None when this process does not
    hold every weight (a DeepSpeed ZeRO-3 placeholder, an FSDP shard): a digest of those would not tell models apart.
    """
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if skip and skip in name:
            continue
        if hasattr(tensor, "ds_id") or isinstance(tensor, DTensor) or tensor.numel() == 0:
            return None
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def merged_lora(policy):
    """A copy of a LoRA policy with its adapters merged into float32 weights, for sampling and scoring; any other
    policy as it is. peft's wrappers cost python time per module and token, which on the CPU makes a 135M policy
    sample about 1.6x slower than merged. float32 keeps the merge exact to rounding (merging into bfloat16 weights
    would round the update away), and a sharded model is not a ``PeftModel`` here, so it is left alone."""
    from peft import PeftModel

    if not isinstance(policy, PeftModel) or any(p.dtype != torch.float32 for p in policy.parameters()):
        return policy
    return copy.deepcopy(policy).merge_and_unload()


KEYS = ("kl", "gold", "proxy", "ensemble_variance")
KL_SAMPLES = 2
MEASURED_KEPT = 4  # evaluations kept for reuse: an initial policy's, per study, is the one that recurs
_MEASURED: OrderedDict = OrderedDict()


def _rng_state() -> tuple:
    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None


def _set_rng_state(state: tuple) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
