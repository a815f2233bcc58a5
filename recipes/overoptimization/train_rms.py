"""Proxy reward-model ensembles under label noise: the first half of the overoptimization pipeline.

gold reward -> policy samples two responses per prompt -> gold labels -> noise -> K proxy reward models ->
held-out accuracy of each member and each conservative objective, on noisy and on true labels.

    python recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
    accelerate launch recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
"""

from __future__ import annotations

import time
from functools import partial

from rlnoise.core.config import parse_config, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.files import write_json, write_jsonl, write_yaml
from rlnoise.core.generation import SamplingConfig
from rlnoise.core.runs import run_dir
from rlnoise.core.tasks import load_prompts
from rlnoise.overoptimization.ensemble import EnsembleConfig, pair_accuracy
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.objectives import apply_objective
from rlnoise.overoptimization.pipeline import RMStudyConfig, cached_ensemble, scored_pair_datasets
from rlnoise.overoptimization.plots import plot_rm_accuracy


def main():
    study, sampling, gold_config, ensemble_config = parse_config(
        RMStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig
    )
    state = process_state()
    out = run_dir("overoptimization", study.run_name, study.output_root)
    if state.is_main_process:
        write_yaml(out / "config.yaml", to_dict((study, sampling, gold_config, ensemble_config)))
    prompts = load_prompts(
        study.prompt_sources, n_train=study.n_train_pairs, n_eval=study.n_eval_pairs, seed=study.seed
    )
    splits = {name: prompts[name].to_list() for name in ("train", "eval")}
    objectives = {name: partial(apply_objective, name, lam=study.uwo_lambda) for name in ("mean", "wco", "uwo", "lcb")}
    results = dict(recipe="train_rms", settings={})
    samples = []
    for spec in study.noise:
        start = time.time()
        # every process takes part: sampling is sharded, training is data-parallel, caches are shared
        pairs = scored_pair_datasets(study.policy, splits, sampling, gold_config, spec, study.seed)
        ensemble, logs = cached_ensemble(pairs["train"], ensemble_config, spec)
        ensemble.to(state.device)
        accuracy = pair_accuracy(ensemble, pairs["eval"], objectives)
        results["settings"][spec] = dict(
            flip_rate=float(sum(pairs["train"]["flipped"]) / len(pairs["train"])),
            accuracy=accuracy,
            train_loss=logs["loss"],
            seconds=time.time() - start,
        )
        state.print(
            f"[{spec}] flipped {results['settings'][spec]['flip_rate']:.1%}, member true-label accuracy "
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
    if state.is_main_process:
        write_json(out / "results.json", results)
        write_jsonl(out / "samples.jsonl", samples)
        for path in plot_rm_accuracy(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


if __name__ == "__main__":
    main()
