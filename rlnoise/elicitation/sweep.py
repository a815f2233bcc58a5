"""The elicitation sweep: tasks x budgets x weak fractions x methods x seeds.

Each finished cell is appended to ``cells-<shard>.jsonl`` in the run folder; a rerun (any shard layout) skips
cells whose key is already in any ``cells*.jsonl``. ``--shard i/n`` runs every n-th cell, so n machines can split
a sweep and write to the same folder. Rows store the labels a cell used, not only its cost, so results can be
re-scored under any weak marginal cost without retraining (``analysis.rescore``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from rlnoise.core.config import check_positive, to_dict
from rlnoise.core.files import append_jsonl, read_jsonl
from rlnoise.core.stages import fingerprint
from rlnoise.core.tasks import BINARY_TASKS, binary_task
from rlnoise.elicitation.cost import Spend, check_budget, check_weak_cost, check_weak_fraction
from rlnoise.elicitation.data import Splits, make_splits
from rlnoise.elicitation.learner import LearnerConfig, StrongLearner
from rlnoise.elicitation.methods import METHODS, CellData, method, run_cell
from rlnoise.elicitation.weak import weak_labels

logger = logging.getLogger(__name__)


@dataclass
class SweepConfig:
    """The grid, the data and the labelers of an elicitation sweep (the strong learner is ``LearnerConfig``)."""

    run_name: str = field(default="elicitation_quick", metadata={"help": "Run folder name under runs/elicitation/."})
    output_root: str = field(default="runs", metadata={"help": "Root folder of run outputs."})
    tasks: list[str] = field(
        default_factory=lambda: ["boolq"], metadata={"help": f"Tasks, from {list(BINARY_TASKS)}."}
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
        metadata={"help": f"Methods, from {sorted(METHODS)}."},
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
        default="minilm-l6", metadata={"help": "Model whose frozen features the weak labeler reads."}
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
        if not self.tasks:
            raise ValueError("tasks must name at least one task")
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


@dataclass(frozen=True)
class GridPoint:
    task: str
    method: str
    budget: float
    weak_fraction: float
    seed: int


def grid(config: SweepConfig) -> list[GridPoint]:
    """Every (task, method, budget, fraction, seed) the sweep covers, in a fixed order."""
    return [
        GridPoint(task, name, float(budget), float(f), seed)
        for task in config.tasks
        for seed in config.seeds
        for budget in sorted(config.budgets)
        for name in config.methods
        for f in method(name).fractions(sorted(config.weak_fractions))
    ]


def _data_key(config: SweepConfig, task: str) -> dict:
    return dict(
        task=task,
        data_seed=config.data_seed,
        n_test=config.n_test,
        n_weak_train=config.n_weak_train,
        max_examples=config.max_examples,
    )


def point_spend(config: SweepConfig, point: GridPoint) -> Spend:
    """The labels a grid point buys: its method's split of the budget (validation and few-shot labels charged)."""
    return method(point.method).spend(
        point.budget, point.weak_fraction, config.weak_marginal_cost, n_val=config.n_val, k=config.few_shot_k
    )


def cell_key(config: SweepConfig, learner: LearnerConfig, point: GridPoint) -> tuple[str, dict]:
    """A cell's identity: what determines its result (two grid points with the same spend share one cell)."""
    spend = point_spend(config, point)
    m = method(point.method)
    parts = dict(
        data=_data_key(config, point.task),
        method=point.method,
        spend=vars(spend),
        seed=point.seed,
        weak=dict(model=config.weak_model, pooling=config.weak_pooling) if m.weak else None,
        learner=to_dict(learner) if m.train else dict(prompt_model=config.prompt_model),
    )
    return fingerprint(parts), vars(spend)


def run_folder(config: SweepConfig) -> Path:
    return Path(config.output_root) / "elicitation" / config.run_name


def load_cells(folder: str | Path) -> list[dict]:
    """Every finished grid point of a sweep folder (all shards)."""
    rows = []
    for path in sorted(Path(folder).glob("cells*.jsonl")):
        rows += read_jsonl(path)
    return rows


def task_splits(config: SweepConfig, task: str) -> Splits:
    """The binary task and its splits (cheap: no model runs)."""
    data = binary_task(task, seed=config.data_seed)
    if config.max_examples and config.max_examples < len(data):
        data = data.select(range(config.max_examples))
    return make_splits(data, n_test=config.n_test, n_weak_train=config.n_weak_train, seed=config.data_seed)


def task_data(config: SweepConfig, learner_config: LearnerConfig, splits: Splits, need_weak: bool):
    """What the cells of one task share: weak labels for its weak pool (cached) and the strong learner."""
    task = splits.data[0]["source"]
    weak_info: dict = {}
    probs_by_row: dict = {}
    if need_weak:
        probs, weak_info = weak_labels(
            splits, model=config.weak_model, pooling=config.weak_pooling, cache_key=_data_key(config, task)
        )
        probs_by_row = dict(zip(splits.weak_pool, probs.tolist()))
    texts = list(splits.data["text"])
    learner = StrongLearner(learner_config, texts, splits.weak_pool + splits.gold_pool)
    return CellData(splits, probs_by_row, learner, config.prompt_model), dict(weak_info, **splits.sizes())


def feasible_points(config: SweepConfig, splits: dict[str, Splits]) -> list[GridPoint]:
    """The grid without points that need more examples than a task's pools hold: an error, or (with
    ``skip_infeasible``) a warning that lists them."""
    points, skipped = [], []
    for point in grid(config):
        spend = point_spend(config, point)
        s = splits[point.task]
        gold = spend.n_gold + spend.n_val + spend.n_fewshot
        if spend.n_weak <= len(s.weak_pool) and gold <= len(s.gold_pool):
            points.append(point)
            continue
        message = (
            f"budget {point.budget:g} at weak_fraction {point.weak_fraction:g} ({point.method}) needs {spend.n_weak} "
            f"weak and {gold} gold examples of {point.task!r}, whose pools hold {len(s.weak_pool)} and "
            f"{len(s.gold_pool)}"
        )
        if not config.skip_infeasible:
            raise ValueError(
                f"budgets: {message}; lower the budget, the weak fraction or n_test/n_weak_train, or set "
                "skip_infeasible"
            )
        skipped.append(message)
    if skipped:
        logger.warning("skipping %d grid points the pools cannot hold:\n  %s", len(skipped), "\n  ".join(skipped))
    return points


def run_sweep(config: SweepConfig, learner_config: LearnerConfig) -> list[dict]:
    """Run this shard's unfinished cells; returns all finished rows of the folder (every shard)."""
    prompted = [m for m in config.methods if method(m).fewshot and method(m).train]
    if learner_config.mode == "head" and prompted:
        raise ValueError(
            f"methods {prompted} put exemplars in the classifier's input, which needs mode lora or full, "
            "not head (fixed features)"
        )
    folder = run_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"cells-{config.shard_index}of{config.shard_count}.jsonl"
    done = {(r["key"], r["budget"], r["weak_fraction"]): r for r in load_cells(folder)}
    by_key = {r["key"]: r for r in done.values()}
    splits = {task: task_splits(config, task) for task in config.tasks}
    points = feasible_points(config, splits)
    points = [p for i, p in enumerate(points) if i % config.shard_count == config.shard_index]
    tasks: dict[str, tuple] = {}
    for point in tqdm(points, desc=f"cells (shard {config.shard})"):
        key, spend = cell_key(config, learner_config, point)
        if (key, point.budget, point.weak_fraction) in done:
            continue
        if key in by_key:  # same labels at another grid point (e.g. prompting at every budget): reuse the result
            result = {k: v for k, v in by_key[key].items() if k not in ("budget", "weak_fraction")}
        else:
            if point.task not in tasks:
                need_weak = any(method(m).weak for m in config.methods)
                tasks[point.task] = task_data(config, learner_config, splits[point.task], need_weak)
            data, info = tasks[point.task]
            result = dict(
                run_cell(data, point.method, Spend(**spend), point.seed),
                key=key,
                task=point.task,
                method=point.method,
                weak_accuracy=info.get("weak_pool_accuracy"),
                n_test=len(data.splits.test),
            )
        row = dict(result, budget=point.budget, weak_fraction=point.weak_fraction)
        append_jsonl(out, row)
        done[(key, point.budget, point.weak_fraction)] = by_key[key] = row
    return load_cells(folder)
