"""Configs of the overoptimization study: reward models, best-of-n, and online RL (rlnoise PPO, trl GRPO/RLOO).

Each is validated on construction, before any model loads; a recipe parses the YAML preset plus CLI overrides
into these dataclasses (together with the stage configs: sampling, gold, ensemble, PPO) and calls a ``run``. The
module imports no torch, so ``--help`` and bad flags answer before any model library loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rlnoise.core.config import (
    DTYPES,
    RunSettings,
    check_choice,
    check_lists,
    check_positive,
    check_probability,
    check_seeds,
)
from rlnoise.core.data import data_yaml
from rlnoise.core.noise import parse_noise_spec
from rlnoise.overoptimization.preference_losses import RM_LOSSES, parse_loss

# The names of rlnoise.overoptimization.objectives.OBJECTIVES (a test checks they agree), spelled out here so the
# command line can list them without importing torch. `single` is one member alone, the baseline of online RL.
OBJECTIVE_NAMES = ("mean", "wco", "uwo", "lcb", "single")
NOISE_HELP = (
    "Label-noise specs, one proxy ensemble per setting: NAME or NAME:param=value,... with NAME one of none, "
    "symmetric, exact, transition, pairwise, coste, bradley_terry, length_biased (e.g. coste, coste:fraction=0.5, "
    "symmetric:p=0.2)."
)


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
    noise: list[str] = field(default_factory=lambda: ["none", "coste"], metadata={"help": NOISE_HELP})
    uwo_lambda: float = field(default=0.5, metadata={"help": "lam of the uwo/lcb objectives in the report."})
    seed: int = field(default=0, metadata={"help": "Seed of prompt splits, sampling and noise."})

    def __post_init__(self):
        super().__post_init__()
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
        default_factory=lambda: ["mean", "wco", "uwo", "lcb"],
        metadata={"help": "Ensemble objectives to select by (each member selects too).", "choices": OBJECTIVE_NAMES},
    )
    seeds: list[int] = field(
        default_factory=lambda: [0],
        metadata={
            "help": "Replicate seeds: each redraws the label noise and the proxies' initialisation and data order "
            "(the prompts, pairs and pool stay shared, so replicates pair up); results pool them (mean, with "
            "intervals from the prompts and the spread between seeds). 0 is the study without replicates."
        },
    )
    n_sample_prompts: int = field(default=3, metadata={"help": "Prompts whose picks go to samples.jsonl."})
    sample_ns: list[int] = field(default_factory=lambda: [1, 8, 64], metadata={"help": "n values shown there."})

    def __post_init__(self):
        super().__post_init__()
        check_positive("n_bon_prompts", self.n_bon_prompts, integer=True)
        check_positive("pool_size", self.pool_size, integer=True)
        check_positive("n_grid_points", self.n_grid_points, integer=True)
        check_positive("n_sample_prompts", self.n_sample_prompts, integer=True, allow_zero=True)
        check_seeds("seeds", self.seeds)
        for name in self.objectives:
            check_choice("objectives", name, OBJECTIVE_NAMES)
        for n in self.sample_ns:
            if not 1 <= n <= self.pool_size:
                raise ValueError(f"sample_ns must lie in 1..pool_size={self.pool_size}, got {n}")


@dataclass
class RLStudyConfig(RMStudyConfig):
    """Online-RL settings on top of the reward-model study (shared by the PPO and GRPO/RLOO recipes)."""

    run_name: str = field(default="ppo_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_rl_prompts: int = field(default=64, metadata={"help": "Training prompts of the policy."})
    n_rl_eval_prompts: int = field(default=16, metadata={"help": "Fixed evaluation prompts."})
    eval_samples_per_prompt: int = field(
        default=1,
        metadata={
            "help": "Responses sampled per evaluation prompt (each prompt prefilled once); intervals resample "
            "prompts, each with the mean of its samples."
        },
    )
    objectives: list[str] = field(
        default_factory=lambda: ["mean"],
        metadata={"help": "Reward objectives to train on (single = one member alone).", "choices": OBJECTIVE_NAMES},
    )
    kl_coefs: list[float] = field(default_factory=lambda: [0.01], metadata={"help": "beta values to sweep."})
    seeds: list[int] = field(
        default_factory=lambda: [0],
        metadata={
            "help": "Replicate seeds: each reruns every RL run with its own policy-head initialisation, prompt "
            "order and rollout sampling (seed + s, ppo_seed + s); proxies and evaluation prompts stay shared, so "
            "replicates pair up. Results pool them (mean, with intervals from the prompts and the spread between "
            "seeds)."
        },
    )
    total_steps: int = field(
        default=40, metadata={"help": "Policy updates per run (PPO steps, or GRPO/RLOO trainer steps)."}
    )
    eval_every: int = field(default=10, metadata={"help": "Evaluate every k steps (and at 0 and the end)."})
    checkpoint_every: int = field(default=10, metadata={"help": "Checkpoint every k steps."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_rl_prompts", "n_rl_eval_prompts", "eval_samples_per_prompt", "total_steps", "eval_every",
                     "checkpoint_every"):  # fmt: skip
            check_positive(name, getattr(self, name), integer=True)
        for name in self.objectives:
            check_choice("objectives", name, OBJECTIVE_NAMES)
        for beta in self.kl_coefs:
            check_positive("kl_coefs", beta, allow_zero=True)
        check_seeds("seeds", self.seeds)


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


ENSEMBLE_KINDS = ("independent", "multihead", "lora")

# The ensemble config held report_to before tracking became a run setting; keys keep it at this value, so caches and
# run folders made before stay valid (nothing an ensemble computes depends on it).
ENSEMBLE_LEGACY_KEY = {"report_to": "none"}


@dataclass
class EnsembleConfig:
    """How a proxy reward-model ensemble is built and trained."""

    kind: str = field(
        default="independent", metadata={"help": "Ensemble construction: independent, multihead or lora."}
    )
    k: int = field(default=5, metadata={"help": "Number of members (Coste et al.: 5)."})
    backbone: str = field(
        default="minilm-l6", metadata={"help": "Reward-model backbone: registry name, hub id or path."}
    )
    rm_epochs: float = field(default=1.0, metadata={"help": "Training epochs over the preference pairs."})
    rm_learning_rate: float = field(
        default=3e-5, metadata={"help": "AdamW learning rate (full fine-tuning and heads)."}
    )
    rm_lora_learning_rate: float = field(default=5e-4, metadata={"help": "Learning rate for LoRA members."})
    rm_batch_size: int = field(default=16, metadata={"help": "Pairs per optimisation step."})
    rm_max_length: int = field(default=384, metadata={"help": "Pairs longer than this many tokens are dropped."})
    center_rewards_coefficient: float | None = field(
        default=None, metadata={"help": "Eisenstein et al.'s centering term weight (e.g. 0.01); None disables it."}
    )
    rm_loss: str = field(
        default="bt",
        metadata={
            "help": "Pairwise loss: bt (Bradley-Terry), cbt:EPS (label-smoothed) or rbt:EPS (unbiased robust BT, "
            "Chowdhury et al. 2024), EPS the assumed flip rate in [0, 0.5), 'measured' (the pairs' own flip rate) "
            "or measured*F."
        },
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha."})
    lora_layers: int = field(
        default=0,
        metadata={
            "help": "LoRA on the top N transformer layers only (0 = all). With N > 0 the frozen layers below run "
            "once per batch for all K members, so scoring costs about 1 + K * N / n_layers forward passes."
        },
    )
    rm_seed: int = field(default=0, metadata={"help": "Base seed; member k uses rm_seed + k."})
    rm_dtype: str = field(
        default="float32",
        metadata={
            "help": "Precision of reward-model training: bfloat16 is mixed precision (autocast, float32 weights), "
            "the usual choice on GPUs; see docs/performance.md for what it changes on a CPU.",
            "choices": DTYPES,
        },
    )

    def __post_init__(self):
        check_choice("kind", self.kind, ENSEMBLE_KINDS)
        check_positive("k", self.k, integer=True)
        check_positive("rm_epochs", self.rm_epochs)
        check_positive("rm_learning_rate", self.rm_learning_rate)
        check_positive("rm_lora_learning_rate", self.rm_lora_learning_rate)
        check_positive("rm_batch_size", self.rm_batch_size, integer=True)
        check_positive("rm_max_length", self.rm_max_length, integer=True)
        check_positive("lora_r", self.lora_r, integer=True)
        parse_loss(self.rm_loss, "rm_loss", RM_LOSSES)
        check_choice("rm_dtype", self.rm_dtype, DTYPES)
        check_positive("lora_alpha", self.lora_alpha, integer=True)
        check_positive("lora_layers", self.lora_layers, integer=True, allow_zero=True)
        if self.center_rewards_coefficient is not None:
            check_positive("center_rewards_coefficient", self.center_rewards_coefficient, allow_zero=True)


@dataclass
class GoldConfig:
    """Weights of the rubric gold reward. Total = sum of weight * signal."""

    w_agreement: float = field(
        default=4.0,
        metadata={"help": "Agreement with the reference answer: cos(resp, reference) - max cos(resp, wrong options)."},
    )
    w_relevance: float = field(default=1.0, metadata={"help": "Relevance: cos(resp, prompt question), MiniLM."})
    w_sentiment: float = field(default=0.5, metadata={"help": "Politeness: VADER compound sentiment in [-1, 1]."})
    w_length: float = field(default=0.5, metadata={"help": "Length preference: -|log2(words / target_words)|."})
    target_words: int = field(default=25, metadata={"help": "Preferred response length in words."})
    w_repetition: float = field(
        default=2.0, metadata={"help": "Repetition penalty: minus the fraction of repeated word trigrams."}
    )
    gold_model: str = field(
        default="rubric",
        metadata={
            "help": "'rubric' (this rubric), or a reward-model id/path used as gold instead (HFRewardModelGold)."
        },
    )
    gold_encoder: str = field(default="minilm-l6", metadata={"help": "Sentence encoder for the similarity signals."})
    gold_batch_size: int = field(default=64, metadata={"help": "Encoder batch size of the gold reward."})

    def __post_init__(self):
        for name in ("w_agreement", "w_relevance", "w_sentiment", "w_length", "w_repetition"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        check_positive("target_words", self.target_words, integer=True)
        check_positive("gold_batch_size", self.gold_batch_size, integer=True)


@dataclass
class PPOConfig:
    """PPO hyperparameters (flat, so one YAML drives every dataclass of a recipe)."""

    # rollouts
    rollout_batch_size: int = field(default=8, metadata={"help": "Prompts per PPO step (per process)."})
    # optimisation
    ppo_epochs: int = field(default=4, metadata={"help": "Passes over each rollout batch."})
    num_minibatches: int = field(default=2, metadata={"help": "Minibatches per epoch."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per minibatch."})
    ppo_learning_rate: float = field(default=1e-4, metadata={"help": "Adam learning rate (LoRA; ~1e-5 full)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    clip_range: float = field(default=0.2, metadata={"help": "Policy ratio clip epsilon."})
    value_clip_range: float = field(default=0.2, metadata={"help": "Value clip around the rollout values."})
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss."})
    gamma: float = field(default=1.0, metadata={"help": "Discount (1: the episode is one response)."})
    gae_lambda: float = field(default=0.95, metadata={"help": "GAE lambda."})
    # reward
    kl_coef: float = field(default=0.01, metadata={"help": "beta of the per-token KL penalty (Coste: 0.01)."})
    adaptive_kl: bool = field(default=False, metadata={"help": "Adapt beta toward kl_target (Ziegler et al.)."})
    kl_target: float = field(default=6.0, metadata={"help": "Target KL of the adaptive controller."})
    kl_horizon: int = field(default=10_000, metadata={"help": "Horizon of the adaptive controller."})
    reward_clip: float = field(default=10.0, metadata={"help": "Scores are clipped to [-reward_clip, reward_clip]."})
    truncation_penalty: float | None = field(
        default=None, metadata={"help": "Score given to responses without EOS (None: no penalty)."}
    )
    # models
    policy_lora_r: int = field(default=16, metadata={"help": "LoRA rank of the policy; 0 = full fine-tuning."})
    policy_lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha of the policy."})
    value_model: str = field(default="shared", metadata={"help": "'shared' trunk + value head, or 'separate'."})
    ppo_seed: int = field(
        default=0, metadata={"help": "Seed of rollout sampling and minibatch order (prompt order follows `seed`)."}
    )

    def __post_init__(self):
        for name in ("rollout_batch_size", "ppo_epochs", "num_minibatches", "gradient_accumulation_steps"):
            check_positive(name, getattr(self, name), integer=True)
        for name in ("ppo_learning_rate", "max_grad_norm", "clip_range", "value_clip_range", "kl_target"):
            check_positive(name, getattr(self, name))
        for name in ("vf_coef", "kl_coef", "reward_clip"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_probability("gamma", self.gamma)
        check_probability("gae_lambda", self.gae_lambda)
        check_positive("kl_horizon", self.kl_horizon, integer=True)
        check_positive("policy_lora_r", self.policy_lora_r, integer=True, allow_zero=True)
        check_choice("value_model", self.value_model, ("shared", "separate"))
        if self.rollout_batch_size % (self.num_minibatches * self.gradient_accumulation_steps):
            raise ValueError(
                f"rollout_batch_size ({self.rollout_batch_size}) must be divisible by num_minibatches x "
                f"gradient_accumulation_steps ({self.num_minibatches} x {self.gradient_accumulation_steps})"
            )
