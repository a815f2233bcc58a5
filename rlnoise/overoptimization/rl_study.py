"""Shared parts of the online-RL recipes: prompt splits, proxy rewards per noise setting, checkpoints, results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rlnoise.core.config import check_positive, to_dict
from rlnoise.core.distributed import barrier, process_state
from rlnoise.core.files import append_jsonl, read_jsonl, write_json, write_yaml
from rlnoise.core.generation import SamplingConfig
from rlnoise.core.runs import run_dir, run_metadata
from rlnoise.core.tasks import load_prompts
from rlnoise.overoptimization.objectives import OBJECTIVES
from rlnoise.overoptimization.pipeline import RMStudyConfig, cached_ensemble, make_gold, scored_pair_datasets
from rlnoise.overoptimization.plots import plot_rl
from rlnoise.overoptimization.reward import EnsembleReward
from rlnoise.overoptimization.rl_eval import evaluate_policy
from rlnoise.overoptimization.scaling import fit_rl, rl_peak


@dataclass
class RLStudyConfig(RMStudyConfig):
    """Online-RL settings on top of the reward-model study (shared by the PPO and GRPO/RLOO recipes)."""

    run_name: str = field(default="ppo_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_rl_prompts: int = field(default=64, metadata={"help": "Training prompts of the policy."})
    n_rl_eval_prompts: int = field(default=16, metadata={"help": "Fixed evaluation prompts."})
    objectives: list[str] = field(
        default_factory=lambda: ["mean"], metadata={"help": "Reward objectives to train on."}
    )
    kl_coefs: list[float] = field(default_factory=lambda: [0.01], metadata={"help": "beta values to sweep."})
    total_steps: int = field(default=40, metadata={"help": "PPO steps per run."})
    eval_every: int = field(default=10, metadata={"help": "Evaluate every k steps (and at 0 and the end)."})
    checkpoint_every: int = field(default=10, metadata={"help": "Checkpoint every k steps."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_rl_prompts", "n_rl_eval_prompts", "total_steps", "eval_every", "checkpoint_every"):
            check_positive(name, getattr(self, name), integer=True)
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ValueError(f"objectives must be names in {sorted(OBJECTIVES)}, got '{name}'")
        for beta in self.kl_coefs:
            check_positive("kl_coefs", beta, allow_zero=True)


def rl_prompt_splits(study) -> tuple[dict[str, list[dict]], list[dict], list[str], list[str]]:
    """Disjoint prompts: RM training pairs, RM held-out pairs, RL training prompts, RL evaluation prompts.

    The RM splits equal those of the best-of-n recipe with the same settings, so their cached pairs and
    ensembles are shared.

    Returns:
        ``(rm_splits, rl_rows, rl_prompts, eval_prompts)``.
    """
    n_rl = study.n_rl_prompts + study.n_rl_eval_prompts
    prompts = load_prompts(
        study.prompt_sources, n_train=study.n_train_pairs, n_eval=study.n_eval_pairs + n_rl, seed=study.seed
    )
    held_out = prompts["eval"].to_list()
    rm_splits = {"train": prompts["train"].to_list(), "eval": held_out[: study.n_eval_pairs]}
    rl_rows = held_out[study.n_eval_pairs :]
    rl_prompts = [r["prompt"] for r in rl_rows[: study.n_rl_prompts]]
    return rm_splits, rl_rows, rl_prompts, [r["prompt"] for r in rl_rows[study.n_rl_prompts :]]


def proxy_rewards(study, sampling, gold_config, ensemble_config, rm_splits, device):
    """For each noise setting: ``(spec, ensemble, reference, flip_rate)``, where ``reference`` (the initial
    policy's held-out responses) is what members are standardised on. See :func:`initial_gold_std` for gold."""
    for spec in study.noise:
        pairs = scored_pair_datasets(study.policy, rm_splits, sampling, gold_config, spec, study.seed)
        ensemble, _ = cached_ensemble(pairs["train"], ensemble_config, spec)
        ensemble.to(device)
        held_out = pairs["eval"]
        reference = (list(held_out["raw_prompt"]) * 2, list(held_out["chosen"]) + list(held_out["rejected"]))
        yield spec, ensemble, reference, float(sum(pairs["train"]["flipped"]) / len(pairs["train"]))


def initial_gold_std(study, sampling, gold_config, rm_splits) -> float:
    """Standard deviation of gold over the initial policy's held-out responses: RL gold curves are divided by it,
    so gold and proxy (standardised on the same responses) share a unit."""
    pairs = scored_pair_datasets(study.policy, rm_splits, sampling, gold_config, "none", study.seed)["eval"]
    return float(np.std(list(pairs["gold_chosen"]) + list(pairs["gold_rejected"]))) or 1.0


@dataclass
class RLContext:
    """What every RL run of a study shares."""

    study: RLStudyConfig
    sampling: SamplingConfig
    gold: object
    rl_prompts: list[str]
    eval_prompts: list[str]
    out: Path
    state: object  # accelerate PartialState


def evaluate_and_record(ctx: RLContext, run: dict, step: int, policy, tokenizer, reward, reference=None) -> None:
    """Evaluate the policy on the fixed prompts (main process) and append a metrics row and a few samples."""
    if ctx.state.is_main_process:
        label, start = run_label(run), time.time()
        metrics = evaluate_policy(
            policy,
            tokenizer,
            ctx.eval_prompts,
            ctx.sampling,
            ctx.gold,
            reward,
            reference=reference,
            seed=ctx.study.seed + 1,
        )
        samples = metrics.pop("samples")
        append_jsonl(
            ctx.out / "metrics.jsonl", dict(run=label, **run, step=step, seconds=time.time() - start, **metrics)
        )
        for p, r, g, x in samples[:4]:
            append_jsonl(ctx.out / "samples.jsonl", dict(run=label, step=step, prompt=p, response=r, gold=g, proxy=x))
        print(f"[{label}] step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    barrier()


def run_rl_study(algorithm: str, configs: tuple, train_one) -> None:
    """The study loop shared by the PPO and trl recipes: for each noise setting, objective and KL coefficient,
    ``train_one(run, reward, ctx)``; then results.json and the plot from metrics.jsonl.

    Args:
        algorithm: name recorded in the results and used for the plot file.
        configs: ``(study, algorithm_config, sampling, gold_config, ensemble_config)`` as parsed.
    """
    study, _, sampling, gold_config, ensemble_config = configs
    state = process_state()
    out = run_dir("overoptimization", study.run_name, study.output_root)
    if state.is_main_process:
        write_yaml(out / "config.yaml", to_dict(configs))
    rm_splits, rl_rows, rl_prompts, eval_prompts = rl_prompt_splits(study)
    ctx = RLContext(study, sampling, make_gold(gold_config, rl_rows), rl_prompts, eval_prompts, out, state)
    flip_rates = {}
    for spec, ensemble, reference, flip_rate in proxy_rewards(
        study, sampling, gold_config, ensemble_config, rm_splits, state.device
    ):
        flip_rates[spec] = flip_rate
        for objective in study.objectives:
            reward = EnsembleReward(ensemble, objective, study.uwo_lambda, reference=reference)
            for beta in study.kl_coefs:
                train_one(dict(noise=spec, objective=objective, beta=beta), reward, ctx)
    gold_std = initial_gold_std(study, sampling, gold_config, rm_splits)  # all processes: it reads a cached stage
    if state.is_main_process:
        results = rl_results(read_jsonl(out / "metrics.jsonl"), gold_std)
        results.update(
            recipe="rl", algorithm=algorithm, metadata=run_metadata(), noise=study.noise, flip_rate=flip_rates
        )
        write_json(out / "results.json", results)
        for path in plot_rl(results, out):
            print(f"wrote {path}")
        print(f"results in {out}")


def run_folder_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "-" for c in label)


def run_label(run: dict) -> str:
    """``"noise|objective|beta=x"``: the key of one RL run."""
    return f"{run['noise']}|{run['objective']}|beta={run['beta']}"


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The ``step-NNNNNN`` checkpoint with the highest step under ``folder`` (complete ones only), or None."""
    folder = Path(folder)
    done = [p for p in folder.glob("step-*") if (p / "trainer.json").exists()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def rl_results(rows: list[dict], gold_std: float = 1.0) -> dict:
    """Curves and fits per run from evaluation rows.

    Rows of the same (run, step) keep the last one (a resumed run may re-evaluate a step). Gold and proxy are
    shifted to 0 at step 0 and gold is divided by ``gold_std`` (``gold_raw`` keeps its units); Gao's RL form
    d (alpha - beta log d) is fit to gold vs d = sqrt(KL) when at least two evaluations have KL > 0.

    Returns:
        ``{"gold_std", "runs": {label: {"noise", "objective", "beta", "step", "kl", "gold", "gold_raw", "proxy",
        "ensemble_variance", "alpha", "beta_fit", "d_peak"}}}``.
    """
    latest: dict[tuple[str, int], dict] = {}
    for row in rows:
        latest[row["run"], row["step"]] = row
    runs: dict[str, dict] = {}
    for (label, _), row in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        run = runs.setdefault(
            label, dict(noise=row["noise"], objective=row["objective"], beta=row["beta"], **{k: [] for k in KEYS})
        )
        for key in KEYS:
            run[key].append(row[key])
    for run in runs.values():
        for key in ("gold", "proxy"):
            run[key] = (np.asarray(run[key]) - run[key][0]).tolist()
        run["gold_raw"] = run["gold"]
        run["gold"] = (np.asarray(run["gold_raw"]) / gold_std).tolist()
        kl = np.maximum(np.asarray(run["kl"]), 0.0)
        if np.count_nonzero(kl > 0) >= 2:
            alpha, beta = fit_rl(kl, run["gold"])
            run.update(alpha=alpha, beta_fit=beta, d_peak=rl_peak(alpha, beta))
    return dict(gold_std=gold_std, runs=runs)


KEYS = ("step", "kl", "gold", "proxy", "ensemble_variance")
