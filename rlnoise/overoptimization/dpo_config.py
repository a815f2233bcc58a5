"""Configs of the direct-alignment study (DPO and its robust variants under label noise). No torch is imported, so
``--help`` and bad values answer before any model library loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlnoise.core.config import check_positive, check_seeds
from rlnoise.core.noise import parse_noise_spec
from rlnoise.overoptimization.config import RMStudyConfig
from rlnoise.overoptimization.preference_losses import parse_loss

LOSS_HELP = (
    "Losses to train with: dpo, ipo, slic, cdpo:EPS, rdpo:EPS; EPS the assumed flip rate in [0, 0.5), 'measured' "
    "(the noise setting's measured flip rate) or measured*F (a deliberate misspecification, e.g. measured*0.5)."
)


@dataclass
class DPOStudyConfig(RMStudyConfig):
    """The DPO study: the reward-model study's prompts, pairs and noise settings, then one LoRA policy per (noise,
    loss, beta, seed) trained on the labelled pairs and evaluated on fixed held-out prompts."""

    run_name: str = field(default="dpo_quick", metadata={"help": "Run folder name under runs/overoptimization/."})
    n_eval_prompts: int = field(default=48, metadata={"help": "Fixed evaluation prompts (gold and KL)."})
    eval_samples_per_prompt: int = field(default=8, metadata={"help": "Responses sampled per evaluation prompt."})
    accuracy_pairs: int = field(
        default=32,
        metadata={
            "help": "Held-out pairs whose implicit-reward accuracy each evaluation measures (at most n_eval_pairs)."
        },
    )
    losses: list[str] = field(
        default_factory=lambda: ["dpo", "rdpo:measured", "cdpo:measured"], metadata={"help": LOSS_HELP}
    )
    betas: list[float] = field(default_factory=lambda: [0.1], metadata={"help": "DPO beta values to sweep (> 0)."})
    seeds: list[int] = field(
        default_factory=lambda: [0],
        metadata={
            "help": "Replicate seeds: each redraws the label noise, the LoRA initialisation and the data order (the "
            "prompts, sampled pairs and evaluation prompts stay shared, so replicates pair up)."
        },
    )
    total_steps: int = field(default=64, metadata={"help": "Optimisation steps per run (epochs repeat the pairs)."})
    eval_every: int = field(default=16, metadata={"help": "Evaluate every k steps (and at 0 and the end)."})
    checkpoint_every: int = field(default=16, metadata={"help": "Checkpoint every k steps."})

    def __post_init__(self):
        super().__post_init__()
        for name in ("n_eval_prompts", "eval_samples_per_prompt", "accuracy_pairs", "total_steps", "eval_every",
                     "checkpoint_every"):  # fmt: skip
            check_positive(name, getattr(self, name), integer=True)
        if self.accuracy_pairs > self.n_eval_pairs:
            raise ValueError(
                f"accuracy_pairs ({self.accuracy_pairs}) must be at most n_eval_pairs ({self.n_eval_pairs})"
            )
        specs = [parse_loss(loss) for loss in self.losses]
        for beta in self.betas:
            if isinstance(beta, bool) or not isinstance(beta, int | float) or not beta > 0:
                raise ValueError(f"betas: {beta!r} is not allowed: every beta must be a number > 0")
        check_seeds("seeds", self.seeds)
        noisy = [spec for spec in self.noise if parse_noise_spec(spec)[0] != "none"]
        measured = [s.text for s in specs if s.measured]
        if measured and not noisy:
            raise ValueError(f"losses: {measured} take eps from the measured flip rate, but noise {self.noise} has no "
                             "noisy setting: add one (e.g. coste:fraction=0.5) or give eps as a number")  # fmt: skip


@dataclass
class DPOConfig:
    """trl ``DPOTrainer`` settings of every run (LoRA policy)."""

    dpo_learning_rate: float = field(default=5e-4, metadata={"help": "AdamW learning rate (LoRA)."})
    dpo_batch_size: int = field(default=8, metadata={"help": "Pairs per optimisation step (per process)."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per step."})
    policy_lora_r: int = field(default=16, metadata={"help": "LoRA rank of the policy."})
    policy_lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha of the policy."})
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "Recompute activations in the backward pass (trl's default): less memory, more time."},
    )

    def __post_init__(self):
        check_positive("dpo_learning_rate", self.dpo_learning_rate)
        for name in ("dpo_batch_size", "gradient_accumulation_steps", "policy_lora_r", "policy_lora_alpha"):
            check_positive(name, getattr(self, name), integer=True)
