"""The disjoint splits an elicitation sweep draws its labels from (binary tasks: :mod:`rlnoise.core.tasks`).

Splits (``make_splits``) are stratified and disjoint: a held-out test set, the gold labels the weak labeler is
trained on, a weak pool the weak labeler labels, and a gold pool that validation, few-shot and gold training labels
come from. The weak labeler never sees the weak pool, so no example gets a weak label from a model trained on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset

from rlnoise.core.tasks import stratified_order


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
