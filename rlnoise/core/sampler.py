"""Inverse-CDF token sampling inside transformers' ``generate`` (``SamplingConfig.sampler: inverse_cdf``).

Why hand-written: transformers draws every next token with ``torch.multinomial(probs, 1)``, which on a CPU costs
~100 ms per decode step of 64 rows over SmolLM2's 49,152-token vocabulary (a whole step is ~390 ms), against ~5 ms
for ``cumsum`` + ``searchsorted`` with one uniform per row; transformers offers no other sampler. Rather than copy
its decode loop, :func:`inverse_cdf_processors` returns logits processors that apply the same warpers ``generate``
applies when it samples (temperature, top-k, top-p, in its order) and then draw the token by inverse CDF, returning
logits that are ``-inf`` everywhere but the drawn token; ``generate`` runs with ``do_sample=False`` and its greedy
pick is the drawn token (finished rows are still replaced by padding there).

The uniforms come from a ``torch.Generator`` seeded with the generate call's seed (a sampling unit's own seed), so
samples are reproducible and do not depend on how units are spread over processes. The stream differs from
multinomial sampling's: the same seed gives other (equally distributed) samples.
"""

from __future__ import annotations

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

# generation-config settings that add a processor after the warpers above when sampling; not mirrored, so refused
_UNMIRRORED = {
    "top_h": lambda v: v is not None,
    "min_p": lambda v: v is not None,
    "typical_p": lambda v: v is not None and v < 1.0,
    "epsilon_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "eta_cutoff": lambda v: v is not None and 0.0 < v < 1.0,
    "watermarking_config": lambda v: v is not None,
}


def inverse_cdf_draw(scores: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row of ``scores`` (``[B, V]`` processed logits), drawn from ``softmax(scores)`` by inverse CDF
    with one uniform per row from ``generator``."""
    uniforms = torch.rand(scores.shape[0], generator=generator, dtype=torch.float64, device=scores.device)
    return inverse_cdf_pick(scores, uniforms)


def inverse_cdf_pick(scores: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """The token of each row whose CDF interval holds its uniform in [0, 1) (``[B]`` float64).

    The softmax is float32 (as transformers' sampling); the CDF is accumulated in float64, so that tokens in the
    tail keep their own probability (a float32 CDF near 1 moves in steps of 6e-8, about the probability of many of
    a 49k vocabulary's tokens). The uniform is scaled by the CDF's last entry (float32 mass sums to 1 only within
    ~1e-5) and kept below it, so the search never runs past the vocabulary and tokens of zero probability (``-inf``
    logits) are never picked.
    """
    cdf = torch.softmax(scores.float(), dim=-1).double().cumsum_(-1)
    total = cdf[:, -1:]
    u = torch.minimum(uniforms[:, None] * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, u, right=True).squeeze(1)


class InverseCDFSampler(LogitsProcessor):
    """The last logits processor: draws each row's token (:func:`inverse_cdf_draw`) and returns logits that are
    ``-inf`` everywhere but the drawn token (0 there), so greedy selection picks it."""

    def __init__(self, seed: int):
        self.seed = seed
        self.generator: torch.Generator | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.generator is None:  # created on the logits' device at the first step
            self.generator = torch.Generator(device=scores.device).manual_seed(self.seed)
        tokens = inverse_cdf_draw(scores, self.generator)
        drawn = torch.full_like(scores, float("-inf"))
        return drawn.scatter_(1, tokens[:, None], 0.0)


def inverse_cdf_processors(sampling, seed: int, generation_config=None) -> LogitsProcessorList:
    """The warpers ``generate(do_sample=True)`` would add for ``sampling`` (a :class:`SamplingConfig`), in its order
    and with its ``min_tokens_to_keep=1`` (no beams), followed by :class:`InverseCDFSampler` seeded with ``seed``.

    Pass them as ``logits_processor`` to ``generate(do_sample=False)`` without temperature / top_k / top_p; they run
    after the model's own processors (repetition penalty, ...), as the warpers do. ``generation_config`` (the
    model's) is checked for warpers this list does not mirror (min_p, typical_p, ...), which are refused.
    """
    if generation_config is not None:
        values = {k: getattr(generation_config, k, None) for k in _UNMIRRORED}
        unmirrored = [f"{k}={v!r}" for k, v in values.items() if _UNMIRRORED[k](v)]
        if unmirrored:
            raise ValueError(
                f"sampler 'inverse_cdf' mirrors only temperature, top_k and top_p, but the model's generation config "
                f"sets {', '.join(unmirrored)}; use sampler 'multinomial'"
            )
    processors = LogitsProcessorList()
    if sampling.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k != 0:
        processors.append(TopKLogitsWarper(top_k=sampling.top_k, min_tokens_to_keep=1))
    if sampling.top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=sampling.top_p, min_tokens_to_keep=1))
    processors.append(InverseCDFSampler(seed))
    return processors
