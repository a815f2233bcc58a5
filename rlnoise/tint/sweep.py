"""The TInt noise sweep: task x noise type x contamination x intensity cells, each evaluated fine-tuned and
few-shot-prompted on a clean test set. Finished cells are appended to ``cells.jsonl`` and skipped on rerun."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace

from rlnoise.core.config import to_dict
from rlnoise.core.models import load_model
from rlnoise.core.runs import CellLog, Run
from rlnoise.core.stages import log_cost
from rlnoise.core.stats import (
    Claim,
    Interval,
    bootstrap_mean,
    claims_markdown,
    correctness_difference,
    correctness_string,
    pool_seed_claims,
    pool_seed_results,
    pooled_note,
    proportion_difference,
    wilson,
    with_units,
)
from rlnoise.tint.config import FinetuneConfig, TIntSweepConfig
from rlnoise.tint.convergence import generation_budget, held_out_set, loss_curve, train_cell
from rlnoise.tint.dataset import make_dataset, train_damage
from rlnoise.tint.evaluate import draw_exemplars, evaluate_model
from rlnoise.tint.matching import matched_intensity
from rlnoise.tint.noise import StaticNoise
from rlnoise.tint.plots import plot_tint


@dataclass(frozen=True)
class Cell:
    task: str
    noise: str  # "none", "static" or "dynamic"
    contamination: float
    intensity: float
    target: float | None = None  # the matched damage rate this intensity was calibrated to (``match``)

    @property
    def id(self) -> str:
        return f"{self.task}|{self.noise}|c={self.contamination:g}|p={self.intensity:g}"


def sweep_cells(config: TIntSweepConfig) -> list[Cell]:
    """One clean cell per task, then every noise type x contamination x intensity (zeros collapse into clean). With
    ``match``, the intensities are those that do each of ``match_targets``' damage (:mod:`rlnoise.tint.matching`)."""
    cells = []
    digits = config.digit_ranges()
    for task in config.tasks:
        cells.append(Cell(task, "none", 0.0, 0.0))
        for kind in config.noise_types:
            for c in (c for c in config.contaminations if c > 0):
                if config.match == "none":
                    intensities = config.static_intensities if kind == "static" else config.dynamic_intensities
                    cells += [Cell(task, kind, c, p) for p in intensities if p > 0]
                    continue
                settings = dict(
                    task=task, contamination=c, digits=digits[task], seed=config.seed, semantics=config.noise_semantics
                )
                if kind == "static":
                    settings["line_p"] = config.static_line_p
                for target in (t for t in config.match_targets if t > 0):
                    p = matched_intensity(kind, config.match, target, **settings)
                    cells.append(Cell(task, kind, c, p, target))
    return list(dict.fromkeys(cells))


def cell_datasets(config: TIntSweepConfig, cell: Cell, replicate: int = 0):
    """(noisy train set, clean test set) of a cell and replicate seed; train problems avoid the test problems,
    which every replicate shares."""
    digits = config.digit_ranges()[cell.task]
    test = make_dataset(cell.task, config.n_test, seed=config.seed + 10_000, **digits)
    noise = {}
    if cell.noise == "static":
        noise = {"static": StaticNoise(cell.intensity, config.static_line_p, semantics=config.noise_semantics)}
    elif cell.noise == "dynamic":
        noise = {"dynamic": cell.intensity, "semantics": config.noise_semantics}
    excluded = list(test["prompt"])
    if config.converge:  # the convergence check's problems are held out of training too
        excluded += held_out_set(config, cell.task, test)["prompt"]
    train = make_dataset(
        cell.task,
        config.n_train,
        seed=config.seed + replicate,
        contamination=cell.contamination,
        exclude_prompts=excluded,
        **digits,
        **noise,
    )
    return train, test


TINT_AXES = (
    "tasks",
    "noise_types",
    "contaminations",
    "static_intensities",
    "dynamic_intensities",
    "match_targets",
    "methods",
    "seeds",
)


def run_sweep(config: TIntSweepConfig, finetune_config: FinetuneConfig, log: CellLog, echo=print) -> list[dict]:
    """Run every unfinished (cell, replicate seed, method) job of the grid; returns the grid's rows of the cell
    log, in order."""
    done = log.finished()
    jobs = [(cell, replicate) for cell in sweep_cells(config) for replicate in config.seeds]
    # replicate 0 keeps the keys of a sweep without replicates, so its finished cells stay valid
    keys = {(c, r, m): log.key(c.id, m, *([r] if r else [])) for c, r in jobs for m in config.methods}
    base = {}  # the prompted model, loaded once
    # converge: the steps each (task, replicate)'s clean cell needed, which its noisy cells then train
    budgets = {(r["task"], r.get("seed", 0)): r["steps"] for r in done.values() if r.get("converged") is not None}
    for number, (cell, replicate) in enumerate(jobs, 1):
        name = f"[{number}/{len(jobs)}] {cell.id}" + (f" (seed {replicate})" if len(config.seeds) > 1 else "")
        todo = [m for m in config.methods if keys[cell, replicate, m] not in done]
        for method in set(config.methods) - set(todo):  # an earlier run's cost still counts in the cost model
            log_job_cost(keys[cell, replicate, method], done[keys[cell, replicate, method]], cached=True)
        if not todo:
            echo(f"{name}: finished in an earlier run, skipped")
            continue
        echo(f"{name}: {' and '.join(todo)}")
        train, test = cell_datasets(config, cell, replicate)
        damage = train_damage(train)
        for method in todo:
            started = time.time()
            training = {}
            if method == "finetune":
                seeded = replace(finetune_config, sft_seed=finetune_config.sft_seed + replicate)
                model, tokenizer, training = train_cell(config, seeded, cell, replicate, train, test, budgets)
                exemplars = None
            else:
                if "model" not in base:
                    prompted = config.few_shot_model or finetune_config.model
                    base["model"], base["tokenizer"] = load_model(prompted, "causal_lm", seed=finetune_config.sft_seed)
                model, tokenizer = base["model"], base["tokenizer"]
                exemplars = draw_exemplars(train, config.few_shot_k, len(test), seed=config.seed + replicate)
            budget = generation_budget(config, tokenizer, test)
            evaluation_started = time.time()
            metrics, rows = evaluate_model(
                model,
                tokenizer,
                test,
                max_new_tokens=budget,
                batch_size=config.eval_batch_size,
                exemplars=exemplars,
                desc=f"{cell.id} {method}",
            )
            row = {
                "cell": cell.id,
                "method": method,
                "seed": replicate,
                "task": cell.task,
                "noise": cell.noise,
                "contamination": cell.contamination,
                "intensity": cell.intensity,
                "match_target": cell.target,
                **metrics,
                "test_correct": correctness_string([r["correct"] for r in rows]),  # pairs cells on the test set
                "train_noised": sum(train["noised"]) / len(train),
                "train_changed": sum(train["changed"]) / len(train),
                "train_answer_wrong": damage["wrong_answer_rate"],
                "train_digit_rate": damage["digit_rate"],
                "train_line_rate": damage["line_rate"],
                "final_train_loss": training["loss"][-1]["loss"] if training.get("loss") else None,
                "steps": training.get("steps"),
                "converged": training.get("converged"),
                "convergence_checks": training.get("checks"),
                "loss_curve": loss_curve(training.get("loss", [])),
                "seconds": time.time() - started,
                "evaluation_seconds": time.time() - evaluation_started,
                "samples": rows[:3],
            }
            log.append(keys[cell, replicate, method], row)
            log_job_cost(keys[cell, replicate, method], row, cached=False)
            echo(
                f"      {method}: exact match {metrics['exact_match']:.3f}, "
                f"step accuracy {metrics['step_accuracy']:.3f}, parse failures {metrics['parse_failure']:.3f} "
                f"({row['seconds']:.0f} s)"
            )
            if method == "finetune":
                del model
                gc.collect()
    return log.rows(keys.values())


def log_job_cost(key: str, row: dict, cached: bool) -> None:
    """A job's cost for the power planner: its training grows with seeds, its evaluation with test problems x
    seeds (rows from before evaluations were timed count whole as training)."""
    evaluation = row.get("evaluation_seconds", 0.0)
    name = f"{row['cell']} {row['method']}"
    log_cost(f"{name} (training)", f"{key}/train", row["seconds"] - evaluation, "seeds", cached)
    log_cost(f"{name} (evaluation)", f"{key}/evaluate", evaluation, "units x seeds", cached)


def with_intervals(row: dict) -> dict:
    """A finished job with Wilson intervals on its exact-match and parse-failure rates (over its ``n`` test
    problems)."""
    n = row["n"]
    return dict(
        row,
        exact_match_interval=wilson(round(row["exact_match"] * n), n).as_dict(),
        parse_failure_interval=wilson(round(row["parse_failure"] * n), n).as_dict(),
    )


def tint_claims(rows: list[dict]) -> list[Claim]:
    """For each noisy cell and method: does the noise lower exact match below the clean cell of the same task and
    method (clean minus noisy, paired over the shared test problems when both rows kept their per-problem results,
    else Newcombe's interval)? For prompted cells also: do noisy exemplars raise the share of unparseable answers
    (noisy minus clean)?"""
    clean = {(r["task"], r["method"]): r for r in rows if r["noise"] == "none"}
    count = lambda row, rate: round(row[rate] * row["n"])  # noqa: E731
    claims = []
    for r in rows:
        base = clean.get((r["task"], r["method"]))
        if r["noise"] == "none" or base is None:
            continue
        what = f"{r['task']}, {r['method']}: {r['noise']} noise, intensity {r['intensity']:g}, "
        what += f"contamination {r['contamination']:g}"
        statement = f"{what} lowers exact match (clean minus noisy)"
        if "test_correct" in r and "test_correct" in base:
            lower = correctness_difference(base["test_correct"], r["test_correct"])
            claims.append(Claim.of(statement, with_units(bootstrap_mean(lower), lower)))
        else:
            gap = proportion_difference(count(base, "exact_match"), base["n"], count(r, "exact_match"), r["n"])
            claims.append(Claim(statement, gap))
        if r["method"] == "few_shot":
            rise = proportion_difference(count(r, "parse_failure"), r["n"], count(base, "parse_failure"), base["n"])
            claims.append(Claim(f"{what} raises parse failures (noisy minus clean)", rise))
    return claims + _noise_type_claims(rows)


def _noise_type_claims(rows: list[dict]) -> list[Claim]:
    """The paper's contrast: at the same contamination and matched damage (the same match target), dynamic noise
    lowers exact match more than static noise (static minus dynamic, paired over the test problems)."""
    matched = {}
    for r in rows:
        if r["noise"] != "none" and r.get("match_target") is not None and "test_correct" in r:
            matched[r["task"], r["method"], r["contamination"], r["match_target"], r["noise"]] = r
    claims = []
    for (task, method, contamination, target, noise), static in matched.items():
        dynamic = matched.get((task, method, contamination, target, "dynamic"))
        if noise != "static" or dynamic is None:
            continue
        gap = correctness_difference(static["test_correct"], dynamic["test_correct"])
        statement = (
            f"{task}, {method}: dynamic noise lowers exact match more than static noise at matched damage "
            f"({target:g}), contamination {contamination:g} (static minus dynamic)"
        )
        claims.append(Claim.of(statement, with_units(bootstrap_mean(gap), gap)))
    return claims


def pooled_cells(rows: list[dict]) -> tuple[list[dict], list[Claim]]:
    """Per (cell, method): its replicate seeds' rows pooled (:func:`rlnoise.core.stats.pool_seed_results`: means,
    and intervals from the test set and the spread between seeds; one seed: its Wilson intervals), with the list of
    ``seeds``; and the claims of every seed pooled statement by statement."""
    groups: dict[tuple[str, str], list[dict]] = {}
    by_seed: dict[int, list[dict]] = {}
    for row in rows:
        row = with_intervals({k: v for k, v in row.items() if k not in ("samples", "key", "config_key")})
        groups.setdefault((row["cell"], row["method"]), []).append(row)
        by_seed.setdefault(row.get("seed", 0), []).append(row)
    cells = []
    for rs in groups.values():
        per_seed = ("seed", "loss_curve", "convergence_checks") if len(rs) > 1 else ("seed",)  # in by_seed
        cell = pool_seed_results([{k: v for k, v in r.items() if k not in per_seed} for r in rs])
        for name in ("exact_match_interval", "parse_failure_interval"):  # rates: a pooled interval stays in [0, 1]
            cell[name] = dict(cell[name], low=max(cell[name]["low"], 0.0), high=min(cell[name]["high"], 1.0))
        cells.append(dict(cell, seeds=[r.get("seed", 0) for r in rs]))
    claims = pool_seed_claims([tint_claims(seed_rows) for seed_rows in by_seed.values()]) if rows else []
    return cells, claims


def results_table(cells: list[dict], claims: list[Claim]) -> str:
    """``results.md``: the claims, then a table of every (cell, method) with its 95% intervals."""
    seeds = max((len(c.get("seeds", [0])) for c in cells), default=1)
    head = (
        "| task | noise | contamination | intensity | training damage: digits / lines / answers | method | "
        "exact match | step accuracy | parse failures |"
    )
    note = (
        f"Exact match on the clean test set, [95% interval]: Wilson over the test problems{pooled_note(seeds)}. "
        "Training damage: the shares of trace digits and lines the noise changed and of final answers it made "
        "wrong, measured on the cell's training set against the clean traces.\n"
    )
    lines = [claims_markdown(claims), note, head, "|" + "---|" * 9]
    order = {"none": 0, "static": 1, "dynamic": 2}
    for r in sorted(
        cells, key=lambda r: (r["task"], r["method"], order[r["noise"]], r["contamination"], r["intensity"])
    ):
        lines.append(
            f"| {r['task']} | {r['noise']} | {r['contamination']:g} | {r['intensity']:g} | {_damage(r)} | "
            f"{r['method']} | "
            f"{Interval.from_dict(r['exact_match_interval'])} | {r['step_accuracy']:.3f} | "
            f"{Interval.from_dict(r['parse_failure_interval'])} |"
        )
    return "\n".join(lines)


def _damage(row: dict) -> str:
    if "train_digit_rate" not in row:  # rows of sweeps from before damage was measured
        return f"- / - / {row['train_answer_wrong']:.2f}"
    return f"{row['train_digit_rate']:.2f} / {row['train_line_rate']:.2f} / {row['train_answer_wrong']:.2f}"


def run_tint_sweep(config: TIntSweepConfig, finetune_config: FinetuneConfig) -> dict:
    """Run (or resume) the sweep in its run folder and write results.json, results.md, samples and the plot."""
    import datasets

    datasets.disable_progress_bars()  # many small per-cell datasets; the cells log their own progress
    run = Run("tint", to_dict((config, finetune_config)), axes=TINT_AXES)
    rows = run_sweep(config, finetune_config, run.cells())
    cells, claims = pooled_cells(rows)
    results = {
        "recipe": "tint",
        "seeds": config.seeds,
        "match": config.match,
        "noise_semantics": config.noise_semantics,
        "cells": cells,
        "claims": [c.as_dict() for c in claims],
    }
    if len(config.seeds) > 1:
        results["by_seed"] = [with_intervals({k: v for k, v in r.items() if k != "samples"}) for r in rows]
    samples = [
        {"cell": r["cell"], "method": r["method"], "seed": r.get("seed", 0), **s}
        for r in rows
        for s in r.get("samples", [])
    ]
    run.write_outputs(results, samples=samples, table=results_table(cells, claims), plot=plot_tint)
    return results
