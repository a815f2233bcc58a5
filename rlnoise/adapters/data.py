"""ID/OOD task pairs on shipped data, as frozen-feature matrices.

Every task is a balanced binary task from ``rlnoise.core.tasks.binary_task`` ("is this answer correct?", or
positive vs negative sentiment), so a head trained on one applies to another. A pair trains and tests in
distribution (ID) on its first task (a stratified train/test split) and tests out of distribution (OOD) on all of
its second task:

| pair | ID (train, test) | OOD (test) | shift |
|---|---|---|---|
| ``csqa->obqa`` | CommonsenseQA | OpenBookQA | everyday concepts -> elementary science facts |
| ``siqa->piqa`` | Social IQa | PIQA | social situations -> physical know-how |
| ``obqa->csqa`` | OpenBookQA | CommonsenseQA | the reverse of the first |
| ``mmlu->csqa`` | MMLU | CommonsenseQA | exam subjects -> everyday concepts |
| ``rt->amazon`` | Rotten Tomatoes snippets | Amazon review snippets | movie reviews -> product reviews |
| ``amazon->rt`` | Amazon review snippets | Rotten Tomatoes snippets | the reverse |
| ``rt->nyt`` | Rotten Tomatoes snippets | NYT editorial snippets | movie reviews -> opinion pieces |
| ``hotels->medicine`` | MultiEmo hotel sentences | MultiEmo medical sentences | after ``make multiemo`` |

The sentiment pairs (:mod:`rlnoise.core.sentiment`) are single texts: they need feature mode ``text``.

Features (``FeatureSpec``): ``text`` embeds the whole example (context, question and answer) in one vector;
``pair`` embeds the question and the answer separately and concatenates ``[q, a, q * a, |q - a|]`` (the usual way
to classify a pair from black-box sentence embeddings); embeddings are L2-normalised first (``l2``), so ``q * a``
sums to the cosine similarity. ``file:PATH`` loads precomputed features (rows in the order
of ``binary_task``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlnoise.adapters.config import FEATURE_MODES as MODES
from rlnoise.adapters.config import PAIRS
from rlnoise.core.features import extract_features, load_features
from rlnoise.core.tasks import binary_task, stratified_order


@dataclass(frozen=True)
class FeatureSpec:
    """Which frozen features: a registry model (``minilm-l6``, ``smollm2-135m-instruct``, a hub id, a path) with its
    pooling and mode, or ``file:PATH`` for precomputed ones."""

    model: str = "minilm-l6"
    pooling: str = "mean"
    mode: str = "pair"
    l2: bool = True  # unit-length embeddings (as sentence-transformers serves them); q * a then sums to the cosine
    dtype: str = "float32"  # precision of the feature pass (rlnoise.core.precision)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"feature mode must be one of {list(MODES)}, got {self.mode!r}")


def _embed(spec: FeatureSpec, texts) -> np.ndarray:
    return _unit(extract_features(spec.model, list(texts), pooling=spec.pooling, dtype=spec.dtype), spec.l2)


def task_features(task: str, spec: FeatureSpec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(features [N, D], labels [N])`` of a binary task (cached by ``rlnoise.core.features``)."""
    data = binary_task(task, seed=seed)
    labels = np.asarray(data["label"])
    if spec.model.startswith("file:"):
        features = load_features(spec.model.removeprefix("file:").format(task=task))
    elif spec.mode == "text":
        features = _embed(spec, data["text"])
    else:
        q, a = _embed(spec, data["query"]), _embed(spec, data["candidate"])
        features = np.concatenate([q, a, q * a, np.abs(q - a)], axis=1)
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows for {len(labels)} examples of {task!r}")
    return features, labels


def _unit(x: np.ndarray, l2: bool) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) if l2 else x


@dataclass
class PairData:
    name: str
    train: tuple[np.ndarray, np.ndarray]
    id_test: tuple[np.ndarray, np.ndarray]
    ood_test: tuple[np.ndarray, np.ndarray]


def id_split(name: str, labels, test_share: float = 0.3, seed: int = 0) -> tuple[list[int], list[int]]:
    """``(train rows, test rows)`` of a pair's ID task: a stratified split drawn by the pair's name and ``seed``."""
    order = stratified_order(list(map(int, labels)), f"adapters-{name}-{seed}")
    n_test = int(round(test_share * len(order)))
    return order[n_test:], order[:n_test]


def pair_data(name: str, spec: FeatureSpec, *, test_share: float = 0.3, seed: int = 0) -> PairData:
    """The ID train / ID test / OOD test features (standardised with the ID training statistics) and labels of a
    pair in ``PAIRS``."""
    if name not in PAIRS:
        raise ValueError(f"pair must be one of {sorted(PAIRS)}, got {name!r}")
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must be in (0, 1), got {test_share!r}")
    id_task, ood_task = PAIRS[name]
    x, y = task_features(id_task, spec)
    train, test = id_split(name, y, test_share, seed)
    ox, oy = task_features(ood_task, spec)
    # standardise every dimension with the ID training rows' statistics, so no input scale favours one block of
    # features (the q * a entries of unit embeddings are ~1/D each) and every adapter sees the same inputs
    mean, std = x[train].mean(0), x[train].std(0) + 1e-6
    x, ox = (x - mean) / std, (ox - mean) / std
    return PairData(name, (x[train], y[train]), (x[test], y[test]), (ox, oy))
