"""Elicitation methods (a registry): what each method trains on and which labels it pays for. Running a cell is
:mod:`rlnoise.elicitation.cells`; this module imports no torch, so configs can check method names cheaply."""

from __future__ import annotations

from dataclasses import dataclass

from rlnoise.elicitation.cost import Spend, split_budget


@dataclass(frozen=True)
class Method:
    """What a method trains on. ``weak`` and ``gold``: the phases it runs (weak first); ``logconf``: the
    log-confidence loss in the weak phase; ``active``: gold examples chosen by uncertainty sampling after the weak
    phase; ``fewshot``: k gold exemplars in the prompt; ``train``: False for prompting without training."""

    description: str
    weak: bool = False
    gold: bool = False
    logconf: bool = False
    active: bool = False
    fewshot: bool = False
    train: bool = True

    def fractions(self, swept: list[float]) -> list[float]:
        """The weak fractions this method is run at: both phases use every interior fraction; a gold-only
        method runs at 0, a weak-only one at 1, prompting once (at 0), since other fractions would waste labels."""
        if not self.train or not self.weak:
            return [0.0]
        if not self.gold:
            return [1.0]
        interior = [f for f in swept if 0.0 < f < 1.0]
        return interior

    def spend(self, budget: float, weak_fraction: float, weak_marginal_cost: float, *, n_val: int, k: int) -> Spend:
        if not self.train:
            return Spend(0, 0, 0, k)
        s = split_budget(budget, weak_fraction, weak_marginal_cost, n_val=n_val, n_fewshot=k if self.fewshot else 0)
        return Spend(s.n_weak if self.weak else 0, s.n_gold if self.gold else 0, s.n_val, s.n_fewshot)


METHODS: dict[str, Method] = {
    "sft_gold": Method("SFT on gold labels only", gold=True),
    "sft_weak": Method("SFT on weak labels only (soft targets)", weak=True),
    "sequential": Method("SFT on weak labels, then on gold labels with a fresh optimizer", weak=True, gold=True),
    "sequential_logconf": Method(
        "sequential, with the log-confidence auxiliary loss in the weak phase", weak=True, gold=True, logconf=True
    ),
    "sequential_active": Method(
        "sequential, gold examples picked by uncertainty sampling after the weak phase",
        weak=True,
        gold=True,
        active=True,
    ),
    "fewshot_prompt": Method("few-shot in-context prompting, logit of '1' vs '0'", fewshot=True, train=False),
    "fewshot_sft": Method("sequential SFT with k gold exemplars in every input", weak=True, gold=True, fewshot=True),
}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name]
