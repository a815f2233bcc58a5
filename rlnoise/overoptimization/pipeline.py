"""Cached stages of the reward-modelling pipeline: scored preference pairs and trained proxy ensembles.

Every stage is keyed by a fingerprint of the settings that produce it, so a rerun (or another noise setting that
shares the same pairs) skips what is done. See :func:`rlnoise.core.runs.cached_stage`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datasets import Dataset

from rlnoise.core.config import check_positive
from rlnoise.core.distributed import device
from rlnoise.core.generation import SamplingConfig, sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.noise import parse_noise_spec
from rlnoise.core.stages import cached_stage, fingerprint
from rlnoise.overoptimization.ensemble import EnsembleConfig, RewardEnsemble, train_ensemble
from rlnoise.overoptimization.gold import GoldConfig, HFRewardModelGold, RubricGold
from rlnoise.overoptimization.preferences import build_preference_dataset


@dataclass
class RMStudyConfig:
    """What an overoptimization study runs: prompts, policy, RM pairs, noise settings and outputs."""

    run_name: str = field(default="rm_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    output_root: str = field(default="runs", metadata={"help": "Root folder of all runs."})
    policy: str = field(default="smollm2-135m-instruct", metadata={"help": "Policy that writes the responses."})
    prompt_sources: list[str] = field(
        default_factory=lambda: ["openbookqa", "commonsenseqa", "siqa", "piqa"],
        metadata={"help": "Shipped tasks whose questions become prompts."},
    )
    n_train_pairs: int = field(default=256, metadata={"help": "Preference pairs to train the proxies on."})
    n_eval_pairs: int = field(default=96, metadata={"help": "Held-out pairs for accuracy."})
    noise: list[str] = field(
        default_factory=lambda: ["none", "coste"], metadata={"help": "Noise specs, one ensemble per setting."}
    )
    uwo_lambda: float = field(default=0.5, metadata={"help": "lam of the uwo/lcb objectives in the report."})
    seed: int = field(default=0, metadata={"help": "Seed of prompt splits, sampling and noise."})

    def __post_init__(self):
        check_positive("n_train_pairs", self.n_train_pairs, integer=True)
        check_positive("n_eval_pairs", self.n_eval_pairs, integer=True)
        check_positive("uwo_lambda", self.uwo_lambda, allow_zero=True)
        for spec in self.noise:
            parse_noise_spec(spec)


def make_gold(gold_config: GoldConfig, prompt_rows: list[dict]) -> RubricGold | HFRewardModelGold:
    """The gold reward: the rubric, with each prompt's reference answer and wrong options attached, or the reward
    model named by ``gold_config.gold_model``."""
    if gold_config.gold_model != "rubric":
        return HFRewardModelGold(gold_config.gold_model, batch_size=gold_config.gold_batch_size, device=str(device()))
    references = {r["prompt"]: (r["reference"], list(r["wrong"])) for r in prompt_rows if r["reference"]}
    return RubricGold(gold_config, references)


def scored_pair_datasets(
    policy: str,
    splits: dict[str, list[dict]],
    sampling: SamplingConfig,
    gold_config: GoldConfig,
    noise: str,
    seed: int,
) -> dict[str, Dataset]:
    """Preference pairs for each split of prompts, sampled from ``policy``, gold-labelled and noised.

    Sampling and gold scoring are cached per split (shared by every noise setting); only the cheap noise step
    reruns. The policy and gold model are loaded only when a cache entry is missing.

    Returns:
        ``{split: Dataset}`` in the format of :func:`rlnoise.overoptimization.preferences.label_pairs`.
    """
    loaded: dict = {}

    def policy_model():
        if "policy" not in loaded:
            model, tokenizer = load_model(policy, "causal_lm")
            loaded["policy"] = model.to(device()), tokenizer
        return loaded["policy"]

    class _LazyGold:  # defers loading the encoder until a cache miss needs it
        def score(self, prompts, responses):
            if "gold" not in loaded:
                loaded["gold"] = make_gold(gold_config, [r for rs in splits.values() for r in rs])
            return loaded["gold"].score(prompts, responses)

    out = {}
    for i, (name, rows) in enumerate(splits.items()):
        prompts = [r["prompt"] for r in rows]
        key = dict(policy=policy, sampling=asdict(sampling), gold=asdict(gold_config), prompts=prompts, seed=seed)
        split_seed = seed + 7919 * i  # each split samples with its own stream

        def sample_pairs(ps, split_seed=split_seed):
            model, tokenizer = policy_model()
            return sample_responses(model, tokenizer, ps, n=2, config=sampling, seed=split_seed)

        out[name] = build_preference_dataset(
            prompts, sample_pairs, _LazyGold(), noise=noise, seed=split_seed, cache_key=key
        )
    return out


def cached_ensemble(train_pairs: Dataset, config: EnsembleConfig, noise: str) -> tuple[RewardEnsemble, dict]:
    """Train (or reload) a proxy ensemble for one noise setting.

    Returns:
        ``(ensemble, logs)`` with the training-loss curves in ``logs["loss"]``.
    """
    data = fingerprint(*(list(train_pairs[c]) for c in ("prompt", "chosen", "rejected")))
    key = dict(config=asdict(config), noise=noise, data=data)

    def build(folder: Path):
        ensemble, logs = train_ensemble(train_pairs, config, folder / "scratch")
        ensemble.save(folder / "ensemble")
        (folder / "logs.json").write_text(json.dumps(logs))

    folder = cached_stage("ensemble", key, build)
    return RewardEnsemble.load(folder / "ensemble"), json.loads((folder / "logs.json").read_text())
