"""Reference log-probs computed once per study and shared by every DPO run on the same pairs.

trl's ``DPOTrainer`` runs the reference model inside every training step (or once per trainer with
``precompute_ref_log_probs``, cached by the dataset's fingerprint, which label noise changes). In a study every run
has the same reference (the base model: LoRA adapters off) and the same responses: label noise only swaps a pair's
chosen and rejected, and losses, betas and replicate seeds change nothing the reference sees. So one forward pass
per (prompt, response) serves every run; trl's own precompute computes the missing ones, so the numbers are trl's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from trl import DPOTrainer


@dataclass
class SeedReference:
    """What every run of one policy seed shares (the reference model is that seed's base model)."""

    logps: dict = field(default_factory=dict)  # training sequences -> reference log-prob (SharedReferenceDPOTrainer)
    held_out: dict = field(default_factory=dict)  # (prompt, response) -> summed reference log-prob, held-out pairs
    initial: dict | None = None  # the step-0 evaluation row, copied to every run


class SharedReferenceDPOTrainer(DPOTrainer):
    """trl's ``DPOTrainer`` (run with ``precompute_ref_log_probs=True``) whose reference log-probs come from
    ``reference_logps``, a ``{(prompt token ids, completion token ids): log-prob}`` dict shared across trainers;
    only the sequences not in it are computed, by trl, and added. Nothing else of the trainer changes."""

    def __init__(self, *args, reference_logps: dict, **kwargs):
        self.reference_logps = reference_logps
        super().__init__(*args, **kwargs)

    def _precompute_ref_logps(self, dataset, name: str, batch_size: int):
        keys = [
            ((tuple(p), tuple(c)), (tuple(p), tuple(r)))
            for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"])
        ]
        missing = [i for i, pair in enumerate(keys) if not all(k in self.reference_logps for k in pair)]
        if missing:
            computed = super()._precompute_ref_logps(dataset.select(missing), name, batch_size)
            for i, chosen, rejected in zip(missing, computed["ref_chosen_logps"], computed["ref_rejected_logps"]):
                self.reference_logps[keys[i][0]], self.reference_logps[keys[i][1]] = chosen, rejected
        chosen = [self.reference_logps[c] for c, _ in keys]
        rejected = [self.reference_logps[r] for _, r in keys]
        return dataset.add_column("ref_chosen_logps", chosen).add_column("ref_rejected_logps", rejected)


def pairs_seen(n_pairs: int, pairs_per_step: int, steps: int, seed: int) -> np.ndarray:
    """The rows a run of ``steps`` steps of ``pairs_per_step`` pairs trains on: all of them when it makes at least
    one epoch, else a seeded random subset (the same for every run of a seed, whatever its noise, loss or beta), so
    the reference pass covers only pairs some run uses."""
    needed = pairs_per_step * steps
    if needed >= n_pairs:
        return np.arange(n_pairs)
    return np.sort(np.random.default_rng(seed).permutation(n_pairs)[:needed])
