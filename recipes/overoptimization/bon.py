"""Best-of-n overoptimization: single reward models vs ensemble objectives, with and without label noise.

gold reward -> preference pairs (+ noise) -> K proxies per noise setting -> a pool of N policy samples per
evaluation prompt -> gold and proxy scores -> best-of-n gold/proxy curves against sqrt(KL) for every member and
every objective -> Gao fits -> results.json, samples.jsonl, bon.png.

    python recipes/overoptimization/bon.py --config recipes/overoptimization/configs/bon_quick.yaml
    accelerate launch --multi_gpu --num_processes 2 recipes/overoptimization/bon.py --config .../bon_quick.yaml
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import partial

from rlnoise.core.config import check_positive, parse_config, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.files import write_json, write_jsonl, write_yaml
from rlnoise.core.generation import SamplingConfig
from rlnoise.core.runs import run_dir, run_metadata
from rlnoise.core.stages import fingerprint
from rlnoise.core.tasks import load_prompts
from rlnoise.overoptimization.bon import default_ns
from rlnoise.overoptimization.bon_study import best_of_n_picks, bon_results, selector_scores
from rlnoise.overoptimization.ensemble import EnsembleConfig, pair_accuracy
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.objectives import OBJECTIVES, apply_objective
from rlnoise.overoptimization.pipeline import RMStudyConfig, cached_ensemble, make_gold, scored_pair_datasets
from rlnoise.overoptimization.plots import plot_bon
from rlnoise.overoptimization.pool import cached_pool, cached_scores


@dataclass
class BonStudyConfig(RMStudyConfig):
    """Best-of-n settings on top of the reward-model study."""

    run_name: str = field(default="bon_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_bon_prompts: int = field(default=16, metadata={"help": "Evaluation prompts, each with a pool of samples."})
    pool_size: int = field(default=64, metadata={"help": "N: samples per evaluation prompt."})
    n_grid_points: int = field(default=20, metadata={"help": "Points of the n grid (even in sqrt(KL))."})
    objectives: list[str] = field(
        default_factory=lambda: ["mean", "wco", "uwo", "lcb"], metadata={"help": "Ensemble objectives to select by."}
    )
    n_sample_prompts: int = field(default=3, metadata={"help": "Prompts whose picks go to samples.jsonl."})
    sample_ns: list[int] = field(default_factory=lambda: [1, 8, 64], metadata={"help": "n values shown there."})

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_bon_prompts", self.n_bon_prompts, integer=True)
        check_positive("pool_size", self.pool_size, integer=True)
        check_positive("n_grid_points", self.n_grid_points, integer=True)
        check_positive("n_sample_prompts", self.n_sample_prompts, integer=True, allow_zero=True)
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ValueError(f"objectives must be names in {sorted(OBJECTIVES)}, got '{name}'")
        for n in self.sample_ns:
            if not 1 <= n <= self.pool_size:
                raise ValueError(f"sample_ns must lie in 1..pool_size={self.pool_size}, got {n}")


def main():
    study, sampling, gold_config, ensemble_config = parse_config(
        BonStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig
    )
    state = process_state()
    out = run_dir("overoptimization", study.run_name, study.output_root)
    if state.is_main_process:
        write_yaml(out / "config.yaml", to_dict((study, sampling, gold_config, ensemble_config)))
    started = time.time()
    prompts = load_prompts(
        study.prompt_sources,
        n_train=study.n_train_pairs,
        n_eval=study.n_eval_pairs + study.n_bon_prompts,
        seed=study.seed,
    )
    held_out = prompts["eval"].to_list()
    splits = {"train": prompts["train"].to_list(), "eval": held_out[: study.n_eval_pairs]}
    bon_rows = held_out[study.n_eval_pairs :]
    bon_prompts = [r["prompt"] for r in bon_rows]

    # 1. pool and its gold scores (shared by every noise setting)
    pool = cached_pool(study.policy, bon_prompts, study.pool_size, sampling, study.seed + 104_729)
    pool_key = fingerprint(study.policy, bon_prompts, study.pool_size, asdict(sampling), study.seed)
    gold = make_gold(gold_config, bon_rows)
    gold_scores = cached_scores(
        "pool_gold", dict(pool=pool_key, gold=asdict(gold_config)), gold.score, bon_prompts, pool
    )
    ns = default_ns(study.pool_size, study.n_grid_points)
    objectives = {name: partial(apply_objective, name, lam=study.uwo_lambda) for name in study.objectives}
    results = dict(
        recipe="bon",
        metadata=run_metadata(),
        noise=study.noise,  # config order (JSON objects are written key-sorted)
        objectives=study.objectives,
        ns=ns,
        pool=dict(prompts=len(bon_prompts), size=study.pool_size, gold_mean=float(gold_scores.mean())),
        settings={},
    )
    samples = []
    for spec in study.noise:
        setting_start = time.time()
        # 2. proxies for this noise setting (every process takes part; caches are shared)
        pairs = scored_pair_datasets(study.policy, splits, sampling, gold_config, spec, study.seed)
        ensemble, logs = cached_ensemble(pairs["train"], ensemble_config, spec)
        ensemble.to(state.device)
        accuracy = pair_accuracy(ensemble, pairs["eval"], objectives)
        proxy_key = dict(pool=pool_key, ensemble=asdict(ensemble_config), noise=spec, pairs=len(pairs["train"]))
        member_scores = cached_scores("pool_proxy", proxy_key, ensemble.score, bon_prompts, pool)
        # 3. curves and fits
        selectors = selector_scores(member_scores, study.objectives, study.uwo_lambda)
        curves = bon_results(gold_scores, selectors, ns)
        results["settings"][spec] = dict(
            flip_rate=float(sum(pairs["train"]["flipped"]) / len(pairs["train"])),
            accuracy=accuracy,
            train_loss=logs["loss"],
            seconds=time.time() - setting_start,
            **curves,
        )
        summary = {name: round(c["gold_at_max_n"], 3) for name, c in curves["selectors"].items()}
        state.print(f"[{spec}] gold at n={ns[-1]} (pool std units, shifted): {summary}")
        shown = bon_prompts[: study.n_sample_prompts]
        samples += [
            dict(noise=spec, **r) for r in best_of_n_picks(shown, pool, gold_scores, selectors, study.sample_ns)
        ]
    results["seconds"] = time.time() - started
    if state.is_main_process:
        write_json(out / "results.json", results)
        write_jsonl(out / "samples.jsonl", samples)
        for path in plot_bon(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


if __name__ == "__main__":
    main()
