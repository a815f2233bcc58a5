"""Adapters on frozen features (a registry): linear probe, MLP, residual MLP, NMTune and an FGS-style variant.

Every adapter maps frozen features ``f`` to ``(logits, z)``, where ``z`` is the adapted feature the classifier
reads (``f`` itself for the linear probe). NMTune and its variant share the residual MLP's module
``z = s * MLP(f) + f``; they differ only in the loss (``ADAPTERS[name].loss``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rlnoise.adapters.config import AdapterConfig
from rlnoise.adapters.losses import consistency_loss, nmtune_loss, relational_kl, variance_loss


class LinearProbe(nn.Module):
    def __init__(self, dim: int, classes: int, config: AdapterConfig):
        super().__init__()
        self.classifier = nn.Linear(dim, classes)

    def forward(self, f):
        return self.classifier(f), f


class MLPHead(nn.Module):
    """``z = MLP(f)`` (no residual), then a linear classifier."""

    def __init__(self, dim: int, classes: int, config: AdapterConfig):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, config.hidden), nn.GELU(), nn.Linear(config.hidden, dim))
        self.classifier = nn.Linear(dim, classes)

    def forward(self, f):
        z = self.mlp(f)
        return self.classifier(z), z


class ResidualMLP(MLPHead):
    """``z = s * MLP(f) + f``, then a linear classifier (NMTune's module)."""

    def __init__(self, dim: int, classes: int, config: AdapterConfig):
        super().__init__(dim, classes, config)
        self.scale = config.residual_scale

    def forward(self, f):
        z = self.scale * self.mlp(f) + f
        return self.classifier(z), z


def _ce(model, f, labels, config):
    logits, _ = model(f)
    loss = F.cross_entropy(logits, labels)
    return loss, {"ce": float(loss.detach())}


def _nmtune(model, f, labels, config):
    logits, z = model(f)
    return nmtune_loss(
        logits,
        labels,
        z,
        f,
        consistency=config.consistency,
        covariance=config.covariance,
        singular=config.singular,
        k=config.top_k,
    )


def _nmtune_fgs(model, f, labels, config):
    """CE + consistency of the adapted features of a perturbed input with the clean frozen features + variance
    term + relational KL distillation to the frozen features."""
    logits, z = model(f)
    ce = F.cross_entropy(logits, labels)
    noise = torch.randn_like(f) * config.noise_std * f.pow(2).mean().sqrt()
    _, z_noisy = model(f + noise)
    terms = {
        "ce": ce,
        "consistency": consistency_loss(z_noisy, f),
        "variance": variance_loss(z),
        "distill": relational_kl(z, f, config.temperature),
    }
    total = ce + config.consistency * terms["consistency"] + config.variance * terms["variance"]
    total = total + config.distill * terms["distill"]
    return total, {k: float(v.detach()) for k, v in terms.items()}


@dataclass(frozen=True)
class Adapter:
    module: type[nn.Module]
    loss: Callable
    description: str


ADAPTERS: dict[str, Adapter] = {
    "linear": Adapter(LinearProbe, _ce, "linear probe on f"),
    "mlp": Adapter(MLPHead, _ce, "MLP(f), then a linear classifier"),
    "residual_mlp": Adapter(ResidualMLP, _ce, "z = s * MLP(f) + f, cross-entropy only"),
    "nmtune": Adapter(ResidualMLP, _nmtune, "residual MLP + consistency, covariance and singular-value terms"),
    "nmtune_fgs": Adapter(ResidualMLP, _nmtune_fgs, "residual MLP + perturbed consistency, variance, KL distillation"),
}


def adapter(name: str) -> Adapter:
    if name not in ADAPTERS:
        raise ValueError(f"adapter must be one of {sorted(ADAPTERS)}, got {name!r}")
    return ADAPTERS[name]
