"""One elicitation cell: turn a method's weak and gold labels into a classifier and score it on the test set.

Each cell gets a ``Spend`` (weak, gold, validation and few-shot labels) and a seed; the seed picks which pool
examples are labelled (a seeded shuffle of each pool), initialises the model and orders the data.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import numpy as np

from rlnoise.core.stats import correctness_string
from rlnoise.elicitation.analysis import auroc
from rlnoise.elicitation.cost import Spend
from rlnoise.elicitation.data import Splits
from rlnoise.elicitation.fewshot import fewshot_prefix, fewshot_scores
from rlnoise.elicitation.learner import StrongLearner
from rlnoise.elicitation.losses import most_uncertain
from rlnoise.elicitation.methods import method


@dataclass
class CellData:
    """What every cell of one task shares: the splits, the weak pool's soft labels and the learner."""

    splits: Splits
    weak_probs: dict[int, float]  # weak-pool row -> weak labeler's probability of class 1
    learner: StrongLearner
    prompt_model: str

    def __post_init__(self):
        self.labels = list(self.splits.data["label"])  # read once: datasets columns are lazy


def _shuffled(rows: list[int], salt: str, seed: int) -> list[int]:
    rows = list(rows)
    random.Random(f"{salt}-{seed}").shuffle(rows)
    return rows


def _scored(predicted: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> dict:
    """Test metrics, and each example right or wrong so that methods can be compared example by example."""
    right = predicted == labels
    return dict(
        accuracy=float(right.mean()),
        auroc=auroc(scores, labels),
        predicted_1=float(predicted.mean()),
        test_correct=correctness_string(right),
    )


def run_cell(data: CellData, name: str, spend: Spend, seed: int) -> dict:
    """Train and evaluate one cell; returns its test accuracy and what it used."""
    m = method(name)
    start = time.perf_counter()
    labels, texts = data.labels, data.splits.data["text"]
    weak_rows = _shuffled(data.splits.weak_pool, "weak", seed)
    gold_rows = _shuffled(data.splits.gold_pool, "gold", seed)
    needed = spend.n_val + spend.n_fewshot + spend.n_gold
    if spend.n_weak > len(weak_rows) or needed > len(gold_rows):
        raise ValueError(
            f"cell needs {spend.n_weak} weak and {needed} gold-pool examples but the pools hold {len(weak_rows)} "
            f"and {len(gold_rows)}; lower the budget or the weak fraction, or use a larger task"
        )
    val = gold_rows[: spend.n_val]
    shots = gold_rows[spend.n_val : spend.n_val + spend.n_fewshot]
    candidates = gold_rows[spend.n_val + spend.n_fewshot :]
    test = data.splits.test
    test_labels = np.asarray([labels[i] for i in test])
    task = data.splits.data[0]["source"]
    prefix = fewshot_prefix([(texts[i], labels[i]) for i in shots], task) if m.fewshot else ""
    result = dict(seed=seed, **vars(spend))
    if not m.train:
        scores = fewshot_scores(data.prompt_model, prefix, [texts[i] for i in test])
        result.update(_scored(scores > 0, scores, test_labels))
        return dict(result, seconds=time.perf_counter() - start)
    learner = data.learner
    model = learner.new_model(seed, prefix)
    val_set = learner.dataset(val, [labels[i] for i in val], prefix)
    tracked = f"{task}-{name}-w{spend.n_weak}-g{spend.n_gold}-seed{seed}"  # the cell's name in a live tracker
    phases = []
    if spend.n_weak:
        rows = weak_rows[: spend.n_weak]
        train = learner.dataset(rows, [data.weak_probs[i] for i in rows], prefix)
        fitted = learner.fit(model, train, val_set, seed=seed, logconf=m.logconf, name=f"{tracked}-weak")
        phases.append(dict(phase="weak", **fitted))
    if spend.n_gold:
        if m.active:
            probs = learner.predict_proba(model, learner.dataset(candidates, None, prefix))
            rows = [candidates[i] for i in most_uncertain(probs, spend.n_gold)]
        else:
            rows = candidates[: spend.n_gold]
        train = learner.dataset(rows, [labels[i] for i in rows], prefix)
        phases.append(dict(phase="gold", **learner.fit(model, train, val_set, seed=seed, name=f"{tracked}-gold")))
    probs = learner.predict_proba(model, learner.dataset(test, None, prefix))
    result.update(_scored(probs > 0.5, probs, test_labels), phases=phases)
    return dict(result, seconds=time.perf_counter() - start)
