"""Training and applying adapters on in-memory feature matrices.

A plain loop rather than ``transformers.Trainer``: the data is one tensor in memory and the spectral losses need
the whole batch, so a loop of a few lines keeps a 30-epoch run on 10k x 384 features within seconds.
"""

from __future__ import annotations

import numpy as np
import torch

from rlnoise.adapters.heads import AdapterConfig, adapter


def _inputs(features, labels=None):
    f = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"features must be a non-empty [examples, dims] matrix, got shape {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError("features must be finite (found NaN or inf)")
    if labels is None:
        return f, None
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if y.shape != (len(f),):
        raise ValueError(f"labels must be a vector of {len(f)} class ids (one per row), got shape {tuple(y.shape)}")
    if (y < 0).any():
        raise ValueError("labels must be class ids >= 0")
    return f, y


def train_adapter(features, labels, config: AdapterConfig, num_classes: int | None = None):
    """Train ``config.adapter`` on ``features [N, D]`` and integer ``labels [N]``.

    Returns:
        ``(model, history)``: the trained module (``model(f) -> (logits, z)``) and one dict of mean loss terms per
        epoch.
    """
    f, y = _inputs(features, labels)
    classes = int(y.max()) + 1 if num_classes is None else num_classes
    if int(y.max()) >= classes:
        raise ValueError(f"labels go up to {int(y.max())} but num_classes is {classes}")
    spec = adapter(config.adapter)
    torch.manual_seed(config.seed)
    model = spec.module(f.shape[1], classes, config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    order = torch.Generator().manual_seed(config.seed)
    history = []
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(len(f), generator=order)
        sums: dict[str, float] = {}
        batches = 0
        for start in range(0, len(f), config.batch_size):
            idx = perm[start : start + config.batch_size]
            if len(idx) < 2:  # batch statistics need two rows
                continue
            loss, terms = spec.loss(model, f[idx], y[idx], config)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batches += 1
            for k, v in dict(terms, loss=float(loss.detach())).items():
                sums[k] = sums.get(k, 0.0) + v
        history.append({k: v / max(batches, 1) for k, v in sums.items()})
    model.eval()
    return model, history


@torch.no_grad()
def apply_adapter(model, features) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, z)`` of a trained adapter on ``features`` as numpy arrays."""
    f, _ = _inputs(features)
    logits, z = model(f)
    return logits.numpy(), z.numpy()


def accuracy(model, features, labels) -> float:
    logits, _ = apply_adapter(model, features)
    return float(np.mean(logits.argmax(1) == np.asarray(labels)))
