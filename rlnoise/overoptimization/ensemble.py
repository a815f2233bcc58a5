"""Proxy reward-model ensembles trained with ``trl.RewardTrainer``.

Three constructions (:data:`ENSEMBLE_KINDS`):

* ``independent``: K full reward models that differ in seed (head init and data order), as in Coste et al.
* ``multihead``: one backbone with K linear heads, i.e. a sequence classifier with ``num_labels=K``
  (Zhang et al. 2024's linear-layer ensemble). Each head gets its own Bradley-Terry loss; they share features.
* ``lora``: one frozen base with K LoRA adapters, each with its own head (peft ``modules_to_save``)
  (Zhang et al.'s LoRA ensemble). All K members are scored in one forward pass with peft's mixed-adapter batches.

``RewardEnsemble.score(prompts, responses)`` returns a ``[K, B]`` tensor for
:mod:`rlnoise.overoptimization.objectives`.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch
from datasets import Dataset
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rlnoise.core.console import summarise_trainer
from rlnoise.core.distributed import process_state, world
from rlnoise.core.models import forward_by_length, load_model
from rlnoise.core.precision import precision
from rlnoise.core.tracking import attach_tracking
from rlnoise.overoptimization.config import ENSEMBLE_LEGACY_KEY, EnsembleConfig
from rlnoise.overoptimization.gold import rm_text
from rlnoise.overoptimization.preference_losses import RM_LOSSES, bradley_terry_loss, parse_loss


def member_names(k: int) -> list[str]:
    """Adapter names of the K LoRA members."""
    return [f"member{i}" for i in range(k)]


class RewardEnsemble:
    """K proxy reward models behind one ``score(prompts, responses) -> Tensor[K, B]``.

    Args:
        kind: one of :data:`ENSEMBLE_KINDS`.
        models: the K models (``independent``) or the single multi-head / peft model.
        tokenizer: the shared tokenizer.
        k: number of members.
    """

    def __init__(self, kind: str, models: list, tokenizer, k: int, config: EnsembleConfig | None = None):
        self.kind, self.models, self.tokenizer, self.k = kind, models, tokenizer, k
        self.config = config
        for m in models:
            m.eval()

    @property
    def adapter_names(self) -> list[str]:
        return member_names(self.k)

    @torch.no_grad()
    def score_texts(self, texts: list[str], batch_size: int = 32, max_length: int = 512) -> torch.Tensor:
        """Scores of already formatted reward-model texts, shape [K, B]."""
        device = next(self.models[0].parameters()).device
        score = lambda enc: self._score_batch(enc).float().cpu()  # noqa: E731
        out = forward_by_length(score, self.tokenizer, texts, batch_size, max_length, device=device, dim=1)
        return out if out is not None else torch.zeros(self.k, 0)

    def _score_batch(self, enc) -> torch.Tensor:
        if self.kind == "independent":
            return torch.stack([m(**enc).logits[:, 0] for m in self.models])
        if self.kind == "multihead":
            return self.models[0](**enc).logits.T
        # lora: one forward over K copies of the batch, each copy routed to its own adapter and head
        # (peft's mixed-adapter batches); frozen layers below the adapted ones run once, not K times.
        model, b = self.models[0], enc["input_ids"].shape[0]
        names = [name for name in self.adapter_names for _ in range(b)]
        top = self.config.lora_layers if self.config else 0
        split = top and model.config.num_hidden_layers - top
        with shared_lower_layers(model, enc, split, self.k):
            repeated = {key: v.repeat(self.k, *([1] * (v.ndim - 1))) for key, v in enc.items()}
            return model(**repeated, adapter_names=names).logits[:, 0].view(self.k, b)

    def score(self, prompts: list[str], responses: list[str], batch_size: int = 32) -> torch.Tensor:
        """Member scores for each (prompt, response), shape [K, B]."""
        if len(prompts) != len(responses):
            raise ValueError(f"prompts and responses must have equal length, got {len(prompts)} and {len(responses)}")
        return self.score_texts([rm_text(p, r, self.tokenizer) for p, r in zip(prompts, responses)], batch_size)

    def to(self, device):
        for m in self.models:
            m.to(device)
        return self

    # ----------------------------------------------------------------------------------------------- persistence
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(folder / "tokenizer")
        if self.kind == "lora":
            # Only the adapters (and their heads) are saved: the frozen base is rebuilt from config.backbone.
            self.models[0].save_pretrained(folder / "adapters")
        else:
            for i, m in enumerate(self.models):
                m.save_pretrained(folder / f"model{i}")
        meta = dict(kind=self.kind, k=self.k, config=asdict(self.config) if self.config else None)
        (folder / "ensemble.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> RewardEnsemble:
        folder = Path(folder)
        meta = json.loads((folder / "ensemble.json").read_text())
        tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
        saved = dict(meta.get("config") or {})
        for legacy in ENSEMBLE_LEGACY_KEY:  # fields the config held when this ensemble was saved
            saved.pop(legacy, None)
        config = EnsembleConfig(**saved) if saved else None
        kind, k = meta["kind"], meta["k"]
        if kind == "lora":
            from peft import PeftModel

            base, _ = load_model(config.backbone, "reward_model", seed=config.rm_seed)
            names = member_names(k)
            model = PeftModel.from_pretrained(base, folder / "adapters" / names[0], adapter_name=names[0])
            for name in names[1:]:
                model.load_adapter(folder / "adapters" / name, adapter_name=name)
            models = [model]
        else:
            n = k if kind == "independent" else 1
            models = [AutoModelForSequenceClassification.from_pretrained(folder / f"model{i}") for i in range(n)]
        return cls(kind, models, tokenizer, k, config)


# ------------------------------------------------------------------------------------------ shared frozen layers
def layer_stack(model) -> nn.ModuleList:
    """The model's list of transformer blocks (the ModuleList with ``num_hidden_layers`` entries)."""
    n = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"cannot find the {n} transformer layers of {type(model).__name__}")


class _Replay(nn.Module):
    """Stands in for a frozen lower layer: returns a cached hidden state, or passes its input through."""

    def __init__(self, output: torch.Tensor | None = None):
        super().__init__()
        self.output = output

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states if self.output is None else self.output


class _StopForward(Exception):
    pass


@contextmanager
def shared_lower_layers(model, enc, split: int, k: int):
    """Inside this context, the first ``split`` layers of ``model`` replay hidden states computed once for ``enc``.

    peft has no way to share the frozen part of the network between adapters (a mixed-adapter batch of K copies
    still runs every layer K times), so we run the layers below the first adapted one once, stop the forward
    there, and swap those layers for stand-ins that hand the cached (K-times repeated) output to the top layers.
    transformers' encoder and decoder stacks call each layer as ``hidden = layer(hidden, ...)``, which is all
    this relies on. ``split = 0`` is a no-op.
    """
    if not split:
        yield
        return
    layers = layer_stack(model)
    captured = {}

    def capture(module, args, output):
        captured["hidden"] = output
        raise _StopForward

    handle = layers[split - 1].register_forward_hook(capture)
    try:
        model(**enc)
    except _StopForward:
        pass
    finally:
        handle.remove()
    hidden = captured["hidden"]
    originals = [layers[i] for i in range(split)]
    for i in range(split):
        layers[i] = _Replay(hidden.repeat(k, *([1] * (hidden.ndim - 1))) if i == 0 else None)
    try:
        yield
    finally:
        for i, module in enumerate(originals):
            layers[i] = module


# -------------------------------------------------------------------------------------------------------- training
def _reward_config(config: EnsembleConfig, output_dir: Path, seed: int, learning_rate: float):
    from trl import RewardConfig

    process_state()
    return RewardConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.rm_epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=config.rm_batch_size,
        max_length=config.rm_max_length,
        center_rewards_coefficient=config.center_rewards_coefficient,
        seed=seed,
        data_seed=seed,  # member k sees its own data order
        save_strategy="no",
        report_to="none",  # the run's tracker joins in reward_trainer (rlnoise.core.tracking)
        logging_steps=5,
        lr_scheduler_type="linear",
        warmup_steps=0,
        disable_tqdm=False,
        # trl defaults to bf16; rlnoise applies rm_dtype itself around train() (_run): accelerate's own flag cannot
        # change the mixed precision of the process state configured once per process (process_state).
        bf16=False,
        dataloader_num_workers=0,
        # Under accelerate launch each process takes a slice of the same batch, so training matches one process;
        # the configured state keeps CPU processes in their gloo group (TrainingArguments would reset it).
        accelerator_config={"split_batches": True, "use_configured_state": True},
    )


def reward_trainer(model, tokenizer, dataset: Dataset, args, loss: tuple[str, float] = ("bt", 0.0)):
    """trl's ``RewardTrainer`` with ``loss`` = (kind, eps) of
    :func:`rlnoise.overoptimization.preference_losses.bradley_terry_loss` in place of its Bradley-Terry term."""
    from trl import RewardTrainer

    kind, eps = loss
    name = f"reward_model-{Path(args.output_dir).name}"
    if kind == "bt":
        trainer = RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
        return attach_tracking(trainer, name)

    class NoisyLabelRewardTrainer(RewardTrainer):
        # trl has no label-noise correction for reward models: only the loss changes (trl's forward pass, centering
        # term and metrics are kept; its Bradley-Terry value is replaced)
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            bt, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            loss = bradley_terry_loss(chosen - rejected, kind, eps).mean()
            if self.args.center_rewards_coefficient is not None:
                loss = loss + self.args.center_rewards_coefficient * torch.mean((chosen + rejected) ** 2)
            return (loss, outputs) if return_outputs else loss

    trainer = NoisyLabelRewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return attach_tracking(trainer, name)


def _fit(model, tokenizer, dataset: Dataset, args, dtype: str, loss=("bt", 0.0)) -> list[float]:
    return _run(reward_trainer(model, tokenizer, dataset, args, loss), dtype)


def _run(trainer, dtype: str) -> list[float]:
    """Train at ``dtype`` (bfloat16: autocast over float32 weights, i.e. mixed precision), strip accelerate's
    mixed-precision forward wrapper from the model, and return the loss curve."""
    from accelerate.utils import extract_model_from_parallel

    summarise_trainer(trainer, "proxy reward model trained")
    with precision(dtype, trainer.args.device):
        trainer.train()
    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


@contextmanager
def _single_label_view(model):
    """RewardTrainer refuses models whose config has num_labels != 1. A K-output classifier is a valid
    multi-head ensemble for its loss (the Bradley-Terry loss is averaged over the [B, K] logits), so show it a
    single-label config while it is constructed and restore the real one afterwards."""
    config = model.config
    saved = (config.id2label, config.label2id)
    config.id2label, config.label2id = {0: "LABEL_0"}, {"LABEL_0": 0}
    try:
        yield
    finally:
        config.id2label, config.label2id = saved


def train_ensemble(dataset: Dataset, config: EnsembleConfig, output_dir: str | Path) -> tuple[RewardEnsemble, dict]:
    """Train a proxy ensemble on preference pairs (trl format: prompt / chosen / rejected).

    Args:
        dataset: preference pairs, e.g. from :func:`rlnoise.overoptimization.preferences.label_pairs`.
        config: the ensemble construction and training settings.
        output_dir: scratch folder for trainer state.

    Returns:
        ``(ensemble, logs)`` where ``logs["loss"][i]`` is member i's training-loss curve (one curve for multihead).
    """
    output_dir = Path(output_dir)
    processes = world()[1]
    if config.rm_batch_size % processes:
        raise ValueError(
            f"rm_batch_size must be divisible by the number of processes ({processes}), got {config.rm_batch_size}"
        )
    spec = parse_loss(config.rm_loss, "rm_loss", RM_LOSSES)
    flips = dataset["flipped"] if "flipped" in dataset.column_names else None
    loss = (spec.name, spec.resolve(sum(flips) / len(flips) if flips else None))
    train = dataset.select_columns(["prompt", "chosen", "rejected"])
    losses: list[list[float]] = []
    if config.kind == "independent":
        models = []
        for i in range(config.k):
            model, tokenizer = load_model(config.backbone, "reward_model", seed=config.rm_seed + i)
            args = _reward_config(config, output_dir / f"member{i}", config.rm_seed + i, config.rm_learning_rate)
            losses.append(_fit(model, tokenizer, train, args, config.rm_dtype, loss))
            models.append(model)
    elif config.kind == "multihead":
        model, tokenizer = load_model(config.backbone, "reward_model", num_labels=config.k, seed=config.rm_seed)
        with _single_label_view(model):
            args = _reward_config(config, output_dir / "multihead", config.rm_seed, config.rm_learning_rate)
            trainer = reward_trainer(model, tokenizer, train, args, loss)
        losses.append(_run(trainer, config.rm_dtype))
        models = [model]
    else:
        model, tokenizer, losses = _train_lora(train, config, output_dir, loss)
        models = [model]
    shutil.rmtree(output_dir, ignore_errors=True)
    return RewardEnsemble(config.kind, models, tokenizer, config.k, config), dict(loss=losses)


def _head_name(model) -> str:
    """Name of the classification head module (``score`` for decoder LMs, ``classifier`` for BERT)."""
    for name in ("score", "classifier"):
        if hasattr(model, name):
            return name
    raise ValueError(f"cannot find the classification head of {type(model).__name__}")


def lora_ensemble_model(base, config: EnsembleConfig, **lora_kwargs):
    """Wrap ``base`` (a reward model) in a peft model with K LoRA adapters ``member0..`` and a head per adapter.

    Args:
        base: the frozen reward-model backbone with its classification head.
        config: K, rank, alpha and ``lora_layers`` (adapt only the top N layers; 0 = all).
        lora_kwargs: extra ``peft.LoraConfig`` arguments (e.g. ``init_lora_weights=False`` in benchmarks).
    """
    from peft import LoraConfig, TaskType, get_peft_model

    n_layers = base.config.num_hidden_layers
    if config.lora_layers > n_layers:
        raise ValueError(f"lora_layers must be <= the backbone's {n_layers} layers, got {config.lora_layers}")
    top = list(range(n_layers - config.lora_layers, n_layers)) if config.lora_layers else None
    # every linear layer inside the transformer blocks (peft needs names, not "all-linear", to pick layers)
    blocks = layer_stack(base)[0].named_modules()
    linear = sorted({name.rsplit(".", 1)[-1] for name, m in blocks if isinstance(m, nn.Linear)})

    def lora_config():
        return LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=0.0,
            target_modules=linear,
            layers_to_transform=top,
            modules_to_save=[_head_name(base)],
            **lora_kwargs,
        )

    names = member_names(config.k)
    model = get_peft_model(base, lora_config(), adapter_name=names[0])
    for name in names[1:]:
        model.add_adapter(name, lora_config())
    return model


def _train_lora(train: Dataset, config: EnsembleConfig, output_dir: Path, loss=("bt", 0.0)):
    base, tokenizer = load_model(config.backbone, "reward_model", seed=config.rm_seed)
    model = lora_ensemble_model(base, config)
    names = member_names(config.k)
    losses = []
    for i, name in enumerate(names):
        model.set_adapter(name)
        torch.manual_seed(config.rm_seed + i)
        for module_name, module in model.named_modules():  # each member's head copy gets its own init
            if module_name.endswith(f"modules_to_save.{name}") and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        for param_name, param in model.named_parameters():
            param.requires_grad = f".{name}." in param_name or param_name.endswith(f".{name}")
        args = _reward_config(config, output_dir / name, config.rm_seed + i, config.rm_lora_learning_rate)
        losses.append(_fit(model, tokenizer, train, args, config.rm_dtype, loss))
    model.set_adapter(names[0])
    return model, tokenizer, losses


# ------------------------------------------------------------------------------------------------------ evaluation
def pair_accuracy(ensemble: RewardEnsemble, pairs: Dataset, objectives: dict | None = None) -> dict:
    """Held-out accuracy of each member (and of each objective) on noisy and on true labels.

    Args:
        ensemble: the proxy ensemble.
        pairs: preference pairs with ``prompt, chosen, rejected, flipped`` (from :func:`label_pairs`).
        objectives: optional mapping label -> ``fn(scores[K, B]) -> [B]`` to evaluate besides the members.

    Returns:
        ``{"members": {"noisy": [...K], "true": [...K]}, "objectives": {label: {"noisy": x, "true": y}}}``.
    """
    chosen = ensemble.score_texts([p + c for p, c in zip(pairs["prompt"], _with_eos(pairs["chosen"], ensemble))])
    rejected = ensemble.score_texts([p + r for p, r in zip(pairs["prompt"], _with_eos(pairs["rejected"], ensemble))])
    flipped = torch.tensor(list(pairs["flipped"]), dtype=torch.bool)

    def acc(c, r):
        agree = c > r
        return dict(noisy=float(agree.float().mean()), true=float((agree ^ flipped).float().mean()))

    members = [acc(chosen[i], rejected[i]) for i in range(ensemble.k)]
    out = dict(members=dict(noisy=[m["noisy"] for m in members], true=[m["true"] for m in members]))
    out["objectives"] = {label: acc(fn(chosen), fn(rejected)) for label, fn in (objectives or {}).items()}
    return out


def _with_eos(responses: list[str], ensemble: RewardEnsemble) -> list[str]:
    eos = ensemble.tokenizer.eos_token or ""
    return [r if r.endswith(eos) else r + eos for r in responses]
