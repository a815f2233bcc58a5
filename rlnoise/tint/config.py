"""Configs of the TInt study: the sweep grid and the fine-tuning settings. No torch is imported here, so the recipe
answers ``--help`` and bad flags before any model library loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlnoise.core.config import (
    RunSettings,
    check_choice,
    check_lists,
    check_positive,
    check_probability,
    check_seeds,
)
from rlnoise.tint.damage import RATES
from rlnoise.tint.tasks import TASKS, check_digits
from rlnoise.tint.trace import SEMANTICS

NOISE_TYPES = ("static", "dynamic")


METHODS = ("finetune", "few_shot")
MATCHES = ("none", *RATES)


@dataclass
class TIntSweepConfig(RunSettings):
    """The grid and the data of a TInt sweep."""

    run_name: str = field(default="tint_quick", metadata={"help": "Run folder name under runs/tint/."})
    tasks: list[str] = field(
        default_factory=lambda: ["add"], metadata={"help": "Tasks to sweep.", "choices": sorted(TASKS)}
    )
    noise_types: list[str] = field(
        default_factory=lambda: list(NOISE_TYPES), metadata={"help": "Noise types to sweep.", "choices": NOISE_TYPES}
    )
    contaminations: list[float] = field(
        default_factory=lambda: [1.0], metadata={"help": "Shares of training samples that are noised."}
    )
    static_intensities: list[float] = field(
        default_factory=lambda: [0.3, 0.6], metadata={"help": "Per-digit corruption probabilities (static)."}
    )
    static_line_p: float = field(default=0.0, metadata={"help": "Per-line deletion probability in static cells."})
    dynamic_intensities: list[float] = field(
        default_factory=lambda: [0.05, 0.2], metadata={"help": "Per-digit corruption probabilities (dynamic)."}
    )
    methods: list[str] = field(
        default_factory=lambda: list(METHODS),
        metadata={"help": "Fine-tuning and/or few-shot prompting.", "choices": METHODS},
    )
    n_train: int = field(default=256, metadata={"help": "Training samples per cell (same problems in every cell)."})
    n_test: int = field(default=48, metadata={"help": "Clean test problems per task."})
    min_digits: int = field(default=2, metadata={"help": "Fewest digits per number."})
    max_digits: int = field(default=3, metadata={"help": "Most digits per number."})
    task_digits: list[str] = field(
        default_factory=list,
        metadata={"help": "Per-task digit ranges overriding min/max_digits, as TASK=LO-HI (e.g. mul=2-3)."},
    )
    noise_semantics: str = field(
        default="clean",
        metadata={
            "help": "clean: rlnoise's noise (static spares the answer line, replacement digits always differ; "
            "dynamic corrupts step results only). reference: Dahoas/transformer_arithmetic's (static reaches the "
            "answer line, draws 0-9; dynamic corrupts every constructed integer, operands included, draws 0-8).",
            "choices": SEMANTICS,
        },
    )
    converge: float = field(
        default=0.0,
        metadata={
            "help": "Train each task's clean cell until its exact match on converge_problems held-out clean problems "
            "reaches this (e.g. 0.95), checked every converge_every steps (at most converge_max_steps); every noisy "
            "cell of the task then trains the same number of steps. 0: every cell trains sft_epochs epochs."
        },
    )
    converge_every: int = field(default=100, metadata={"help": "Steps between convergence checks."})
    converge_max_steps: int = field(default=3000, metadata={"help": "Step cap of the clean cell's training."})
    converge_problems: int = field(default=50, metadata={"help": "Held-out clean problems of the check."})
    match: str = field(
        default="none",
        metadata={
            "help": "Compare noise types at equal measured damage: none (sweep the nominal intensities), or the "
            "training-set rate to fix (digit_rate, line_rate, wrong_answer_rate); each noise type's intensity is "
            "then found per target (match_targets) by bisection on a calibration set.",
            "choices": MATCHES,
        },
    )
    match_targets: list[float] = field(
        default_factory=lambda: [0.1, 0.3], metadata={"help": "Damage rates to match (with match != none)."}
    )
    few_shot_k: int = field(default=3, metadata={"help": "Exemplars per few-shot prompt (from the noisy train set)."})
    few_shot_model: str = field(
        default="", metadata={"help": "Model prompted few-shot; empty = the fine-tuned model's base (`model`)."}
    )
    max_new_tokens: int = field(default=0, metadata={"help": "Generation budget; 0 = 1.5x the longest clean trace."})
    eval_batch_size: int = field(default=16, metadata={"help": "Prompts per generation batch."})
    seed: int = field(default=0, metadata={"help": "Seed of problems, noise and exemplars."})
    seeds: list[int] = field(
        default_factory=lambda: [0],
        metadata={
            "help": "Replicate seeds: each runs every cell again with its own training problems and noise draw "
            "(seed + s), exemplars and fine-tuning seed (sft_seed + s); the clean test set stays that of `seed`, so "
            "replicates pair up. Results pool them (mean, with intervals from the test set and the spread between "
            "seeds). 0 is the sweep without replicates."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        check_lists(self, allow_empty=("task_digits",))
        check_seeds("seeds", self.seeds)
        for task in self.tasks:
            check_choice("tasks", task, TASKS)
        for kind in self.noise_types:
            check_choice("noise_types", kind, NOISE_TYPES)
        for method in self.methods:
            check_choice("methods", method, METHODS)
        for name in ("contaminations", "static_intensities", "dynamic_intensities"):
            for value in getattr(self, name):
                check_probability(name, value)
        check_probability("static_line_p", self.static_line_p)
        check_choice("match", self.match, MATCHES)
        check_choice("noise_semantics", self.noise_semantics, SEMANTICS)
        check_probability("converge", self.converge)
        for name in ("converge_every", "converge_max_steps", "converge_problems"):
            check_positive(name, getattr(self, name), integer=True)
        for value in self.match_targets:
            check_probability("match_targets", value)
        self.digit_ranges()  # a malformed task_digits entry fails here, before any work
        for name in ("n_train", "n_test", "eval_batch_size"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("few_shot_k", self.few_shot_k, integer=True, allow_zero=True)
        check_positive("max_new_tokens", self.max_new_tokens, integer=True, allow_zero=True)
        if "few_shot" in self.methods and self.few_shot_k > self.n_train:
            raise ValueError(f"few_shot_k ({self.few_shot_k}) must be <= n_train ({self.n_train})")

    def digit_ranges(self) -> dict[str, dict[str, int]]:
        """Each task's ``min_digits`` / ``max_digits``: ``task_digits`` where it names the task, else the defaults."""
        ranges = {task: {"min_digits": self.min_digits, "max_digits": self.max_digits} for task in self.tasks}
        for entry in self.task_digits:
            task, _, span = str(entry).partition("=")
            low, dash, high = span.partition("-")
            if task not in self.tasks or not low.isdigit() or not (high if dash else low).isdigit():
                raise ValueError(
                    f"task_digits: {entry!r} must read TASK=LO-HI (or TASK=N) for a task in tasks {self.tasks}, "
                    "e.g. mul=2-3"
                )
            ranges[task] = {"min_digits": int(low), "max_digits": int(high or low)}
            check_digits(**ranges[task])
        return ranges


@dataclass
class FinetuneConfig:
    """SFT settings for TInt traces."""

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "Model registry name, hub id or path."})
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 = full fine-tuning."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    sft_learning_rate: float = field(default=5e-4, metadata={"help": "Learning rate."})
    sft_epochs: float = field(default=2.0, metadata={"help": "Epochs over the training set."})
    sft_batch_size: int = field(default=16, metadata={"help": "Sequences per optimisation step."})
    max_length: int = field(default=512, metadata={"help": "Longest prompt + trace in tokens (longer ones are cut)."})
    sft_seed: int = field(default=0, metadata={"help": "Seed of model init (tiny models) and data order."})

    def __post_init__(self):
        check_positive("lora_r", self.lora_r, integer=True, allow_zero=True)
        check_positive("lora_alpha", self.lora_alpha, integer=True)
        check_positive("sft_learning_rate", self.sft_learning_rate)
        check_positive("sft_epochs", self.sft_epochs)
        check_positive("sft_batch_size", self.sft_batch_size, integer=True)
        check_positive("max_length", self.max_length, integer=True)
