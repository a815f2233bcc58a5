"""Black-box adapters for noisily pre-trained LMs (NMTune, Chen et al. 2024): heads on frozen features, their
losses, and feature-spectrum metrics."""

from rlnoise.adapters.heads import ADAPTERS, AdapterConfig
from rlnoise.adapters.spectrum import lsvr, normalize_features, sve
from rlnoise.adapters.train import accuracy, apply_adapter, train_adapter

__all__ = [
    "ADAPTERS",
    "AdapterConfig",
    "accuracy",
    "apply_adapter",
    "lsvr",
    "normalize_features",
    "sve",
    "train_adapter",
]
