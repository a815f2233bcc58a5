"""The best-of-n study: single reward models vs ensemble objectives, with and without label noise.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> a pool of N policy samples per
evaluation prompt -> gold and proxy scores -> best-of-n gold/proxy curves against sqrt(KL) for every member and
every objective -> Gao fits -> results.json, samples.jsonl, bon.png. Every expensive step is a cached stage.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from functools import partial

from rlnoise.core.config import SamplingConfig, to_dict
from rlnoise.core.console import step
from rlnoise.core.distributed import process_state
from rlnoise.core.runs import Run
from rlnoise.core.stats import pool_seed_claims, pool_seed_results
from rlnoise.overoptimization.bon import default_ns
from rlnoise.overoptimization.bon_curves import best_of_n_picks, bon_results, selector_scores
from rlnoise.overoptimization.bon_report import bon_claims, bon_markdown
from rlnoise.overoptimization.config import ENSEMBLE_LEGACY_KEY, BonStudyConfig
from rlnoise.overoptimization.ensemble import EnsembleConfig, pair_accuracy
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.objectives import apply_objective
from rlnoise.overoptimization.pipeline import make_gold, proxy_ensembles, study_prompts
from rlnoise.overoptimization.plots import plot_bon
from rlnoise.overoptimization.pool import cached_pool, cached_scores


def run_bon_study(
    study: BonStudyConfig, sampling: SamplingConfig, gold_config: GoldConfig, ensemble_config: EnsembleConfig
) -> dict:
    """Run the study (every process of an ``accelerate launch`` calls this) and write its outputs; returns results."""
    state = process_state()
    run = Run(
        "overoptimization",
        to_dict((study, sampling, gold_config, ensemble_config)),
        resumable=False,
        legacy_key=ENSEMBLE_LEGACY_KEY,
    )
    started = time.time()
    splits, bon_rows = study_prompts(study, study.n_bon_prompts)
    bon_prompts = [r["prompt"] for r in bon_rows]

    # 1. pool and its gold scores (shared by every noise setting and replicate)
    total = 2 + len(study.noise) * len(study.seeds)
    with step(1, total, f"pool: {len(bon_prompts)} prompts x {study.pool_size} samples from {study.policy}"):
        pool, pool_stage = cached_pool(study.policy, bon_prompts, study.pool_size, sampling, study.seed + 104_729)
    with step(2, total, f"gold scores of the pool ({gold_config.gold_model})"):
        gold = make_gold(gold_config, bon_rows)
        gold_scores = cached_scores("pool_gold", asdict(gold_config), gold.score, bon_prompts, pool, [pool_stage])
    ns = default_ns(study.pool_size, study.n_grid_points)
    objectives = {name: partial(apply_objective, name, lam=study.uwo_lambda) for name in study.objectives}
    results = dict(
        recipe="bon",
        noise=study.noise,  # config order (JSON objects are written key-sorted)
        objectives=study.objectives,
        seeds=study.seeds,
        ns=ns,
        pool=dict(prompts=len(bon_prompts), size=study.pool_size, gold_mean=float(gold_scores.mean())),
    )
    by_seed, samples = {}, []
    for i, replicate in enumerate(study.seeds):
        settings = by_seed[replicate] = {}
        setting_start = time.time()
        # 2. proxies for each noise setting (every process takes part; caches are shared)
        for spec, pairs, ensemble, logs, ensemble_stage in proxy_ensembles(
            study,
            splits,
            sampling,
            gold_config,
            ensemble_config,
            state.device,
            steps=(3 + i * len(study.noise), total),
            replicate=replicate,
        ):
            accuracy = pair_accuracy(ensemble, pairs["eval"], objectives)
            member_scores = cached_scores(
                "pool_proxy", {}, ensemble.score, bon_prompts, pool, [pool_stage, ensemble_stage], "units x seeds"
            )
            # 3. curves and fits
            selectors = selector_scores(member_scores, study.objectives, study.uwo_lambda)
            curves = bon_results(gold_scores, selectors, ns, seed=study.seed)
            settings[spec] = dict(
                flip_rate=pairs.flip_rate,
                accuracy=accuracy,
                train_loss=logs["loss"],
                seconds=time.time() - setting_start,
                **curves,
            )
            setting_start = time.time()
            summary = {name: round(c["gold_at_max_n"], 3) for name, c in curves["selectors"].items()}
            state.print(f"      gold gain at n={ns[-1]} (pool std units): {summary}")
            if i == 0:  # the picks of the first replicate
                shown = bon_prompts[: study.n_sample_prompts]
                samples += [
                    dict(noise=spec, **r)
                    for r in best_of_n_picks(shown, pool, gold_scores, selectors, study.sample_ns)
                ]
    results["settings"] = pool_seed_results(list(by_seed.values()))
    claims = pool_seed_claims([bon_claims(dict(results, settings=settings)) for settings in by_seed.values()])
    results["claims"] = [c.as_dict() for c in claims]
    if len(study.seeds) > 1:
        results["by_seed"] = by_seed
    results["seconds"] = time.time() - started
    run.write_outputs(results, samples=samples, table=bon_markdown(results), plot=plot_bon)
    return results
