"""The label cost model of Mallen & Belrose (2024): a gold label costs 1, a weak label ``weak_marginal_cost``.

Validation labels (for early stopping) and few-shot exemplars are gold labels and are charged to the budget.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass


def _check_count(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{field} must be an integer >= 0, got {value!r}")
    return int(value)


def check_weak_cost(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"weak_marginal_cost must be in (0, 1] (a gold label costs 1), got {value!r}")
    return float(value)


def check_budget(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"budget must be a finite number > 0 (in gold-label units), got {value!r}")
    return float(value)


def check_weak_fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"weak_fraction must be in [0, 1] (the share of the label budget spent on weak labels), got {value!r}"
        )
    return float(value)


def label_cost(n_weak: int, n_gold: int, weak_marginal_cost: float) -> float:
    """Cost of ``n_weak`` weak and ``n_gold`` gold labels: ``n_weak * weak_marginal_cost + n_gold``.

    ``n_gold`` counts every gold label, training, validation and few-shot alike (see ``Spend.cost``).
    """
    return _check_count("n_weak", n_weak) * check_weak_cost(weak_marginal_cost) + _check_count("n_gold", n_gold)


@dataclass(frozen=True)
class Spend:
    """How a budget is spent: weak and gold training labels plus the gold labels for validation and prompts."""

    n_weak: int
    n_gold: int
    n_val: int = 0
    n_fewshot: int = 0

    def cost(self, weak_marginal_cost: float) -> float:
        """Total cost, validation and few-shot labels included."""
        return label_cost(self.n_weak, self.n_gold + self.n_val + self.n_fewshot, weak_marginal_cost)


def split_budget(
    budget: float, weak_fraction: float, weak_marginal_cost: float, *, n_val: int = 0, n_fewshot: int = 0
) -> Spend:
    """Split ``budget`` into weak and gold training labels after paying for validation and few-shot labels.

    Of the rest, ``budget - n_val - n_fewshot``, ``weak_fraction`` is meant for weak labels; that share fixes the
    gold count, ``floor(rest - floor(weak_fraction * rest / wmc) * wmc)``, and what the gold labels leave then buys
    weak labels. Less than one weak label's worth stays unspent (less than one gold label's at ``weak_fraction`` 0,
    which buys no weak labels), and ``Spend.cost(wmc) <= budget`` up to float rounding (relative 1e-12: budget 0.3
    buys three weak labels at 0.1, although ``3 * 0.1`` is 0.30000000000000004 in floats).

    Raises:
        ValueError: on a bad budget, fraction or cost, or when validation and few-shot labels alone exceed it.
    """
    budget = check_budget(budget)
    weak_fraction = check_weak_fraction(weak_fraction)
    wmc = check_weak_cost(weak_marginal_cost)
    fixed = _check_count("n_val", n_val) + _check_count("n_fewshot", n_fewshot)
    if fixed > budget:
        raise ValueError(
            f"budget {budget:g} is smaller than the validation + few-shot labels it must pay for ({n_val} + "
            f"{n_fewshot}); raise the budget or lower n_val / n_fewshot"
        )
    rest = budget - fixed
    slack = 1e-12 * budget  # float rounding only, so 0.3 * 100 / 0.1 buys 300 weak labels, not 299

    def affordable(money: float, price: float) -> int:
        n = max(0, math.floor((money + slack) / price))
        return n - 1 if n and n * price > money + slack else n  # the division may round up across an integer

    n_gold = affordable(rest - affordable(weak_fraction * rest, wmc) * wmc, 1.0)
    n_weak = affordable(rest - n_gold, wmc) if weak_fraction > 0 else 0
    return Spend(n_weak, n_gold, n_val, n_fewshot)
