"""Conservative ensemble rewards as plain callables: for rlnoise's PPO and as trl reward functions (GRPO, RLOO)."""

from __future__ import annotations

import torch

from rlnoise.overoptimization.ensemble import RewardEnsemble
from rlnoise.overoptimization.objectives import OBJECTIVES, Standardizer, apply_objective


class EnsembleReward:
    """``reward(prompts, responses) -> [B]``: an objective over the ensemble's member scores.

    Members are standardised with statistics from a reference set of (prompt, response) pairs, e.g. the initial
    policy's samples, so WCO / UWO compare members on one scale.

    Args:
        ensemble: the proxy ensemble.
        objective: a name in :data:`OBJECTIVES`. lam: the uwo / lcb weight (>= 0).
        reference: optional ``(prompts, responses)`` to fit the standardiser on; None uses raw scores.
    """

    __name__ = "ensemble_reward"  # trl names reward functions by __name__ in its logs

    def __init__(
        self,
        ensemble: RewardEnsemble,
        objective: str = "mean",
        lam: float = 0.5,
        reference: tuple[list[str], list[str]] | None = None,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got '{objective}'")
        apply_objective(objective, torch.zeros(1, 1), lam=lam)  # validates lam now, not mid-training
        self.ensemble, self.objective, self.lam = ensemble, objective, lam
        self.standardizer = Standardizer(ensemble.score(*reference)) if reference else None

    def member_scores(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        """``[K, B]`` member scores (standardised when a reference was given)."""
        scores = self.ensemble.score(prompts, responses)
        return self.standardizer(scores) if self.standardizer else scores

    def combine(self, member_scores: torch.Tensor) -> torch.Tensor:
        """``[B]``: the objective over ``[K, B]`` member scores from :meth:`member_scores`."""
        return apply_objective(self.objective, member_scores, lam=self.lam)

    def __call__(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        return self.combine(self.member_scores(prompts, responses))


def trl_reward_function(reward: EnsembleReward, prompt_texts: dict[str, str] | None = None):
    """Wrap a reward for ``trl.GRPOTrainer`` / ``trl.RLOOTrainer``: ``fn(prompts, completions, **kw) -> list[float]``.

    trl passes chat-formatted or plain prompts and completions; both are reduced to text. ``prompt_texts`` maps
    the prompt trl sees back to the raw prompt the reward models were trained on (when they differ).
    """

    def text(x) -> str:
        if isinstance(x, list):  # conversational: a list of {"role", "content"} messages
            return " ".join(m["content"] for m in x if m.get("role") != "system")
        return str(x)

    def ensemble_reward(prompts, completions, **kwargs) -> list[float]:
        raw = [text(p) for p in prompts]
        raw = [prompt_texts.get(p, p) for p in raw] if prompt_texts else raw
        return reward(raw, [text(c).strip() for c in completions]).tolist()

    return ensemble_reward
