"""Preference pairs with controlled label noise.

Two responses per prompt from the policy, scored by the gold reward, labelled by argmax, then passed through a
noise model from :mod:`rlnoise.core.noise`. The result is in trl's preference format (prompt / chosen / rejected) and
keeps the bookkeeping: both gold scores, the true label and a ``flipped`` flag.
"""

from __future__ import annotations

import numpy as np
from datasets import Dataset, load_from_disk

from rlnoise.core.noise import apply_noise, parse_noise_spec
from rlnoise.core.stages import Stage, cached_stage


def label_pairs(
    prompts: list[str],
    responses_a: list[str],
    responses_b: list[str],
    gold_a: np.ndarray,
    gold_b: np.ndarray,
    noise: str = "none",
    seed: int = 0,
) -> Dataset:
    """Label pairs by gold argmax, apply ``noise`` and return them in trl's preference format.

    Args:
        prompts, responses_a, responses_b: one pair per prompt.
        gold_a, gold_b: gold scores of the two responses.
        noise: a noise spec (see :func:`parse_noise_spec`). ``bradley_terry`` gets the gold margins and
            ``length_biased`` the response lengths automatically.
        seed: seed of the noise draw.

    Returns:
        A Dataset with ``prompt, chosen, rejected`` plus ``gold_chosen, gold_rejected, true_label, noisy_label,
        flipped``. ``true_label`` is 1 when response a is gold-better; ``chosen`` follows the noisy label, so
        ``flipped`` rows have the gold-worse response as ``chosen``.
    """
    n = len(prompts)
    if not (len(responses_a) == len(responses_b) == len(gold_a) == len(gold_b) == n):
        raise ValueError("prompts, responses_a, responses_b, gold_a and gold_b must all have the same length")
    gold_a, gold_b = np.asarray(gold_a, dtype=np.float64), np.asarray(gold_b, dtype=np.float64)
    true = (gold_a >= gold_b).astype(np.int64)
    name, params = parse_noise_spec(noise)
    if name == "bradley_terry":
        params["margins"] = gold_a - gold_b
    if name == "length_biased":
        params["lengths_first"] = np.array([len(r.split()) for r in responses_a])
        params["lengths_second"] = np.array([len(r.split()) for r in responses_b])
    noisy = apply_noise(name, true, seed=seed, **params)
    a_chosen = noisy.labels == 1
    return Dataset.from_dict(
        dict(
            prompt=[f"{p}\n\n" for p in prompts],  # rm_text() format: prompt, blank line, response, eos
            chosen=[a if c else b for a, b, c in zip(responses_a, responses_b, a_chosen)],
            rejected=[b if c else a for a, b, c in zip(responses_a, responses_b, a_chosen)],
            gold_chosen=np.where(a_chosen, gold_a, gold_b).tolist(),
            gold_rejected=np.where(a_chosen, gold_b, gold_a).tolist(),
            true_label=true.tolist(),
            noisy_label=noisy.labels.tolist(),
            flipped=noisy.flipped.tolist(),
            raw_prompt=list(prompts),
        )
    )


def scored_pairs_stage(prompts: list[str], sample_pairs, gold, settings: dict, label: str | None = None) -> Stage:
    """Two sampled responses per prompt and their gold scores, cached (noise-free, shared by every noise setting).

    Args:
        prompts: the prompts.
        sample_pairs: ``fn(prompts) -> list[[response_a, response_b]]`` (e.g. a closure over
            :func:`rlnoise.core.generation.sample_responses` with ``n=2``).
        gold: a :class:`~rlnoise.overoptimization.gold.GoldReward`.
        settings: everything that determines the sampled pairs and their gold scores (policy, sampling, gold
            config, seed); the prompts are added here.
    """

    def build(folder):
        pairs = sample_pairs(prompts)
        a, b = [p[0] for p in pairs], [p[1] for p in pairs]
        Dataset.from_dict(
            dict(
                prompt=list(prompts),
                a=a,
                b=b,
                gold_a=gold.score(prompts, a).tolist(),
                gold_b=gold.score(prompts, b).tolist(),
            )
        ).save_to_disk(str(folder / "pairs"))

    return cached_stage("scored_pairs", dict(settings, prompts=list(prompts)), build, label=label)


def labelled_pairs(scored: Stage, noise: str = "none", seed: int = 0) -> Dataset:
    """The scored pairs of a stage, labelled by gold argmax and passed through ``noise`` (see :func:`label_pairs`)."""
    data = load_from_disk(str(scored / "pairs"))
    return label_pairs(
        list(data["prompt"]),
        list(data["a"]),
        list(data["b"]),
        np.array(data["gold_a"]),
        np.array(data["gold_b"]),
        noise,
        seed,
    )
