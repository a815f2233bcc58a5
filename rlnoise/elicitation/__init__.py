"""Label-budget planning (Mallen & Belrose 2024): weak vs gold labels under a cost model, elicitation methods,
sweeps, Pareto frontiers, regimes and a planner."""

from rlnoise.core.lazy import lazy_exports

# name -> module; imported on first use, so the study's config module loads without torch
_EXPORTS = {
    "BINARY_TASKS": "rlnoise.core.tasks",
    "binary_task": "rlnoise.core.tasks",
    "Spend": "rlnoise.elicitation.cost",
    "label_cost": "rlnoise.elicitation.cost",
    "split_budget": "rlnoise.elicitation.cost",
    "make_splits": "rlnoise.elicitation.data",
    "pareto_frontier": "rlnoise.elicitation.frontier",
    "regime": "rlnoise.elicitation.frontier",
    "METHODS": "rlnoise.elicitation.methods",
    "plan": "rlnoise.elicitation.planner",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
