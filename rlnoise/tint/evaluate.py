"""Evaluating models on TInt: greedy decoding, exact match on the final line, step accuracy, parse failures, and
few-shot prompts built from (noisy) training samples."""

from __future__ import annotations

import random

import torch

from rlnoise.core.console import progress
from rlnoise.tint.check import parse_answer, step_accuracy

SEPARATOR = "\n\n"  # between few-shot exemplars; generation stops at it


def format_prompt(prompt: str) -> str:
    """What the model sees before its trace (fine-tuning and evaluation alike)."""
    return prompt + "\n"


def few_shot_prompt(exemplars: list[dict], prompt: str) -> str:
    """``k`` solved exemplars (prompt + completion), a blank line after each, then the question."""
    shots = "".join(format_prompt(ex["prompt"]) + ex["completion"] + SEPARATOR for ex in exemplars)
    return shots + format_prompt(prompt)


def draw_exemplars(train, k: int, n_prompts: int, seed: int) -> list[list[dict]]:
    """For each of ``n_prompts`` test questions, ``k`` exemplars drawn without replacement from ``train``."""
    if k < 0 or k > len(train):
        raise ValueError(f"k (few-shot exemplars) must be in [0, {len(train)}], got {k}")
    rng = random.Random(seed)
    rows = train.select_columns(["prompt", "completion"]).to_list()
    return [rng.sample(rows, k) for _ in range(n_prompts)]


@torch.no_grad()
def generate_greedy(
    model, tokenizer, texts: list[str], *, max_new_tokens: int, batch_size: int = 16, desc: str = "generate"
) -> list[str]:
    """Greedy continuations of ``texts`` (left-padded batches), cut at the first blank line."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs: list[str] = []
    try:
        for start in progress(range(0, len(texts), batch_size), desc):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True).to(device)
            tokens = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                stop_strings=[SEPARATOR],
                tokenizer=tokenizer,
            )
            new = tokens[:, batch["input_ids"].shape[1] :]
            outputs += [text.split(SEPARATOR)[0] for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return outputs


def score_completions(completions: list[str], true_answers: list[str]) -> tuple[dict, list[dict]]:
    """Exact match of the final line, step accuracy (consistent / checkable step lines, pooled) and the share of
    outputs whose last line is not an answer. Returns (metrics, one row per output)."""
    rows, good_steps, all_steps = [], 0, 0
    for completion, truth in zip(completions, true_answers, strict=True):
        lines = completion.strip().split("\n")
        answer = parse_answer(lines[-1]) if lines else None
        good, total = step_accuracy(completion) if completion.strip() else (0, 0)
        good_steps, all_steps = good_steps + good, all_steps + total
        rows.append(
            {
                "completion": completion,
                "true_answer": truth,
                "parsed": answer is not None,
                "correct": answer is not None and answer == parse_answer(truth),
                "steps_ok": good,
                "steps": total,
            }
        )
    n = max(len(rows), 1)
    metrics = {
        "exact_match": sum(r["correct"] for r in rows) / n,
        "step_accuracy": good_steps / all_steps if all_steps else 0.0,
        "parse_failure": sum(not r["parsed"] for r in rows) / n,
        "n": len(rows),
    }
    return metrics, rows


def evaluate_model(
    model,
    tokenizer,
    test,
    *,
    max_new_tokens: int,
    batch_size: int = 16,
    exemplars: list[list[dict]] | None = None,
    desc: str = "evaluate",
) -> tuple[dict, list[dict]]:
    """Greedy-decode every test prompt (with its few-shot exemplars, if given) and score the outputs."""
    prompts = list(test["prompt"])
    if exemplars is None:
        texts = [format_prompt(p) for p in prompts]
    else:
        texts = [few_shot_prompt(shots, p) for shots, p in zip(exemplars, prompts, strict=True)]
    completions = generate_greedy(
        model, tokenizer, texts, max_new_tokens=max_new_tokens, batch_size=batch_size, desc=desc
    )
    metrics, rows = score_completions(completions, list(test["true_answer"]))
    for row, prompt in zip(rows, prompts):
        row["prompt"] = prompt
    return metrics, rows
