"""Proxy reward-model ensembles under label noise: the first half of the overoptimization pipeline.

gold reward -> policy samples two responses per prompt -> gold labels -> noise -> K proxy reward models ->
held-out accuracy of each member and each conservative objective, on noisy and on true labels.

    python recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
    accelerate launch recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

from accelerate import PartialState

from rlnoise.config import check_positive, parse_config, to_dict
from rlnoise.optimize.sampling import SamplingConfig
from rlnoise.plotting import plot_rm_accuracy
from rlnoise.rewards.ensemble import EnsembleConfig, pair_accuracy
from rlnoise.rewards.gold import GoldConfig
from rlnoise.rewards.objectives import apply_objective
from rlnoise.rewards.pipeline import cached_ensemble, scored_pair_datasets
from rlnoise.rewards.preferences import parse_noise_spec
from rlnoise.runs import run_dir, write_json, write_jsonl, write_yaml
from rlnoise.tasks import load_prompts


@dataclass
class StudyConfig:
    """What to run: prompts, policy, noise settings and outputs."""

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


def main():
    study, sampling, gold_config, ensemble_config = parse_config(
        StudyConfig, SamplingConfig, GoldConfig, EnsembleConfig
    )
    state = PartialState()
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
        with state.main_process_first():  # the main process fills the caches; the others then read them
            pairs = scored_pair_datasets(study.policy, splits, sampling, gold_config, spec, study.seed)
            ensemble, logs = cached_ensemble(pairs["train"], ensemble_config, spec)
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
