"""Label-budget planning (Mallen & Belrose 2024): weak vs gold labels under a cost model, elicitation methods,
sweeps, Pareto frontiers, regimes and a planner."""

from rlnoise.core.tasks import BINARY_TASKS, binary_task
from rlnoise.elicitation.cost import Spend, label_cost, split_budget
from rlnoise.elicitation.data import make_splits
from rlnoise.elicitation.frontier import pareto_frontier, regime
from rlnoise.elicitation.methods import METHODS
from rlnoise.elicitation.planner import plan

__all__ = [
    "BINARY_TASKS",
    "METHODS",
    "Spend",
    "binary_task",
    "label_cost",
    "make_splits",
    "pareto_frontier",
    "plan",
    "regime",
    "split_budget",
]
