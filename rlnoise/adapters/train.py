"""Training and applying adapters on in-memory feature matrices.

A plain loop rather than ``transformers.Trainer``: the data is one tensor in memory and the spectral losses need
the whole batch, so a loop of a few lines keeps a 30-epoch run on 10k x 384 features within seconds.
"""

from __future__ import annotations

import numpy as np
import torch

from rlnoise.adapters.heads import AdapterConfig, adapter


def _features(features, width: int | None = None) -> torch.Tensor:
    f = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"features must be a non-empty [examples, dims] matrix, got shape {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError("features must be finite (found NaN or inf)")
    if width is not None and f.shape[1] != width:
        raise ValueError(f"features must have {width} columns (the model's input width), got {f.shape[1]}")
    return f


def _labels(labels, rows: int, num_classes: int | None = None) -> torch.Tensor:
    """Integer class ids in ``[0, num_classes)``, one per feature row (whole-number floats and bools are accepted)."""
    y = np.asarray(labels)
    if y.shape != (rows,):
        raise ValueError(f"labels must be a vector of {rows} class ids (one per row), got shape {y.shape}")
    allowed = "[0, num_classes)" if num_classes is None else f"[0, num_classes={num_classes})"
    if y.dtype.kind not in "biuf":
        raise ValueError(f"labels must be integer class indices in {allowed}, got dtype {y.dtype}")
    ok = np.isfinite(y) & (np.round(y) == y) if y.dtype.kind == "f" else np.ones(rows, dtype=bool)
    ok &= (y >= 0) & (y < (np.inf if num_classes is None else num_classes))
    if not ok.all():
        i = int(np.argmin(ok))
        raise ValueError(f"labels must be integer class indices in {allowed}, got {y[i].item()!r} at index {i}")
    return torch.from_numpy(y.astype(np.int64))


def _widths(model) -> tuple[int | None, int | None]:
    """``(input width, classes)`` of an adapter: every adapter's classifier reads a ``z`` as wide as its input."""
    classifier = getattr(model, "classifier", None)
    return getattr(classifier, "in_features", None), getattr(classifier, "out_features", None)


def train_adapter(features, labels, config: AdapterConfig, num_classes: int | None = None):
    """Train ``config.adapter`` on ``features [N, D]`` and integer ``labels [N]``.

    Returns:
        ``(model, history)``: the trained module (``model(f) -> (logits, z)``) and one dict of mean loss terms per
        epoch.
    """
    f = _features(features)
    if len(f) < 2:
        raise ValueError(
            f"features must have at least 2 rows (training examples; batch statistics need 2), got {len(f)}"
        )
    y = _labels(labels, len(f), num_classes)
    classes = int(y.max()) + 1 if num_classes is None else num_classes
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
    f = _features(features, _widths(model)[0])
    logits, z = model(f)
    return logits.numpy(), z.numpy()


def accuracy(model, features, labels) -> float:
    """Share of rows of ``features`` whose predicted class equals their label (one integer label per row)."""
    logits, _ = apply_adapter(model, features)
    y = _labels(labels, len(logits), _widths(model)[1]).numpy()
    return float(np.mean(logits.argmax(1) == y))
