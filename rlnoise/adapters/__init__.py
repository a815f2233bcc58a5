"""Black-box adapters for noisily pre-trained LMs (NMTune, Chen et al. 2024): heads on frozen features, their
losses, and feature-spectrum metrics."""

from rlnoise.core.lazy import lazy_exports

# name -> module; imported on first use, so the study's config module loads without torch
_EXPORTS = {
    "ADAPTERS": "rlnoise.adapters.heads",
    "AdapterConfig": "rlnoise.adapters.heads",
    "lsvr": "rlnoise.adapters.spectrum",
    "normalize_features": "rlnoise.adapters.spectrum",
    "sve": "rlnoise.adapters.spectrum",
    "accuracy": "rlnoise.adapters.train",
    "apply_adapter": "rlnoise.adapters.train",
    "train_adapter": "rlnoise.adapters.train",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
