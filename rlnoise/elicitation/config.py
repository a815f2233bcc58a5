"""Configs of the elicitation study: the sweep grid and the strong learner. No torch is imported here, so the
recipe answers ``--help`` and bad flags before any model library loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlnoise.core.config import (
    DTYPES,
    POOLINGS,
    RunSettings,
    check_choice,
    check_lists,
    check_positive,
    check_probability,
)
from rlnoise.core.data import BINARY_TASKS
from rlnoise.elicitation.cost import check_budget, check_weak_cost, check_weak_fraction
from rlnoise.elicitation.methods import METHODS, method


@dataclass
class SweepConfig(RunSettings):
    """The grid, the data and the labelers of an elicitation sweep (the strong learner is ``LearnerConfig``)."""

    run_name: str = field(default="elicitation_quick", metadata={"help": "Run folder name under runs/elicitation/."})
    tasks: list[str] = field(
        default_factory=lambda: ["boolq"], metadata={"help": "Binary tasks to sweep.", "choices": BINARY_TASKS}
    )
    budgets: list[float] = field(
        default_factory=lambda: [64.0, 256.0],
        metadata={"help": "Label budgets in gold-label units (validation and few-shot labels included)."},
    )
    weak_fractions: list[float] = field(
        default_factory=lambda: [0.0, 0.5, 0.9, 1.0],
        metadata={"help": "Shares of the label budget spent on weak labels."},
    )
    methods: list[str] = field(
        default_factory=lambda: ["sft_gold", "sft_weak", "sequential"],
        metadata={"help": "Elicitation methods to sweep.", "choices": sorted(METHODS)},
    )
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "Seeds (pool draw, init, data order)."})
    weak_marginal_cost: float = field(default=0.1, metadata={"help": "Cost of one weak label (a gold label costs 1)."})
    n_val: int = field(default=16, metadata={"help": "Gold validation labels per cell for early stopping (charged)."})
    few_shot_k: int = field(default=4, metadata={"help": "Gold exemplars of few-shot methods (charged)."})
    n_test: int = field(default=400, metadata={"help": "Held-out test examples per task."})
    n_weak_train: int = field(
        default=200,
        metadata={
            "help": "Gold labels the weak labeler is trained on (not charged to cells: the weak labeler is given)."
        },
    )
    max_examples: int = field(default=0, metadata={"help": "Use only this many examples of each task (0 = all)."})
    weak_model: str = field(
        default="minilm-l6",
        metadata={
            "help": "Model whose frozen features the weak labeler reads, or 'vader' (VADER's lexicon: a zero-label "
            "weak labeler for sentiment tasks)."
        },
    )
    weak_pooling: str = field(default="mean", metadata={"help": "Pooling of the weak labeler's features."})
    prompt_model: str = field(default="smollm2-135m-instruct", metadata={"help": "Causal LM of few-shot prompting."})
    data_seed: int = field(default=0, metadata={"help": "Seed of the binary conversion and the splits."})
    shard: str = field(default="0/1", metadata={"help": "i/n: run every n-th cell starting at i."})
    skip_infeasible: bool = field(
        default=False,
        metadata={
            "help": "Skip (with a warning) grid points needing more examples than a task's pools hold, "
            "instead of stopping with an error."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        check_lists(self)
        for t in self.tasks:
            if t not in BINARY_TASKS:
                raise ValueError(f"tasks: each must be one of {list(BINARY_TASKS)}, got {t!r}")
        for name in self.methods:
            method(name)
        if not self.budgets or not self.weak_fractions or not self.methods or not self.seeds:
            raise ValueError("budgets, weak_fractions, methods and seeds must each list at least one value")
        for b in self.budgets:
            check_budget(b)
        for f in self.weak_fractions:
            check_weak_fraction(f)
        check_weak_cost(self.weak_marginal_cost)
        check_positive("n_val", self.n_val, integer=True, allow_zero=True)
        check_positive("few_shot_k", self.few_shot_k, integer=True, allow_zero=True)
        check_positive("n_test", self.n_test, integer=True)
        check_positive("n_weak_train", self.n_weak_train, integer=True)
        check_positive("max_examples", self.max_examples, integer=True, allow_zero=True)
        self.shard_index, self.shard_count = parse_shard(self.shard)
        needs_k = any(method(m).fewshot for m in self.methods)
        if needs_k and self.few_shot_k == 0:
            raise ValueError("few_shot_k must be >= 1 when a few-shot method is swept")
        fixed = max(
            (self.n_val if method(m).train else 0) + (self.few_shot_k if method(m).fewshot else 0)
            for m in self.methods
        )
        for b in self.budgets:
            if b < fixed:
                raise ValueError(
                    f"budgets: {b:g} cannot pay for the {fixed} validation + few-shot labels (n_val, "
                    "few_shot_k) a swept method needs"
                )


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard must look like 'i/n' (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be i/n with 0 <= i < n, got {text!r}")
    return i, n


MODES = ("lora", "full", "head")


@dataclass
class LearnerConfig:
    """How the strong model is trained on each cell's labels."""

    strong_model: str = field(default="smollm2-135m-instruct", metadata={"help": "Registry name, hub id or path."})
    mode: str = field(
        default="lora",
        metadata={"help": "LoRA, full fine-tuning, or a linear head on frozen cached features.", "choices": MODES},
    )
    pooling: str = field(
        default="last", metadata={"help": "Feature pooling in head mode (mean or last token).", "choices": POOLINGS}
    )
    feature_dtype: str = field(
        default="float32",
        metadata={
            "help": "Precision of the feature pass in head mode: bfloat16 is ~2.4x faster on SmolLM2 and moves "
            "each text's features by ~1%; float32 is the reference.",
            "choices": DTYPES,
        },
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (lora mode)."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (lora mode)."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (linear decay)."})
    epochs: float = field(default=3.0, metadata={"help": "Epochs per training phase."})
    batch_size: int = field(default=16, metadata={"help": "Examples per optimisation step."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    max_length: int = field(default=256, metadata={"help": "Longest input in tokens."})
    patience: int = field(default=2, metadata={"help": "Epochs without a better validation accuracy before stopping."})
    logconf_alpha: float = field(
        default=0.5,
        metadata={
            "help": "Final weight of the log-confidence loss (methods that "
            "use it); ramps up over the first 20% of steps."
        },
    )

    def __post_init__(self):
        check_choice("mode", self.mode, MODES)
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("feature_dtype", self.feature_dtype, DTYPES)
        for name in ("lora_r", "lora_alpha", "batch_size", "max_length", "patience"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("epochs", self.epochs)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        check_probability("logconf_alpha", self.logconf_alpha)
