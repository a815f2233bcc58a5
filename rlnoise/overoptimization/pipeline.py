"""Cached stages of the reward-modelling pipeline: scored preference pairs and trained proxy ensembles.

Every stage is keyed by its own settings plus the keys of the stages it reads
(:func:`rlnoise.core.stages.cached_stage`), so a rerun (or another noise setting that shares the same pairs) skips
what is done, and a change upstream (e.g. the gold weights) reaches the ensembles and everything scored with them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from datasets import Dataset

from rlnoise.core.config import SamplingConfig
from rlnoise.core.console import say
from rlnoise.core.distributed import device
from rlnoise.core.generation import sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.stages import Stage, cached_stage, stage_key
from rlnoise.core.tasks import load_prompts
from rlnoise.overoptimization.config import ENSEMBLE_LEGACY_KEY
from rlnoise.overoptimization.ensemble import EnsembleConfig, RewardEnsemble, train_ensemble
from rlnoise.overoptimization.gold import GoldConfig, HFRewardModelGold, RubricGold
from rlnoise.overoptimization.preferences import labelled_pairs, scored_pairs_stage


def make_gold(gold_config: GoldConfig, prompt_rows: list[dict]) -> RubricGold | HFRewardModelGold:
    """The gold reward: the rubric, with each prompt's reference answer and wrong options attached, or the reward
    model named by ``gold_config.gold_model``."""
    if gold_config.gold_model != "rubric":
        return HFRewardModelGold(gold_config.gold_model, batch_size=gold_config.gold_batch_size, device=str(device()))
    references = {r["prompt"]: (r["reference"], list(r["wrong"])) for r in prompt_rows if r["reference"]}
    return RubricGold(gold_config, references)


@dataclass
class PreferencePairs:
    """Labelled pairs of every prompt split for one noise setting, and their identity.

    ``key`` covers the scored-pairs stage of every split (policy, sampling, gold config, prompts, seed) plus the
    noise spec, so everything trained on these pairs inherits all of it.
    """

    splits: dict[str, Dataset]
    key: str

    def __getitem__(self, split: str) -> Dataset:
        return self.splits[split]

    @property
    def flip_rate(self) -> float:
        """Share of training pairs whose label the noise flipped."""
        return float(sum(self["train"]["flipped"]) / len(self["train"]))


def scored_pair_datasets(
    policy: str,
    splits: dict[str, list[dict]],
    sampling: SamplingConfig,
    gold_config: GoldConfig,
    noise: str,
    seed: int,
    replicate: int = 0,
) -> PreferencePairs:
    """Preference pairs for each split of prompts, sampled from ``policy``, gold-labelled and noised.

    Sampling and gold scoring are cached per split (shared by every noise setting and replicate); only the cheap
    noise step reruns. ``replicate`` redraws the noise alone (the pairs stay those of ``seed``). The policy and gold
    model are loaded only when a cache entry is missing.
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

    out, stages = {}, []
    for i, (name, rows) in enumerate(splits.items()):
        prompts = [r["prompt"] for r in rows]
        split_seed = seed + 7919 * i  # each split samples with its own stream

        def sample_pairs(ps, split_seed=split_seed, name=name):
            model, tokenizer = policy_model()
            return sample_responses(
                model, tokenizer, ps, n=2, config=sampling, seed=split_seed, desc=f"sampling {name} pairs"
            )

        settings = dict(policy=policy, sampling=asdict(sampling), gold=asdict(gold_config), seed=split_seed)
        stage = scored_pairs_stage(prompts, sample_pairs, _LazyGold(), settings, label=f"scored_pairs ({name} split)")
        out[name] = labelled_pairs(stage, noise=noise, seed=split_seed + 1_000_003 * replicate)
        stages.append(stage)
    settings = dict(noise=noise, splits=list(splits)) | ({"replicate": replicate} if replicate else {})
    return PreferencePairs(out, stage_key("labelled_pairs", settings, stages))


def cached_ensemble(pairs: PreferencePairs, config: EnsembleConfig) -> tuple[RewardEnsemble, dict, Stage]:
    """Train (or reload) a proxy ensemble on ``pairs["train"]``.

    Returns:
        ``(ensemble, logs, stage)`` with the training-loss curves in ``logs["loss"]``; the stage's key identifies
        the ensemble for everything scored with it.
    """

    def build(folder: Path):
        ensemble, logs = train_ensemble(pairs["train"], config, folder / "scratch")
        ensemble.save(folder / "ensemble")
        shutil.rmtree(folder / "scratch", ignore_errors=True)
        (folder / "logs.json").write_text(json.dumps(logs))

    stage = cached_stage("ensemble", ensemble_settings(config), build, inputs=[pairs.key], scales="seeds")
    return RewardEnsemble.load(stage / "ensemble"), json.loads((stage / "logs.json").read_text()), stage


def ensemble_settings(config: EnsembleConfig) -> dict:
    """What an ensemble stage's key holds of its config: every field, except ``rm_loss`` at its default ``bt``,
    the loss every ensemble had before the field existed; and :data:`ENSEMBLE_LEGACY_KEY`."""
    settings = dict(asdict(config), **ENSEMBLE_LEGACY_KEY)
    if settings["rm_loss"] == "bt":
        del settings["rm_loss"]
    return settings


def study_prompts(study, n_extra: int = 0) -> tuple[dict[str, list[dict]], list[dict]]:
    """Disjoint prompt rows: the RM splits (``{"train", "eval"}``) and ``n_extra`` further held-out rows (the
    best-of-n or RL prompts). The RM splits depend only on the RM settings, so every recipe with the same settings
    shares their cached pairs and ensembles."""
    prompts = load_prompts(
        study.prompt_sources, n_train=study.n_train_pairs, n_eval=study.n_eval_pairs + n_extra, seed=study.seed
    )
    held_out = prompts["eval"].to_list()
    return {"train": prompts["train"].to_list(), "eval": held_out[: study.n_eval_pairs]}, held_out[
        study.n_eval_pairs :
    ]


def proxy_ensembles(
    study,
    splits,
    sampling: SamplingConfig,
    gold_config: GoldConfig,
    ensemble_config,
    device,
    steps=(1, 0),
    replicate: int = 0,
):
    """For each noise spec of the study, its labelled pairs and trained proxies (every process takes part).

    ``steps = (first, total)`` numbers the settings as steps of the run's console output (``total`` 0: no numbers).
    ``replicate`` (a seed of the study's ``seeds``) redraws the label noise and the members' initialisation and
    data order (``rm_seed`` moves by 1,000 per replicate); the prompts and pairs stay shared, and replicate 0 is
    the study without replicates.

    Yields:
        ``(spec, pairs, ensemble, logs, stage)`` with the ensemble on ``device``.
    """
    first, total = steps
    for i, spec in enumerate(study.noise):
        number = f"[{first + i}/{total}] " if total else ""
        seed_note = f" (replicate seed {replicate})" if replicate else ""
        say(f"{number}noise '{spec}'{seed_note}: preference pairs, {ensemble_config.k} {ensemble_config.kind} proxies")
        pairs = scored_pair_datasets(study.policy, splits, sampling, gold_config, spec, study.seed, replicate)
        members = replace(ensemble_config, rm_seed=ensemble_config.rm_seed + 1000 * replicate)
        ensemble, logs, stage = cached_ensemble(pairs, members)
        yield spec, pairs, ensemble.to(device), logs, stage
