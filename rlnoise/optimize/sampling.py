"""Batched, KV-cached sampling of responses from a causal LM with chat-formatted prompts."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from rlnoise.config import check_positive, check_probability


@dataclass
class SamplingConfig:
    """Sampling settings. Coste et al. sample with temperature 1, top_k 0 (off) and top_p 1."""

    max_new_tokens: int = field(default=48, metadata={"help": "Maximum response length in tokens."})
    temperature: float = field(default=1.0, metadata={"help": "Softmax temperature (> 0)."})
    top_k: int = field(default=0, metadata={"help": "Top-k filtering; 0 disables it."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus filtering; 1 disables it."})
    generation_batch_size: int = field(default=32, metadata={"help": "Sequences generated per forward batch."})
    max_prompt_tokens: int = field(default=256, metadata={"help": "Prompts are left-truncated to this many tokens."})

    def __post_init__(self):
        check_positive("max_new_tokens", self.max_new_tokens, integer=True)
        check_positive("temperature", self.temperature)
        check_positive("top_k", self.top_k, integer=True, allow_zero=True)
        check_probability("top_p", self.top_p)
        if self.top_p == 0:
            raise ValueError("top_p must be in (0, 1], got 0")
        check_positive("generation_batch_size", self.generation_batch_size, integer=True)
        check_positive("max_prompt_tokens", self.max_prompt_tokens, integer=True)


def chat_prompt(tokenizer, prompt: str) -> str:
    """The prompt wrapped in the tokenizer's chat template (plain text when it has none)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt + "\n"


@torch.no_grad()
def sample_responses(
    model, tokenizer, prompts: list[str], n: int, config: SamplingConfig | None = None, seed: int = 0
) -> list[list[str]]:
    """Sample ``n`` responses for every prompt.

    Prompts are batched (``generation_batch_size // n`` prompts per call, each repeated ``n`` times) with left
    padding and the KV cache on. Each batch is seeded from ``seed`` and the index of its first prompt, so a rerun
    with the same prompts and settings reproduces the samples.

    Returns:
        ``responses[i][j]``: the j-th response for prompt i, special tokens removed.
    """
    config = config or SamplingConfig()
    check_positive("n", n, integer=True)
    device = next(model.parameters()).device
    texts = [chat_prompt(tokenizer, p) for p in prompts]
    per_batch = max(1, config.generation_batch_size // n)
    padding_side, truncation_side = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    was_training = model.training
    model.eval()
    out: list[list[str]] = []
    try:
        for start in tqdm(range(0, len(texts), per_batch), desc="sampling", disable=len(texts) <= per_batch):
            batch = tokenizer(
                texts[start : start + per_batch],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=config.max_prompt_tokens,
                add_special_tokens=False,
            ).to(device)
            torch.manual_seed(seed * 1_000_003 + start)
            generated = model.generate(
                **batch,
                do_sample=True,
                num_return_sequences=n,
                max_new_tokens=config.max_new_tokens,
                temperature=config.temperature,
                top_k=config.top_k,
                top_p=config.top_p,
                pad_token_id=tokenizer.pad_token_id,
                use_cache=True,
            )
            decoded = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            out.extend([d.strip() for d in decoded[i * n : (i + 1) * n]] for i in range(len(decoded) // n))
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = padding_side, truncation_side
        model.train(was_training)
    return out
