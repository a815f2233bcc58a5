"""``--rehearse``: a preset run end to end on a CPU in minutes, before its first GPU hour.

Every model is replaced by a tiny random model of the same architecture family (GPT-NeoX for Pythia, Llama for
LLaMA-based and SmolLM2 models, BERT for encoders) with a tokenizer of the same kind; hub datasets by the shipped
tasks; every size (pairs, prompts, samples per prompt, steps, sequence lengths, a grid's values) is cut to what runs
in minutes. Every other setting stays: dtype (bfloat16 runs as autocast on the CPU), LoRA ranks, batch and
generation-batch shapes, gradient accumulation, schedules, objectives, noise specs, the evaluation and checkpoint
cadence relative to the run, and the outputs. The run writes to ``<run_name>_rehearsal`` and prints what it
substituted and what it cut.
"""

from __future__ import annotations

from dataclasses import fields, replace

FLAG = "--rehearse"
# the tiny model of each family, and the tokenizer kind it reads with
TINY_OF_FAMILY = {"gpt_neox": "tiny-gpt-neox", "llama": "tiny-llama", "bert": "tiny-bert"}
MODEL_FIELDS = (
    "policy", "backbone", "gold_model", "gold_encoder", "model", "few_shot_model", "strong_model", "weak_model",
    "prompt_model", "feature_model",
)  # fmt: skip
# caps on sizes: a larger value is cut to the cap, a smaller one stays
CAPS = {
    "n_train_pairs": 32,
    "n_eval_pairs": 16,
    "accuracy_pairs": 16,
    "n_bon_prompts": 4,
    "n_sample_prompts": 2,
    "n_rl_prompts": 16,
    "n_rl_eval_prompts": 4,
    "n_eval_prompts": 4,
    "eval_samples_per_prompt": 2,
    "max_new_tokens": 8,
    "max_prompt_tokens": 48,
    "rm_max_length": 96,
    "n_train": 64,
    "n_test": 8,
    "max_length": 128,
    "converge_problems": 4,
    "converge_max_steps": 4,
    "converge_every": 2,
    "sft_epochs": 1,
    "n_weak_train": 32,
    "epochs": 3,
    "sim_pretrain_examples": 256,
    "sim_pretrain_epochs": 2,
    "sim_downstream_examples": 128,
    "encoder_epochs": 0.25,
}
LIST_CAPS = {"budgets": 64}  # values above are cut (the smallest is kept if none is below)
GRID_FIELDS = (
    "contaminations", "static_intensities", "dynamic_intensities", "kl_coefs", "betas", "tasks", "weak_fractions",
    "budgets", "seeds", "sim_seeds", "sim_noise_rates", "encoder_noise_rates", "pairs",
)  # fmt: skip
GRID_MIDDLE = ("weak_fractions",)  # keep a middle value too: the sequential methods run only at interior fractions
_APPLIED: list[str] = []  # this process's rehearsal changes, recorded in results.json's metadata
STEPS = 4  # a rehearsed RL run: evaluations and checkpoints every STEPS // 2 steps (twice, as a long run does)


def tiny_model(name: str) -> str:
    """The tiny model of ``name``'s family (``name`` itself when it is already tiny, a rubric or a file)."""
    from rlnoise.core.architectures import architecture
    from rlnoise.core.models import TINY

    if not name or name in TINY or name == "rubric" or name.startswith("file:"):  # "": unset; file: features
        return name
    family = architecture(name).model_type
    if family not in TINY_OF_FAMILY:
        raise ValueError(f"--rehearse: no tiny model of the {family!r} family (model {name!r}); known families: "
                         f"{', '.join(TINY_OF_FAMILY)}")  # fmt: skip
    return TINY_OF_FAMILY[family]


def _changes(config) -> tuple[dict, list[str]]:
    from rlnoise.core.data import data_yaml

    names = {f.name for f in fields(config)}
    changes, said = {}, []

    def change(name, value, why):
        old = getattr(config, name)
        if value != changes.get(name, old):
            changes[name] = value
            said.append(f"{name}: {old!r} -> {value!r} ({why})")

    for name in sorted(names & set(MODEL_FIELDS)):
        change(name, tiny_model(getattr(config, name)), "a tiny random model of the same family")
    if "prompt_sources" in names and any("/" in s for s in config.prompt_sources):
        change("prompt_sources", list(data_yaml("prompt_sources.yaml")), "hub datasets -> the shipped tasks")
    for name, cap in CAPS.items():
        if name in names and getattr(config, name) > cap:
            change(name, cap, "cut")
    for name, cap in LIST_CAPS.items():
        if name in names:
            values = getattr(config, name)
            change(name, [v for v in values if v <= cap] or [min(values)], "cut")
    for name in sorted(names & set(GRID_FIELDS)):
        values = changes.get(name, getattr(config, name))
        if name in GRID_MIDDLE and len(values) > 3:
            change(name, [values[0], values[len(values) // 2], values[-1]], "the grid's ends and middle")
        elif name not in GRID_MIDDLE and len(values) > 2:
            change(name, [values[0], values[-1]], "the grid's ends")
    if "pool_size" in names:
        pool = min(config.pool_size, 64)
        change("pool_size", pool, "cut")
        change("sample_ns", sorted({n for n in config.sample_ns if n <= pool} | {pool}), "within the cut pool")
        change("n_grid_points", min(config.n_grid_points, 5), "cut")
    if "total_steps" in names and config.total_steps > STEPS:
        change("total_steps", STEPS, "cut")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(config, name) < config.total_steps:
                change(name, STEPS // 2, "the same cadence relative to the run: twice")
    if "run_name" in names:
        change("run_name", f"{config.run_name}_rehearsal", "its own run folder")
    return changes, said


def rehearse(configs: list) -> tuple[list, list[str]]:
    """The rehearsal of each config (rebuilt with ``dataclasses.replace``, so its checks run again) and the lines
    that say what changed."""
    out, said = [], []
    for config in configs:
        changes, lines = _changes(config)
        out.append(replace(config, **changes))
        said += lines
    return out, said


def record(lines: list[str]) -> None:
    """Remember this process's rehearsal changes (every parse sets them: [] for a real run)."""
    _APPLIED[:] = lines


def applied() -> list[str]:
    """What the rehearsal of this process changed ([] outside a rehearsal)."""
    return list(_APPLIED)
