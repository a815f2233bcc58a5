"""Batched, KV-cached sampling of responses from a causal LM with chat-formatted prompts."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlnoise.core.config import SamplingConfig, check_positive
from rlnoise.core.console import progress
from rlnoise.core.distributed import sharded_map
from rlnoise.core.precision import precision
from rlnoise.core.sampler import inverse_cdf_processors


def chat_prompt(tokenizer, prompt: str) -> str:
    """The prompt wrapped in the tokenizer's chat template (plain text when it has none)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt + "\n"


@dataclass(frozen=True)
class SamplingUnit:
    """One ``generate`` call: prompts ``[first, last)``, each sampled ``count`` times, from one seed."""

    first: int
    last: int
    count: int
    seed: int


def sampling_units(n_prompts: int, n: int, batch_size: int, seed: int) -> list[SamplingUnit]:
    """Split ``n_prompts x n`` samples into generate calls of at most ``batch_size`` sequences (or one prompt).

    With ``n >= batch_size`` every prompt gets its own calls (``ceil(n / batch_size)`` chunks); otherwise
    ``batch_size // n`` consecutive prompts share a call. Each unit has its own seed, derived from ``seed`` and its
    position, so the samples do not depend on how units are spread over processes.
    """
    units = []
    if n >= batch_size:
        for p in range(n_prompts):
            for chunk, start in enumerate(range(0, n, batch_size)):
                units.append(SamplingUnit(p, p + 1, min(batch_size, n - start), _unit_seed(seed, p, chunk)))
    else:
        per_call = batch_size // n
        for p in range(0, n_prompts, per_call):
            units.append(SamplingUnit(p, min(p + per_call, n_prompts), n, _unit_seed(seed, p, 0)))
    return units


def _unit_seed(seed: int, prompt: int, chunk: int) -> int:
    return (seed * 1_000_003 + prompt * 7_919 + chunk) % (2**63)


@torch.no_grad()
def sample_responses(
    model,
    tokenizer,
    prompts: list[str],
    n: int,
    config: SamplingConfig | None = None,
    seed: int = 0,
    shard: bool = True,
    desc: str = "sampling",
    share_prompt: bool = True,
) -> list[list[str]]:
    """Sample ``n`` responses for every prompt, KV-cached, in batches of ``config.generation_batch_size``.

    Work is split into :func:`sampling_units`, each seeded on its own; under ``accelerate launch`` the units are
    spread over the processes and the responses gathered on all of them, identical to a one-process run. Pass
    ``shard=False`` when each process samples its own prompts (e.g. its own RL rollouts). ``desc`` labels the
    progress; ``share_prompt=False`` recomputes the prompt for every sample (transformers' path, the baseline).

    Returns:
        ``responses[i][j]``: the j-th response for prompt i, special tokens removed and stripped.
    """
    config = config or SamplingConfig()
    check_positive("n", n, integer=True)
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    units = sampling_units(len(texts), n, config.generation_batch_size, seed)
    generate = lambda unit: _generate(model, tokenizer, texts[unit.first : unit.last], unit, config, share_prompt)  # noqa: E731
    desc = desc if len(units) > 1 else None
    outputs = sharded_map(generate, units, desc) if shard else [generate(u) for u in progress(units, desc)]
    responses: list[list[str]] = [[] for _ in texts]
    for unit, per_prompt in zip(units, outputs):
        for offset, samples in enumerate(per_prompt):
            responses[unit.first + offset].extend(samples)
    return responses


def _generate(model, tokenizer, texts: list[str], unit: SamplingUnit, config: SamplingConfig, share_prompt: bool):
    _, generated = generate_tokens(
        model, tokenizer, texts, config, unit.seed, share_prompt=share_prompt, num_return_sequences=unit.count
    )
    decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
    return [[d.strip() for d in decoded[i * unit.count : (i + 1) * unit.count]] for i in range(len(texts))]


def shared_prompt_cache(lm, enc, count: int):
    """The KV cache of every prompt but its last token, computed once per prompt and repeated for its ``count``
    samples (what vLLM calls prefix caching; transformers' ``generate`` recomputes the prompt for every sample).

    ``generate`` then runs only the last prompt token and the response for each sample. The random stream is the
    one of the unshared path (the prefill draws nothing), so a seed gives the same samples up to float rounding.
    """
    ids, mask = enc["input_ids"][:, :-1], enc["attention_mask"][:, :-1]
    cache = lm(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask), use_cache=True).cache
    cache.batch_repeat_interleave(count)
    return cache


@torch.no_grad()
def generate_tokens(
    lm, tokenizer, texts: list[str], sampling: SamplingConfig, seed: int, share_prompt: bool = True, **generate_kwargs
):
    """Tokenize already-formatted ``texts`` (left-padded, left-truncated), seed torch and sample.

    The one place that turns texts into sampled token ids; the tokenizer's padding and truncation sides and the
    model's train/eval mode are restored afterwards. With ``num_return_sequences=n > 1`` each prompt is prefilled
    once and its cache shared by its n samples (``share_prompt=False``: transformers' own path, for comparison).
    Forward passes run at ``sampling.dtype`` (:func:`rlnoise.core.precision.precision`); tokens are drawn by
    ``sampling.sampler``: transformers' ``torch.multinomial`` from the global seed, or an inverse-CDF draw from a
    generator seeded with ``seed`` (:mod:`rlnoise.core.sampler`).

    Returns:
        ``(enc, responses)``: the prompt encoding and the ``[B * num_return_sequences, T]`` response token ids.
    """
    sides = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    was_training = lm.training
    try:
        enc = tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=sampling.max_prompt_tokens,
            add_special_tokens=False,
        ).to(next(lm.parameters()).device)
        torch.manual_seed(seed)
        lm.eval()
        count = generate_kwargs.pop("num_return_sequences", 1)
        inputs: dict = dict(enc)
        with precision(sampling.dtype, enc["input_ids"].device):
            if count > 1 and share_prompt and enc["input_ids"].shape[1] > 1:
                inputs = {k: v.repeat_interleave(count, 0) for k, v in enc.items()}
                inputs["cache"] = shared_prompt_cache(lm, enc, count)
            elif count > 1 and sampling.sampler == "inverse_cdf":  # greedy generate refuses num_return_sequences
                inputs = {k: v.repeat_interleave(count, 0) for k, v in enc.items()}  # what generate's expansion does
            elif count > 1:
                inputs["num_return_sequences"] = count
            out = lm.generate(
                **inputs,
                **_draw_kwargs(lm, sampling, seed),
                max_new_tokens=sampling.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,
                **generate_kwargs,
            )
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = sides
        lm.train(was_training)
    return enc, out[:, enc["input_ids"].shape[1] :]


def _draw_kwargs(lm, sampling: SamplingConfig, seed: int) -> dict:
    """``generate``'s arguments that draw the tokens: its own warpers and ``torch.multinomial`` (``multinomial``,
    from the global seed), or the same warpers then an inverse-CDF draw from a generator seeded with ``seed``
    (``inverse_cdf``, :mod:`rlnoise.core.sampler`), picked by greedy selection."""
    if sampling.sampler == "inverse_cdf":
        processors = inverse_cdf_processors(sampling, seed, lm.generation_config)
        return dict(do_sample=False, logits_processor=processors)
    return dict(do_sample=True, temperature=sampling.temperature, top_k=sampling.top_k, top_p=sampling.top_p)


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.cumsum(-1) - 1).clamp_min(0)  # left padding, as in generation


def response_logprobs(lm, input_ids, attention_mask, n_response: int, temperature: float, hidden: bool = False):
    """Log-probs of the last ``n_response`` tokens under ``lm`` (logits divided by the sampling temperature), and
    the last hidden states when ``hidden``."""
    out = lm(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions_from_mask(attention_mask),
        output_hidden_states=hidden,
        logits_to_keep=n_response + 1,  # the vocabulary projection only where it is used: [B, n + 1, V], not [B, S, V]
    )
    logits = out.logits[:, -n_response - 1 : -1].float() / temperature
    logprobs = torch.log_softmax(logits, -1).gather(-1, input_ids[:, -n_response:, None]).squeeze(-1)
    return logprobs, (out.hidden_states[-1] if hidden else None)


def generate_responses(lm, tokenizer, prompts: list[str], sampling: SamplingConfig, seed: int, n: int = 1):
    """``n`` sampled responses per chat-formatted prompt (each prompt prefilled once for its ``n`` samples).

    Returns:
        ``(enc, responses)``: the left-padded prompt encoding, each prompt repeated ``n`` times in a row
        (``[B * n, S]``), and the ``[B * n, T]`` response token ids.
    """
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    enc, responses = generate_tokens(
        lm, tokenizer, texts, sampling, seed, eos_token_id=tokenizer.eos_token_id, num_return_sequences=n
    )
    return {k: v.repeat_interleave(n, 0) for k, v in enc.items()}, responses


def decode_responses(tokenizer, responses: torch.Tensor, mask: torch.Tensor) -> list[str]:
    """Response texts up to the first EOS, special tokens removed."""
    kept = responses * mask + tokenizer.pad_token_id * (1 - mask)
    return [t.strip() for t in tokenizer.batch_decode(kept, skip_special_tokens=True)]


def response_mask(responses: torch.Tensor, eos_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """1 on response tokens up to and including the first EOS, 0 after; and whether each response has an EOS."""
    is_eos = responses == eos_token_id
    has_eos = is_eos.any(1)
    first = torch.where(has_eos, is_eos.float().argmax(1), responses.shape[1])
    positions = torch.arange(responses.shape[1], device=responses.device)[None]
    return (positions <= first[:, None]).long(), has_eos
