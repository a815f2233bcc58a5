"""Best-of-n pools: N policy samples per prompt, and their gold and proxy scores, each cached by fingerprint.

Under ``accelerate launch`` every stage is computed by all processes together (prompts sharded, results gathered)
and the result equals a one-process run: sampling is seeded per unit of work and scores are computed one prompt
at a time, so neither depends on how prompts are spread over processes.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from rlnoise.core.config import SamplingConfig
from rlnoise.core.distributed import device, sharded_map
from rlnoise.core.generation import sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.stages import Stage, cached_stage

POOL_PART = 8  # prompts per cached part of a pool: a killed run keeps the parts it finished


def cached_pool(
    policy: str, prompts: list[str], pool_size: int, sampling: SamplingConfig, seed: int
) -> tuple[list[list[str]], Stage]:
    """``pool[p][j]``: the j-th of ``pool_size`` responses of ``policy`` to prompt p (loaded from cache if done).

    The prompts are sampled in parts of :data:`POOL_PART`, each cached as its own stage (seeded by its position),
    so an interrupted pool (an hour of sampling at paper-like sizes) resumes from its last finished part; a small
    ``pool`` stage then joins the parts.

    Returns:
        ``(pool, stage)``; the stage's key identifies the pool for every score computed on it.
    """
    loaded = {}

    def policy_model():
        if not loaded:
            model, tokenizer = load_model(policy, "causal_lm")
            loaded.update(model=model.to(device()), tokenizer=tokenizer)
        return loaded["model"], loaded["tokenizer"]

    parts = []
    for first in range(0, len(prompts), POOL_PART):
        chunk = prompts[first : first + POOL_PART]

        def build(folder, chunk=chunk, first=first):
            model, tokenizer = policy_model()
            pool = sample_responses(
                model, tokenizer, chunk, n=pool_size, config=sampling, seed=seed + first, desc="sampling pool"
            )
            (folder / "pool.json").write_text(json.dumps(pool))

        settings = dict(
            policy=policy, prompts=chunk, pool_size=pool_size, sampling=asdict(sampling), seed=seed + first
        )
        label = f"pool (prompts {first + 1}-{first + len(chunk)} of {len(prompts)})"
        parts.append(cached_stage("pool_part", settings, build, label=label, scales="units"))

    def join(folder):
        pool = [responses for part in parts for responses in json.loads((part / "pool.json").read_text())]
        (folder / "pool.json").write_text(json.dumps(pool))

    stage = cached_stage("pool", dict(part=POOL_PART), join, inputs=parts, scales="units")
    return json.loads((stage / "pool.json").read_text()), stage


def score_pool(score_fn, prompts: list[str], pool: list[list[str]], desc: str | None = None) -> np.ndarray:
    """Score every response, one prompt per call, sharded over processes.

    Args:
        score_fn: ``fn(prompts, responses) -> [..., B]`` array-like (gold: ``[B]``; an ensemble: ``[K, B]``).

    Returns:
        ``[..., P, N]``: the prompt axis is inserted before the sample axis.
    """
    if len(prompts) != len(pool):
        raise ValueError(f"got {len(prompts)} prompts but {len(pool)} pools")
    if not pool or not all(pool):
        raise ValueError("every prompt needs at least one response in its pool; got an empty pool")
    per_prompt = sharded_map(
        lambda i: np.asarray(score_fn([prompts[i]] * len(pool[i]), pool[i]), dtype=np.float64),
        list(range(len(prompts))),
        desc=desc,
    )
    return np.stack(per_prompt, axis=-2)


def cached_scores(
    name: str,
    settings: dict,
    score_fn,
    prompts: list[str],
    pool: list[list[str]],
    inputs: list[Stage],
    scales: str = "units",
) -> np.ndarray:
    """:func:`score_pool`, cached as stage ``name``.

    Args:
        settings: the scorer's own settings (e.g. the gold config).
        inputs: the stages the scores depend on: the pool's, and the scorer's when it is one (a trained ensemble).
        scales: what the stage's cost grows with (:data:`rlnoise.core.stages.SCALES`).
    """

    def build(folder):
        np.save(folder / "scores.npy", score_pool(score_fn, prompts, pool, desc=f"scoring ({name})"))

    return np.load(cached_stage(name, settings, build, inputs=inputs, scales=scales) / "scores.npy")
