"""The reward-model study: K proxy reward models per noise setting and their held-out accuracy.

gold reward -> policy samples two responses per prompt -> gold labels -> noise -> K proxy reward models ->
held-out accuracy of each member and each conservative objective, on noisy and on true labels.
"""

from __future__ import annotations

import time
from functools import partial

from rlnoise.core.config import SamplingConfig, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.runs import Run
from rlnoise.overoptimization.config import ENSEMBLE_LEGACY_KEY, RMStudyConfig
from rlnoise.overoptimization.ensemble import EnsembleConfig, pair_accuracy
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.objectives import apply_objective
from rlnoise.overoptimization.pipeline import proxy_ensembles, study_prompts
from rlnoise.overoptimization.plots import plot_rm_accuracy


def run_rm_study(
    study: RMStudyConfig, sampling: SamplingConfig, gold_config: GoldConfig, ensemble_config: EnsembleConfig
) -> dict:
    """Train (or reload) the proxies of every noise setting and report their accuracy; returns the results."""
    state = process_state()
    run = Run(
        "overoptimization",
        to_dict((study, sampling, gold_config, ensemble_config)),
        resumable=False,
        legacy_key=ENSEMBLE_LEGACY_KEY,
    )
    splits, _ = study_prompts(study)
    objectives = {name: partial(apply_objective, name, lam=study.uwo_lambda) for name in ("mean", "wco", "uwo", "lcb")}
    results = dict(recipe="train_rms", settings={})
    samples = []
    start = time.time()
    # every process takes part: sampling is sharded, training is data-parallel, caches are shared
    for spec, pairs, ensemble, logs, _ in proxy_ensembles(
        study, splits, sampling, gold_config, ensemble_config, state.device, steps=(1, len(study.noise))
    ):
        accuracy = pair_accuracy(ensemble, pairs["eval"], objectives)
        setting = dict(
            flip_rate=pairs.flip_rate,
            accuracy=accuracy,
            train_loss=logs["loss"],
            seconds=time.time() - start,
        )
        results["settings"][spec] = setting
        start = time.time()
        state.print(
            f"      flipped {setting['flip_rate']:.1%}, member true-label accuracy "
            f"{[round(a, 3) for a in accuracy['members']['true']]}, objectives "
            f"{ {k: round(v['true'], 3) for k, v in accuracy['objectives'].items()} }"
        )
        rows = pairs["eval"].select(range(min(4, len(pairs["eval"]))))
        scores = ensemble.score(rows["raw_prompt"], rows["chosen"])
        samples += [
            dict(
                noise=spec,
                prompt=r["raw_prompt"],
                chosen=r["chosen"],
                rejected=r["rejected"],
                gold_chosen=r["gold_chosen"],
                gold_rejected=r["gold_rejected"],
                flipped=r["flipped"],
                proxy_chosen=scores[:, i].tolist(),
            )
            for i, r in enumerate(rows)
        ]
    run.write_outputs(results, samples=samples, plot=plot_rm_accuracy)
    return results
