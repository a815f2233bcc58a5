"""The weak labeler: logistic regression on a small model's frozen features, trained on its own gold split, or
VADER's lexicon (``model="vader"``), a zero-label labeler for sentiment tasks.

It labels the weak pool with probabilities (soft labels). It is trained only on ``Splits.weak_train``, which is
disjoint from the weak pool, so it never labels an example it was trained on (the reference code did, which makes
weak labels look better than they are).
"""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F

from rlnoise.core.features import extract_features
from rlnoise.core.files import write_json
from rlnoise.core.stages import cached_stage
from rlnoise.elicitation.data import Splits


def fit_logistic(features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-2, max_iter: int = 200):
    """L2-regularised logistic regression by L-BFGS on standardised features; returns ``predict_proba``.

    Written out (not scikit-learn) because torch is already here and this is twelve lines.
    """
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.float32)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"features must be [n, d] with n = len(labels) > 0, got {tuple(x.shape)} and {len(y)} labels")
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()

    def predict_proba(other: np.ndarray) -> np.ndarray:
        z = (torch.as_tensor(other, dtype=torch.float32) - mean) / std
        return torch.sigmoid(z @ w + b).numpy()

    return predict_proba


VADER = "vader"


def vader_probabilities(texts: list[str]) -> np.ndarray:
    """P(positive) from VADER's compound score in [-1, 1], mapped linearly to [0, 1] (no training labels)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([(analyzer.polarity_scores(t)["compound"] + 1) / 2 for t in texts], dtype=np.float32)


def weak_labels(
    splits: Splits, *, model: str = "minilm-l6", pooling: str = "mean", l2: float = 1e-2, cache_key: dict | None = None
) -> tuple[np.ndarray, dict]:
    """Soft weak labels for ``splits.weak_pool`` (aligned with it) and the weak labeler's accuracies.

    ``model`` is a feature model for the logistic labeler, or ``"vader"`` (no training: ``weak_train`` is unused).
    Cached by ``cache_key`` (which must identify the task and splits) plus the labeler's settings.
    """
    overlap = set(splits.weak_train) & (set(splits.weak_pool) | set(splits.test))
    if overlap:
        raise ValueError(
            f"the weak labeler's training rows overlap the rows it labels or the test set: {sorted(overlap)[:5]}"
        )
    key = dict(
        cache_key or {},
        model=model,
        pooling=pooling,
        l2=l2,
        weak_train=splits.weak_train,
        weak_pool=splits.weak_pool,
        test=splits.test,
    )

    def build(folder):
        texts, labels = list(splits.data["text"]), np.asarray(splits.data["label"])
        if model == VADER:
            probs = vader_probabilities([texts[i] for i in splits.weak_pool])
            test_probs = vader_probabilities([texts[i] for i in splits.test])
        else:
            features = extract_features(model, texts, pooling=pooling)
            predict = fit_logistic(features[splits.weak_train], labels[splits.weak_train], l2=l2)
            probs = predict(features[splits.weak_pool])
            test_probs = predict(features[splits.test])
        np.save(folder / "weak_pool_probs.npy", probs)
        write_json(
            folder / "metrics.json",
            {
                "weak_pool_accuracy": float(np.mean((probs > 0.5) == labels[splits.weak_pool])),
                "test_accuracy": float(np.mean((test_probs > 0.5) == labels[splits.test])),
                "train_examples": 0 if model == VADER else len(splits.weak_train),
            },
        )

    folder = cached_stage("weak-labels", key, build)
    return np.load(folder / "weak_pool_probs.npy"), json.loads((folder / "metrics.json").read_text())
