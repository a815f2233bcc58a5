"""Configs of the overoptimization study: reward models, best-of-n, and online RL (rlnoise PPO, trl GRPO/RLOO).

Each is validated on construction, before any model loads; a recipe parses the YAML preset plus CLI overrides
into these dataclasses (together with the stage configs: sampling, gold, ensemble, PPO) and calls a ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlnoise.core.config import check_choice, check_lists, check_positive
from rlnoise.core.data import data_yaml
from rlnoise.core.noise import parse_noise_spec
from rlnoise.core.runs import RunSettings
from rlnoise.overoptimization.objectives import OBJECTIVES


@dataclass
class RMStudyConfig(RunSettings):
    """What an overoptimization study runs: prompts, policy, RM pairs, noise settings and outputs."""

    run_name: str = field(default="rm_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    policy: str = field(default="smollm2-135m-instruct", metadata={"help": "Policy that writes the responses."})
    prompt_sources: list[str] = field(
        default_factory=lambda: list(data_yaml("prompt_sources.yaml")),
        metadata={"help": "Shipped tasks whose questions become prompts (default: data/prompt_sources.yaml)."},
    )
    n_train_pairs: int = field(default=256, metadata={"help": "Preference pairs to train the proxies on."})
    n_eval_pairs: int = field(default=96, metadata={"help": "Held-out pairs for accuracy."})
    noise: list[str] = field(
        default_factory=lambda: ["none", "coste"], metadata={"help": "Noise specs, one ensemble per setting."}
    )
    uwo_lambda: float = field(default=0.5, metadata={"help": "lam of the uwo/lcb objectives in the report."})
    seed: int = field(default=0, metadata={"help": "Seed of prompt splits, sampling and noise."})

    def __post_init__(self):
        check_lists(self)
        check_positive("n_train_pairs", self.n_train_pairs, integer=True)
        check_positive("n_eval_pairs", self.n_eval_pairs, integer=True)
        check_positive("uwo_lambda", self.uwo_lambda, allow_zero=True)
        for spec in self.noise:
            parse_noise_spec(spec)


@dataclass
class BonStudyConfig(RMStudyConfig):
    """Best-of-n settings on top of the reward-model study."""

    run_name: str = field(default="bon_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_bon_prompts: int = field(default=16, metadata={"help": "Evaluation prompts, each with a pool of samples."})
    pool_size: int = field(default=64, metadata={"help": "N: samples per evaluation prompt."})
    n_grid_points: int = field(default=20, metadata={"help": "Points of the n grid (even in sqrt(KL))."})
    objectives: list[str] = field(
        default_factory=lambda: ["mean", "wco", "uwo", "lcb"], metadata={"help": "Ensemble objectives to select by."}
    )
    n_sample_prompts: int = field(default=3, metadata={"help": "Prompts whose picks go to samples.jsonl."})
    sample_ns: list[int] = field(default_factory=lambda: [1, 8, 64], metadata={"help": "n values shown there."})

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_bon_prompts", self.n_bon_prompts, integer=True)
        check_positive("pool_size", self.pool_size, integer=True)
        check_positive("n_grid_points", self.n_grid_points, integer=True)
        check_positive("n_sample_prompts", self.n_sample_prompts, integer=True, allow_zero=True)
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ValueError(f"objectives must be names in {sorted(OBJECTIVES)}, got '{name}'")
        for n in self.sample_ns:
            if not 1 <= n <= self.pool_size:
                raise ValueError(f"sample_ns must lie in 1..pool_size={self.pool_size}, got {n}")


@dataclass
class RLStudyConfig(RMStudyConfig):
    """Online-RL settings on top of the reward-model study (shared by the PPO and GRPO/RLOO recipes)."""

    run_name: str = field(default="ppo_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_rl_prompts: int = field(default=64, metadata={"help": "Training prompts of the policy."})
    n_rl_eval_prompts: int = field(default=16, metadata={"help": "Fixed evaluation prompts."})
    objectives: list[str] = field(
        default_factory=lambda: ["mean"], metadata={"help": "Reward objectives to train on."}
    )
    kl_coefs: list[float] = field(default_factory=lambda: [0.01], metadata={"help": "beta values to sweep."})
    total_steps: int = field(default=40, metadata={"help": "PPO steps per run."})
    eval_every: int = field(default=10, metadata={"help": "Evaluate every k steps (and at 0 and the end)."})
    checkpoint_every: int = field(default=10, metadata={"help": "Checkpoint every k steps."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_rl_prompts", "n_rl_eval_prompts", "total_steps", "eval_every", "checkpoint_every"):
            check_positive(name, getattr(self, name), integer=True)
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ValueError(f"objectives must be names in {sorted(OBJECTIVES)}, got '{name}'")
        for beta in self.kl_coefs:
            check_positive("kl_coefs", beta, allow_zero=True)


@dataclass
class TrlRLConfig:
    """trl GRPO / RLOO settings."""

    algorithm: str = field(default="grpo", metadata={"help": "'grpo' (trl.GRPOTrainer) or 'rloo' (trl.RLOOTrainer)."})
    num_generations: int = field(default=4, metadata={"help": "Completions per prompt (the group)."})
    prompts_per_step: int = field(default=2, metadata={"help": "Prompts per optimisation step (per process)."})
    rl_learning_rate: float = field(default=3e-4, metadata={"help": "Learning rate (LoRA)."})
    policy_lora_r: int = field(default=16, metadata={"help": "LoRA rank of the policy."})
    policy_lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha of the policy."})

    def __post_init__(self):
        check_choice("algorithm", self.algorithm, ("grpo", "rloo"))
        check_positive("num_generations", self.num_generations, integer=True)
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be >= 2 (group baselines need two), got {self.num_generations}")
        check_positive("prompts_per_step", self.prompts_per_step, integer=True)
        check_positive("rl_learning_rate", self.rl_learning_rate)
        check_positive("policy_lora_r", self.policy_lora_r, integer=True)
        check_positive("policy_lora_alpha", self.policy_lora_alpha, integer=True)
