"""The online-RL study: prompt splits, proxy rewards per noise setting, one run per (noise, objective, beta) with
rlnoise PPO or trl GRPO/RLOO, evaluation rows, Gao RL fits, results and plot."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rlnoise.core.config import SamplingConfig, to_dict
from rlnoise.core.console import say
from rlnoise.core.distributed import barrier, process_state
from rlnoise.core.files import append_jsonl, read_jsonl
from rlnoise.core.models import load_model
from rlnoise.core.runs import Run
from rlnoise.core.stages import log_cost
from rlnoise.core.stats import pool_seed_claims, pool_seed_results
from rlnoise.overoptimization.config import ENSEMBLE_LEGACY_KEY, RLStudyConfig
from rlnoise.overoptimization.pipeline import make_gold, proxy_ensembles, scored_pair_datasets, study_prompts
from rlnoise.overoptimization.plots import plot_rl
from rlnoise.overoptimization.ppo import PPOConfig, PPOTrainer
from rlnoise.overoptimization.reward import EnsembleReward
from rlnoise.overoptimization.rl_eval import evaluate_policy
from rlnoise.overoptimization.rl_report import add_intervals, rl_claims, rl_markdown
from rlnoise.overoptimization.scaling import fit_rl, rl_form, rl_peak


def rl_prompt_splits(study) -> tuple[dict[str, list[dict]], list[dict], list[str], list[str]]:
    """Disjoint prompts: RM training pairs, RM held-out pairs, RL training prompts, RL evaluation prompts.

    Returns:
        ``(rm_splits, rl_rows, rl_prompts, eval_prompts)``.
    """
    rm_splits, rl_rows = study_prompts(study, study.n_rl_prompts + study.n_rl_eval_prompts)
    rl_prompts = [r["prompt"] for r in rl_rows[: study.n_rl_prompts]]
    return rm_splits, rl_rows, rl_prompts, [r["prompt"] for r in rl_rows[study.n_rl_prompts :]]


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
    config_key: str  # the run's config key, stamped on every metrics row
    state: object  # accelerate PartialState


def evaluate_and_record(
    ctx: RLContext, run: dict, step: int, policy, tokenizer, reward, reference=None, extra=None
) -> dict[str, float]:
    """Evaluate the policy on the fixed prompts (main process) and append a metrics row and a few samples; returns
    the row's numbers (``{}`` on other processes).

    ``reward`` None: the policy's implicit reward at ``run["beta"]`` is its proxy (DPO); ``extra()`` returns further
    metrics for the row."""
    shown: dict[str, float] = {}
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
            samples_per_prompt=ctx.study.eval_samples_per_prompt,
            implicit_beta=run["beta"],
            reuse=step == 0,  # every run's initial policy: sampled once per process
        )
        metrics.update(extra() if extra else {})
        samples = metrics.pop("samples")
        row = dict(run=label, **run, step=step, seconds=time.time() - start, config_key=ctx.config_key, **metrics)
        append_jsonl(ctx.out / "metrics.jsonl", row)
        for p, r, g, x in samples[:4]:
            append_jsonl(ctx.out / "samples.jsonl", dict(run=label, step=step, prompt=p, response=r, gold=g, proxy=x))
        shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
        print(f"[{label}] step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in shown.items()))
    barrier()
    return shown


def timed_run(ctx: RLContext, run: dict, train, *args) -> None:
    """``train(*args)``: one run and keep its wall time in ``run_costs.jsonl`` (main process), so the power planner's
    cost model covers the runs of every process that worked on the study (a resumed run adds its remainder)."""
    start = time.time()
    train(*args)
    if ctx.state.is_main_process:
        row = dict(run=run_label(run), seconds=time.time() - start, config_key=ctx.config_key)
        append_jsonl(ctx.out / "run_costs.jsonl", row)


def log_run_costs(ctx: RLContext, labels: list[str], rows: list[dict]) -> None:
    """Log each run's cost for the power planner (:func:`rlnoise.core.stages.log_cost`): its evaluations (the
    ``seconds`` of its rows: they grow with prompts x seeds) and the rest of its recorded wall time, training (it
    grows with seeds)."""
    path = ctx.out / "run_costs.jsonl"
    walls = [r for r in read_jsonl(path) if r.get("config_key") == ctx.config_key] if path.exists() else []
    latest = {(r["run"], r["step"]): r for r in rows}  # an evaluation redone by a resumed run counts once
    for label in labels:
        evaluation = sum(r.get("seconds", 0.0) for r in latest.values() if r["run"] == label)
        wall = sum(r["seconds"] for r in walls if r["run"] == label)
        key = f"{ctx.config_key}/{label}"
        log_cost(f"{label} (training)", f"{key}/train", max(wall - evaluation, 0.0), "seeds", False)
        log_cost(f"{label} (evaluation)", f"{key}/evaluate", evaluation, "units x seeds", False)


def train_ppo(ppo_config: PPOConfig, run: dict, reward, ctx: RLContext) -> None:
    """One PPO run (``run``: noise, objective, beta, replicate seed) on its own copy of the PPO config, resumed if
    checkpointed."""
    study, replicate = ctx.study, run["seed"]
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed + replicate)
    config = replace(ppo_config, kl_coef=run["beta"], ppo_seed=ppo_config.ppo_seed + replicate)
    trainer = PPOTrainer(policy.to(ctx.state.device), tokenizer, reward, config, ctx.sampling)

    def evaluate(trainer: PPOTrainer):
        policy = trainer.unwrapped.policy
        shown = evaluate_and_record(ctx, run, trainer.step, policy, tokenizer, reward, reference=trainer.reference)
        trainer.accelerator.log({f"eval/{k}": v for k, v in shown.items()}, step=trainer.step)

    trainer.train(
        ctx.rl_prompts,
        total_steps=study.total_steps,
        seed=study.seed + replicate,
        evaluate=evaluate,
        eval_every=study.eval_every,
        checkpoints=ctx.out / "checkpoints" / run_folder_name(run_label(run)),
        checkpoint_every=study.checkpoint_every,
        label=run_label(run),
    )


# a resumed RL run may add or drop these; nothing else may change
RL_AXES = ("noise", "objectives", "kl_coefs", "seeds")


def run_rl_study(study: RLStudyConfig, algorithm_config, sampling, gold_config, ensemble_config) -> dict:
    """For each noise setting, objective, KL coefficient and replicate seed, one RL run (rlnoise PPO when
    ``algorithm_config`` is a :class:`PPOConfig`, else trl GRPO/RLOO); then results.json and the plot from this
    config's metrics rows, replicates pooled.

    A killed study resumes: runs continue from their last checkpoint. Rerunning the folder with another config
    (other than the sweep axes) stops with an error naming the differing fields.
    """
    is_ppo = isinstance(algorithm_config, PPOConfig)
    if is_ppo and algorithm_config.kl_coef != PPOConfig().kl_coef:
        raise ValueError(
            f"kl_coef ({algorithm_config.kl_coef}) is not used by the RL study: the KL coefficient is swept by "
            "kl_coefs (e.g. --kl_coefs 0.01 0.1)"
        )
    algorithm = "ppo" if is_ppo else algorithm_config.algorithm
    state = process_state()
    configs = (study, algorithm_config, sampling, gold_config, ensemble_config)
    out_run = Run("overoptimization", to_dict(configs), axes=RL_AXES, legacy_key=ENSEMBLE_LEGACY_KEY)
    rm_splits, rl_rows, rl_prompts, eval_prompts = rl_prompt_splits(study)
    gold = make_gold(gold_config, rl_rows)
    ctx = RLContext(study, sampling, gold, rl_prompts, eval_prompts, out_run.folder, out_run.key, state)
    flip_rates, labels = {}, []
    for spec, pairs, ensemble, _, _ in proxy_ensembles(
        study, rm_splits, sampling, gold_config, ensemble_config, state.device, steps=(1, len(study.noise))
    ):
        flip_rates[spec] = pairs.flip_rate
        held_out = pairs["eval"]  # the initial policy's held-out responses: members are standardised on them
        reference = (list(held_out["raw_prompt"]) * 2, list(held_out["chosen"]) + list(held_out["rejected"]))
        for objective in study.objectives:
            reward = EnsembleReward(ensemble, objective, study.uwo_lambda, reference=reference)
            for beta in study.kl_coefs:
                for replicate in study.seeds:
                    run = dict(noise=spec, objective=objective, beta=beta, seed=replicate)
                    labels.append(run_label(run))
                    if is_ppo:
                        timed_run(ctx, run, train_ppo, algorithm_config, run, reward, ctx)
                    else:
                        from rlnoise.overoptimization.trl_rl import train_trl  # trl loads slowly; only when used

                        timed_run(ctx, run, train_trl, algorithm_config, run, reward, ctx)
    gold_std = initial_gold_std(study, sampling, gold_config, rm_splits)  # all processes: it reads a cached stage
    rows = [r for r in read_jsonl(out_run.folder / "metrics.jsonl") if r.get("config_key") == out_run.key]
    log_run_costs(ctx, labels, rows)
    results = rl_results([r for r in rows if r["run"] in labels], gold_std)
    results.update(recipe="rl", algorithm=algorithm, noise=study.noise, flip_rate=flip_rates, seeds=study.seeds)
    out_run.write_outputs(results, table=rl_markdown(results), plot=plot_rl)
    return results


def run_folder_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "-" for c in label)


def run_label(run: dict) -> str:
    """``"noise|objective|beta=x"``, plus ``"|seed=s"`` for a replicate seed other than 0: the key of one RL run."""
    seed = f"|seed={run['seed']}" if run.get("seed") else ""
    return f"{run['noise']}|{run['objective']}|beta={run['beta']}{seed}"


def rl_results(rows: list[dict], gold_std: float = 1.0, claims_of=rl_claims) -> dict:
    """Curves, fits, intervals and claims per run (noise, objective, beta) from evaluation rows, pooled over the
    replicate seeds that finished the same evaluations (:func:`rlnoise.core.stats.pool_seed_results`; the claims,
    from ``claims_of(results, draws)`` per seed, with :func:`~rlnoise.core.stats.pool_seed_claims`). With several
    seeds, ``by_seed`` keeps each seed's runs.
    """
    by_seed: dict[int, list[dict]] = {}
    for row in rows:
        pooled_label = run_label({k: row[k] for k in ("noise", "objective", "beta")})
        by_seed.setdefault(row.get("seed", 0), []).append(dict(row, run=pooled_label))
    per_seed = {seed: seed_runs(seed_rows, gold_std) for seed, seed_rows in sorted(by_seed.items())}
    if not per_seed:
        return dict(gold_std=gold_std, runs={}, claims=[])
    first, *others = per_seed.values()
    shared = [  # runs every seed finished with the same evaluation steps
        label
        for label, run in first[0].items()
        if all(label in runs and runs[label]["step"] == run["step"] for runs, _ in others)
    ]
    dropped = sorted(set().union(*(runs for runs, _ in per_seed.values())) - set(shared))
    if dropped:
        say(f"note: runs left out of the pooled results (not finished alike in every seed): {dropped}")
    claims = []
    for runs, draws in per_seed.values():
        kept = {label: runs[label] for label in shared}
        claims.append(claims_of(dict(runs=kept), {k: v for k, v in draws.items() if k in kept}))
    # a claim needs every seed's intervals (runs whose rows lack per-prompt means have none)
    common = set.intersection(*({c.statement for c in seed_claims} for seed_claims in claims))
    claims = [[c for c in seed_claims if c.statement in common] for seed_claims in claims]
    pooled = pool_seed_results([{label: runs[label] for label in shared} for runs, _ in per_seed.values()])
    for run in pooled.values():  # recomputed from the pooled interval, not a vote between seeds
        if "d_peak_interval" in run:
            run["fit_resolved"] = bool(np.isfinite(run["d_peak_interval"]["high"]))
    results = dict(gold_std=gold_std, runs=pooled, claims=[c.as_dict() for c in pool_seed_claims(claims)])
    if len(per_seed) > 1:
        results["by_seed"] = {seed: runs for seed, (runs, _) in per_seed.items()}
    return results


def seed_runs(rows: list[dict], gold_std: float = 1.0) -> tuple[dict, dict]:
    """Curves, fits and intervals per run from one seed's evaluation rows, and each run's bootstrap draws.

    Rows of the same (run, step) keep the last one (a resumed run may re-evaluate a step). Gold and proxy are
    shifted to 0 at step 0 and gold is divided by ``gold_std`` (``gold_raw`` keeps its units); Gao's RL form
    d (alpha - beta log d) is fit to gold vs d = sqrt(KL) when at least two evaluations have KL > 0, with its R^2.
    When every evaluation of a run kept its per-prompt means, the run also gets 95% bands and intervals
    (:func:`rlnoise.overoptimization.rl_report.add_intervals`), and its draws are returned for the claims.

    Returns:
        ``({label: {"noise", "objective", "beta", "step", "kl", "gold", "gold_raw", "proxy", "ensemble_variance",
        "alpha", "beta_fit", "d_peak", "r2", ...intervals}}, {label: draws})``.
    """
    latest: dict[tuple[str, int], dict] = {}
    for row in rows:
        latest[row["run"], row["step"]] = row
    runs: dict[str, dict] = {}
    by_prompt: dict[str, dict[str, list]] = {}
    for (label, _), row in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        keys = [k for k in KEYS if k in row]  # DPO rows have no ensemble variance
        run = runs.setdefault(
            label, dict(noise=row["noise"], objective=row["objective"], beta=row["beta"], **{k: [] for k in keys})
        )
        for key in keys:
            run[key].append(row[key])
        for key in EXTRA_KEYS:
            if key in row:
                run.setdefault(key, []).append(row[key])
        prompts = by_prompt.setdefault(label, {"gold": [], "proxy": [], "kl": []})
        for key in prompts:
            prompts[key].append(row.get(f"{key}_by_prompt"))
    draws = {}
    for label, run in runs.items():
        for key in ("gold", "proxy"):
            run[key] = (np.asarray(run[key]) - run[key][0]).tolist()
        run["gold_raw"] = run["gold"]
        run["gold"] = (np.asarray(run["gold_raw"]) / gold_std).tolist()
        kl = np.maximum(np.asarray(run["kl"]), 0.0)
        if np.count_nonzero(kl > 0) >= 2:
            alpha, beta = fit_rl(kl, run["gold"])
            fitted, gold = rl_form(np.sqrt(kl), alpha, beta), np.asarray(run["gold"])
            spread = float(np.sum((gold - gold.mean()) ** 2))
            r2 = 1 - float(np.sum((gold - fitted) ** 2)) / spread if spread > 0 else float("nan")
            run.update(alpha=alpha, beta_fit=beta, d_peak=rl_peak(alpha, beta), r2=r2)
        prompts = by_prompt[label]
        if all(v is not None for v in prompts["gold"]) and len({len(v) for v in prompts["gold"]}) == 1:
            draws[label] = add_intervals(
                run, {k: np.asarray(v, dtype=np.float64) for k, v in prompts.items()}, gold_std
            )
    return runs, draws


KEYS = ("step", "kl", "gold", "proxy", "ensemble_variance")
EXTRA_KEYS = ("accuracy_true", "accuracy_noisy")  # DPO: the implicit reward's accuracy on held-out pairs
