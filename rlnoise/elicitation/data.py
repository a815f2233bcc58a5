"""Binary elicitation tasks from the shipped data, and the disjoint splits a sweep draws its labels from.

BoolQ is binary already (its majority class is subsampled to balance it). Multiple-choice tasks (SIQA, PIQA,
CommonsenseQA, OpenBookQA, MMLU) become "is this answer correct?": each question shows either its correct answer
or one random distractor. Which half of the questions shows the correct answer is drawn by the seed, exactly half
of them (rounded down), so classes are balanced by construction rather than only in expectation.

Splits (``make_splits``) are stratified and disjoint: a held-out test set, the gold labels the weak labeler is
trained on, a weak pool the weak labeler labels, and a gold pool that validation, few-shot and gold training labels
come from. The weak labeler never sees the weak pool, so no example gets a weak label from a model trained on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from datasets import Dataset

from rlnoise.tasks import SHIPPED, load_task

BINARY_TASKS = ("boolq", "siqa", "piqa", "commonsenseqa", "openbookqa", "mmlu")
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
    for BoolQ) are its two parts, for models that embed them separately.

    Args:
        name: one of ``BINARY_TASKS``.
        seed: draws which questions show their correct answer, the distractors, and (BoolQ) the subsample.
    """
    if name not in BINARY_TASKS:
        raise ValueError(f"task must be one of {list(BINARY_TASKS)} (binary versions of shipped data), got {name!r}")
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


@dataclass
class Splits:
    """Disjoint parts of one binary task (indices are rows of ``data``)."""

    data: Dataset
    test: list[int]
    weak_train: list[int]
    weak_pool: list[int]
    gold_pool: list[int]

    def sizes(self) -> dict:
        return {k: len(getattr(self, k)) for k in ("test", "weak_train", "weak_pool", "gold_pool")}


def make_splits(
    data: Dataset, *, n_test: int, n_weak_train: int, seed: int = 0, weak_pool_share: float = 0.5
) -> Splits:
    """Cut a binary task into stratified, disjoint test / weak-train / weak-pool / gold-pool parts.

    Args:
        data: a ``binary_task`` dataset.
        n_test: held-out test examples (never labelled for training).
        n_weak_train: gold-labelled examples the weak labeler is trained on.
        seed: seeds the order.
        weak_pool_share: share of the remaining examples that forms the weak pool (the rest is the gold pool).
    """
    for field, value in (("n_test", n_test), ("n_weak_train", n_weak_train)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{field} must be an integer >= 1, got {value!r}")
    if not 0.0 < weak_pool_share < 1.0:
        raise ValueError(f"weak_pool_share must be in (0, 1), got {weak_pool_share!r}")
    rest = len(data) - n_test - n_weak_train
    if rest < 2:
        raise ValueError(
            f"n_test + n_weak_train = {n_test + n_weak_train} leaves no pool in a task of {len(data)} examples"
        )
    order = stratified_order(list(data["label"]), f"splits-{seed}")
    test, weak_train, pool = order[:n_test], order[n_test : n_test + n_weak_train], order[n_test + n_weak_train :]
    n_weak_pool = int(round(weak_pool_share * len(pool)))
    # pool alternates classes, so even/odd-aligned cuts keep both pools balanced
    n_weak_pool -= n_weak_pool % 2
    return Splits(data, test, weak_train, pool[:n_weak_pool], pool[n_weak_pool:])


def pool_order(pool: list[int], labels, seed: int) -> list[int]:
    """A seeded, class-alternating order of a pool: cells take prefixes of it, so a seed picks the examples."""
    order = stratified_order([labels[i] for i in pool], f"pool-{seed}")
    return [pool[i] for i in order]


assert set(BINARY_TASKS) <= set(SHIPPED)
