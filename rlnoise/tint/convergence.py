"""Training a TInt cell to convergence: the clean cell until held-out exact match reaches ``converge``, the noisy
cells of its task for as many steps on the same schedule; plus the generation budget both checks and tests use."""

from __future__ import annotations

import tempfile

from rlnoise.tint.config import FinetuneConfig, TIntSweepConfig
from rlnoise.tint.dataset import make_dataset
from rlnoise.tint.evaluate import evaluate_model
from rlnoise.tint.train import StopAtExactMatch, finetune


def train_cell(config: TIntSweepConfig, finetune_config: FinetuneConfig, cell, replicate: int, train, test,
               budgets: dict) -> tuple:  # fmt: skip
    """Fine-tune one cell: ``sft_epochs`` epochs, or with ``converge`` the clean cell until it reaches the target
    exact match on held-out clean problems (its step count goes into ``budgets``) and a noisy cell for the steps
    its task's clean cell took, on the same learning-rate schedule (cosine over ``converge_max_steps``). Returns
    (model, tokenizer, training record)."""
    name = f"{cell.id}-seed{replicate}"  # the cell's name in a live tracker
    with tempfile.TemporaryDirectory() as scratch:
        if not config.converge:
            return finetune(train, finetune_config, scratch, name=name)
        if cell.noise != "none":
            steps = budgets[cell.task, replicate]
            model, tokenizer, log = finetune(
                train, finetune_config, scratch, max_steps=config.converge_max_steps, stop_at=steps, name=name
            )
            return model, tokenizer, log
        check = convergence_check(config, cell.task, test)
        model, tokenizer, log = finetune(train, finetune_config, scratch, max_steps=config.converge_max_steps,
                                         until=check, name=name)  # fmt: skip
    budgets[cell.task, replicate] = log["steps"]
    converged = any(em >= config.converge for _, em in check.checks)
    return model, tokenizer, dict(log, converged=converged, checks=check.checks)


def convergence_check(config: TIntSweepConfig, task: str, test) -> StopAtExactMatch:
    """Exact match on ``converge_problems`` clean problems outside the test set, every ``converge_every`` steps."""
    held_out = held_out_set(config, task, test)

    def score(model, tokenizer) -> float:
        budget = generation_budget(config, tokenizer, held_out)
        metrics, _ = evaluate_model(model, tokenizer, held_out, max_new_tokens=budget,
                                    batch_size=config.eval_batch_size, desc=None)  # fmt: skip
        return metrics["exact_match"]

    return StopAtExactMatch(score, config.converge, config.converge_every)


def held_out_set(config: TIntSweepConfig, task: str, test):
    """The clean problems of the convergence check: outside the test set, and kept out of every training set."""
    digits = config.digit_ranges()[task]
    return make_dataset(
        task, config.converge_problems, seed=config.seed + 20_000, exclude_prompts=test["prompt"], **digits
    )


def loss_curve(rows: list[dict], points: int = 100) -> list[list[float]]:
    """``[step, loss]`` pairs of a training log, thinned to at most ``points``."""
    stride = max(1, -(-len(rows) // points))
    return [[row["step"], round(row["loss"], 5)] for row in rows[::stride]]


def generation_budget(config: TIntSweepConfig, tokenizer, test) -> int:
    if config.max_new_tokens:
        return config.max_new_tokens
    longest = max(len(tokenizer(text)["input_ids"]) for text in test["completion"])
    return int(1.5 * longest) + 8
