"""The elicitation sweep: tasks x budgets x weak fractions x methods x seeds.

Each finished cell is appended to ``cells-<shard>.jsonl`` in the run folder; a rerun (any shard layout) skips
cells whose key is already in any ``cells*.jsonl``. ``--shard i/n`` runs every n-th cell, so n machines can split
a sweep and write to the same folder. Rows store the labels a cell used, not only its cost, so results can be
re-scored under any weak marginal cost without retraining (``analysis.rescore``).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from rlnoise.core.config import to_dict
from rlnoise.core.console import progress
from rlnoise.core.models import is_causal, model_type
from rlnoise.core.runs import Run
from rlnoise.core.stages import STAGE_LOG, log_cost
from rlnoise.core.tasks import binary_task
from rlnoise.elicitation.analysis import frontier, method_effects, regimes, summarize
from rlnoise.elicitation.cells import CellData, run_cell
from rlnoise.elicitation.config import LearnerConfig, SweepConfig
from rlnoise.elicitation.cost import Spend
from rlnoise.elicitation.data import Splits, make_splits
from rlnoise.elicitation.learner import StrongLearner
from rlnoise.elicitation.methods import method
from rlnoise.elicitation.plots import plot_elicitation
from rlnoise.elicitation.report import elicitation_claims, results_table
from rlnoise.elicitation.weak import weak_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GridPoint:
    task: str
    method: str
    budget: float
    weak_fraction: float
    seed: int


def grid(config: SweepConfig) -> list[GridPoint]:
    """Every (task, method, budget, fraction, seed) the sweep covers, in a fixed order."""
    return [
        GridPoint(task, name, float(budget), float(f), seed)
        for task in config.tasks
        for seed in config.seeds
        for budget in sorted(config.budgets)
        for name in config.methods
        for f in method(name).fractions(sorted(config.weak_fractions))
    ]


def _data_key(config: SweepConfig, task: str) -> dict:
    return dict(
        task=task,
        data_seed=config.data_seed,
        n_test=config.n_test,
        n_weak_train=config.n_weak_train,
        max_examples=config.max_examples,
    )


def point_spend(config: SweepConfig, point: GridPoint) -> Spend:
    """The labels a grid point buys: its method's split of the budget (validation and few-shot labels charged)."""
    return method(point.method).spend(
        point.budget, point.weak_fraction, config.weak_marginal_cost, n_val=config.n_val, k=config.few_shot_k
    )


def cell_parts(config: SweepConfig, point: GridPoint) -> tuple[dict, Spend]:
    """What determines a cell's result beyond the run's config: two grid points that buy the same labels (same
    task, method, spend and seed) share one result."""
    spend = point_spend(config, point)
    return dict(task=point.task, method=point.method, spend=vars(spend), seed=point.seed), spend


ELICITATION_AXES = ("tasks", "budgets", "weak_fractions", "methods", "seeds")


def task_splits(config: SweepConfig, task: str) -> Splits:
    """The binary task and its splits (cheap: no model runs)."""
    data = binary_task(task, seed=config.data_seed)
    if config.max_examples and config.max_examples < len(data):
        data = data.select(range(config.max_examples))
    return make_splits(data, n_test=config.n_test, n_weak_train=config.n_weak_train, seed=config.data_seed)


def task_data(config: SweepConfig, learner_config: LearnerConfig, splits: Splits, need_weak: bool):
    """What the cells of one task share: weak labels for its weak pool (cached) and the strong learner."""
    task = splits.data[0]["source"]
    weak_info: dict = {}
    probs_by_row: dict = {}
    if need_weak:
        probs, weak_info = weak_labels(
            splits, model=config.weak_model, pooling=config.weak_pooling, cache_key=_data_key(config, task)
        )
        probs_by_row = dict(zip(splits.weak_pool, probs.tolist()))
    texts = list(splits.data["text"])
    learner = StrongLearner(learner_config, texts, splits.weak_pool + splits.gold_pool)
    return CellData(splits, probs_by_row, learner, config.prompt_model), dict(weak_info, **splits.sizes())


def feasible_points(config: SweepConfig, splits: dict[str, Splits]) -> list[GridPoint]:
    """The grid without points that need more examples than a task's pools hold: an error, or (with
    ``skip_infeasible``) a warning that lists them."""
    points, skipped = [], []
    for point in grid(config):
        spend = point_spend(config, point)
        s = splits[point.task]
        gold = spend.n_gold + spend.n_val + spend.n_fewshot
        if spend.n_weak <= len(s.weak_pool) and gold <= len(s.gold_pool):
            points.append(point)
            continue
        message = (
            f"budget {point.budget:g} at weak_fraction {point.weak_fraction:g} ({point.method}) needs {spend.n_weak} "
            f"weak and {gold} gold examples of {point.task!r}, whose pools hold {len(s.weak_pool)} and "
            f"{len(s.gold_pool)}"
        )
        if not config.skip_infeasible:
            raise ValueError(
                f"budgets: {message}; lower the budget, the weak fraction or n_test/n_weak_train, or set "
                "skip_infeasible"
            )
        skipped.append(message)
    if skipped:
        logger.warning("skipping %d grid points the pools cannot hold:\n  %s", len(skipped), "\n  ".join(skipped))
    return points


def run_sweep(
    config: SweepConfig, learner_config: LearnerConfig, run: Run | None = None, splits: dict[str, Splits] | None = None
) -> list[dict]:
    """Run this shard's unfinished cells; returns the finished rows of the whole grid (every shard), in order.

    ``run`` is the run folder (default: opened here, after the grid is checked against the pools)."""
    prompted = [m for m in config.methods if method(m).fewshot and method(m).train]
    if learner_config.mode == "head" and prompted and not is_causal(model_type(learner_config.strong_model)):
        raise ValueError(
            f"methods {prompted} put exemplars before the classifier's input; in mode head that needs a causal LM "
            f"as strong_model (its features are read after the exemplars), not {learner_config.strong_model!r} "
            f"({model_type(learner_config.strong_model)}); or use mode lora / full"
        )
    splits = splits or {task: task_splits(config, task) for task in config.tasks}
    points = feasible_points(config, splits)
    run = run or open_run(config, learner_config)
    log = run.cells(f"cells-{config.shard_index}of{config.shard_count}.jsonl", pattern="cells*.jsonl")
    done = log.finished()
    by_result = {r["result_key"]: r for r in done.values()}
    keys = [log.key(vars(p)) for p in points]
    mine = [(p, k) for i, (p, k) in enumerate(zip(points, keys)) if i % config.shard_count == config.shard_index]
    tasks: dict[str, tuple] = {}

    def data_of(task: str) -> tuple:
        if task not in tasks:
            need_weak = any(method(m).weak for m in config.methods)
            tasks[task] = task_data(config, learner_config, splits[task], need_weak)
            # Each Trainer runs gc.collect() (accelerate's free_memory) twice; with the features, datasets and
            # models now alive that took 0.35 s a cell. Frozen objects are skipped by those collections.
            gc.freeze()
        return tasks[task]

    for task in sorted({p.task for p, _ in mine}):  # loaded (cached) even when every cell is done: its stages'
        data_of(task)  # costs then enter the run's cost model (rlnoise.power)
    for point, key in progress(mine, f"cells (shard {config.shard})"):
        if key in done:
            log_cell_cost(done[key], cached=True)
            continue
        parts, spend = cell_parts(config, point)
        result_key = log.key(parts)
        if result_key in by_result:  # same labels at another grid point (e.g. prompting at every budget): reuse
            result = {k: v for k, v in by_result[result_key].items() if k not in ("budget", "weak_fraction")}
        else:
            data, info = data_of(point.task)
            stages_before = len(STAGE_LOG)
            result = dict(
                run_cell(data, point.method, spend, point.seed),
                result_key=result_key,
                task=point.task,
                method=point.method,
                weak_accuracy=info.get("weak_pool_accuracy"),
                n_test=len(data.splits.test),
            )
            built = [e["seconds"] for e in STAGE_LOG[stages_before:] if not e["cached"]]
            result["stage_seconds"] = sum(built)  # stages the cell built (prompting scores), logged by themselves
        row = log.append(key, dict(result, budget=point.budget, weak_fraction=point.weak_fraction))
        if result_key not in by_result:  # a reused result was logged with the cell that computed it
            log_cell_cost(row, cached=False, net=True)
        done[key] = by_result[result_key] = row
    return log.rows(keys)


def log_cell_cost(row: dict, cached: bool, net: bool = False) -> None:
    """A cell's cost for the power planner: it grows with seeds (each seed trains anew; evaluating its test
    examples is a small part). Cells that bought the same labels share one result and count once. ``net``: the
    cell ran now, so the stages it built logged their own cost and are left out of its; a finished cell from an
    earlier run counts whole, since those stages are not asked for again."""
    name = f"{row['task']} {row['method']} n_weak={row['n_weak']} n_gold={row['n_gold']} seed {row['seed']}"
    seconds = row.get("seconds")
    if net and seconds is not None:
        seconds -= row.get("stage_seconds", 0.0)
    log_cost(name, row["result_key"], seconds, "seeds", cached)


def open_run(config: SweepConfig, learner_config: LearnerConfig) -> Run:
    """The sweep's run folder: its grid axes may change between reruns, nothing else."""
    return Run("elicitation", to_dict((config, learner_config)), axes=ELICITATION_AXES)


def run_elicitation_sweep(config: SweepConfig, learner_config: LearnerConfig) -> dict:
    """Run (or resume) this shard of the sweep and write the summary of every finished cell of the grid."""
    import datasets

    datasets.disable_progress_bars()
    splits = {task: task_splits(config, task) for task in config.tasks}
    feasible_points(config, splits)  # an infeasible grid stops here, before the run folder is touched
    run = open_run(config, learner_config)
    rows = run_sweep(config, learner_config, run, splits)
    summary = summarize(rows, config.weak_marginal_cost)
    results = {
        "recipe": "elicitation",
        "weak_marginal_cost": config.weak_marginal_cost,
        "summary": summary,
        "regimes": regimes(summary, rows),
        "frontier": {t: frontier(summary, t) for t in sorted({s["task"] for s in summary})},
        "fewshot_effect": method_effects(rows, "fewshot_sft", "sequential"),
        "weak_labeler": {r["task"]: r["weak_accuracy"] for r in rows if r.get("weak_accuracy") is not None},
        "cells": len(rows),
        "task_texts": {t: len(splits[t].data) for t in config.tasks},  # the most test examples a task could give
    }
    results["claims"] = [c.as_dict() for c in elicitation_claims(results)]  # what rlnoise.power plans from
    run.write_outputs(results, table=results_table(results), plot=plot_elicitation)
    return results
