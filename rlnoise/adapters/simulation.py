"""The paper's analysis in miniature: pre-train a small encoder on a synthetic task whose labels carry a given
noise rate, then look at its features' spectrum and at how well adapters on them transfer, ID and OOD.

Data. A latent ``h`` (8-d) is drawn from a mixture of 16 Gaussian clusters; the input is ``x = h A + 0.3 e``
(32-d, fixed random ``A``). Pre-training labels are the cluster ids with symmetric label noise at rate ``r``
(``rlnoise.core.noise.symmetric``). The downstream task is new: ``y = 1[w . h > 0]`` for a fixed random direction
``w``; the ID test set comes from the same mixture, the OOD test set from a shifted one (every cluster mean moved
by a random vector of norm 3, input noise 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rlnoise.adapters.heads import AdapterConfig
from rlnoise.adapters.spectrum import lsvr, normalize_features, sve
from rlnoise.adapters.train import accuracy, train_adapter
from rlnoise.core.noise import symmetric

LATENT, INPUT, CLUSTERS = 8, 32, 16


@dataclass
class SimulationConfig:
    noise_rates: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
    n_pretrain: int = 8000
    n_downstream: int = 1000
    pretrain_epochs: int = 20
    feature_dim: int = 64
    adapters: tuple[str, ...] = ("linear", "nmtune")
    seed: int = 0


class _World:
    """The fixed generative process of one simulation seed."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.means = rng.normal(scale=3.0, size=(CLUSTERS, LATENT))
        self.shift = rng.normal(size=(CLUSTERS, LATENT))
        self.shift *= 3.0 / np.linalg.norm(self.shift, axis=1, keepdims=True)
        self.mixing = rng.normal(size=(LATENT, INPUT)) / np.sqrt(LATENT)
        self.direction = rng.normal(size=LATENT)

    def sample(self, n: int, rng, *, shifted: bool = False):
        clusters = rng.integers(0, CLUSTERS, n)
        means = self.means + (self.shift if shifted else 0.0)
        h = means[clusters] + rng.normal(size=(n, LATENT))
        x = h @ self.mixing + rng.normal(scale=0.6 if shifted else 0.3, size=(n, INPUT))
        return x.astype(np.float32), h, clusters


def pretrain_encoder(x: np.ndarray, labels: np.ndarray, *, feature_dim: int, epochs: int, seed: int) -> nn.Module:
    """An MLP encoder (input -> 128 -> feature_dim) trained with a linear classifier on (possibly noisy) labels."""
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, feature_dim), nn.ReLU())
    head = nn.Linear(feature_dim, int(labels.max()) + 1)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    xt, yt = torch.as_tensor(x), torch.as_tensor(labels, dtype=torch.long)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=order)
        for start in range(0, len(xt), 128):
            idx = perm[start : start + 128]
            loss = nn.functional.cross_entropy(head(encoder(xt[idx])), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return encoder.eval()


@torch.no_grad()
def _encode(encoder, x):
    return encoder(torch.as_tensor(x)).numpy()


def simulate(config: SimulationConfig, adapter_config: AdapterConfig | None = None) -> list[dict]:
    """One row per (noise rate, adapter): pre-training label noise, the features' SVE / LSVR (centred, on the ID
    downstream data) and the adapter's ID and OOD accuracy."""
    adapter_config = adapter_config or AdapterConfig(epochs=30, batch_size=128)
    world = _World(config.seed)
    rng = np.random.default_rng(config.seed + 1)
    x_pre, _, clusters = world.sample(config.n_pretrain, rng)
    x_train, h_train, _ = world.sample(config.n_downstream, rng)
    x_id, h_id, _ = world.sample(config.n_downstream, rng)
    x_ood, h_ood, _ = world.sample(config.n_downstream, rng, shifted=True)
    y_train, y_id, y_ood = ((h @ world.direction > 0).astype(int) for h in (h_train, h_id, h_ood))
    rows = []
    for rate in config.noise_rates:
        noisy = symmetric(clusters, seed=config.seed, p=rate, num_classes=CLUSTERS)
        encoder = pretrain_encoder(
            x_pre, noisy.labels, feature_dim=config.feature_dim, epochs=config.pretrain_epochs, seed=config.seed
        )
        f_train, f_id, f_ood = (_encode(encoder, x) for x in (x_train, x_id, x_ood))
        centred = normalize_features(f_id, "center")
        base = dict(
            noise_rate=rate,
            flipped=float(noisy.flipped.mean()),
            sve=sve(centred),
            lsvr=lsvr(centred),
            seed=config.seed,
        )
        for name in config.adapters:
            cfg = AdapterConfig(**{**vars(adapter_config), "adapter": name, "seed": config.seed})
            model, _ = train_adapter(f_train, y_train, cfg, num_classes=2)
            rows.append(
                dict(
                    base,
                    adapter=name,
                    id_accuracy=accuracy(model, f_id, y_id),
                    ood_accuracy=accuracy(model, f_ood, y_ood),
                )
            )
    return rows
