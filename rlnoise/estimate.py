"""``python -m rlnoise.estimate --config PRESET [--gpu h100-80gb]``: what a preset will cost before it runs.

For each stage of the preset: the models it holds and their parameters, the peak memory per process (weights,
gradients, optimizer states, activations, key/value cache), the tokens it generates and processes, and its expected
time on the chosen device, with the source of every rate (:mod:`rlnoise.core.resources`). A stage that does not fit
the device gets a warning naming the setting to change. ``--gpu cpu`` measures this machine instead.

Options: ``--processes N`` and ``--engine ddp|zero2|zero3|fsdp`` (how the training stages shard),
``--prompt_tokens N`` (prompt length; default the preset's ``max_prompt_tokens``, an upper bound), ``--json``.
Estimated: every study's presets (overoptimization: best-of-n, reward models, PPO, GRPO/RLOO, DPO; TInt;
elicitation; NMTune).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rlnoise.core.architectures import compute_parameters, dims, parameter_count
from rlnoise.core.resources import DEVICES, ENGINES, GIB, Device, StageEstimate

STUDIES = ("overoptimization", "tint", "elicitation", "nmtune")
ESTIMATED = ("bon", "rm", "ppo", "grpo", "dpo", *STUDIES[1:])


def recipe_of(config: Path) -> str:
    """The recipe a preset belongs to: its study folder, and for overoptimization the preset's prefix."""
    study = config.resolve().parent.parent.name
    if study == "overoptimization":
        prefix = config.name.split("_")[0]
        return prefix if prefix in ("bon", "rm", "ppo", "grpo", "dpo") else ""
    return study if study in STUDIES else ""


def load_preset(recipe: str, config: Path):
    """The preset's configs, parsed and checked as its recipe parses them (no launch check)."""
    from rlnoise.core.cli import parse_config
    from rlnoise.core.config import SamplingConfig

    argv = ["--config", str(config)]
    if recipe == "tint":
        from rlnoise.tint.config import FinetuneConfig, TIntSweepConfig

        return parse_config(TIntSweepConfig, FinetuneConfig, argv=argv, check_launch=False)
    if recipe == "elicitation":
        from rlnoise.elicitation.config import LearnerConfig, SweepConfig

        return parse_config(SweepConfig, LearnerConfig, argv=argv, check_launch=False)
    if recipe == "nmtune":
        from rlnoise.adapters.config import AdapterConfig, NMTuneStudyConfig

        return parse_config(NMTuneStudyConfig, AdapterConfig, argv=argv, check_launch=False)
    from rlnoise.overoptimization import config as oo
    from rlnoise.overoptimization.dpo_config import DPOConfig, DPOStudyConfig

    if recipe == "dpo":  # no reward model: no ensemble config
        return parse_config(DPOStudyConfig, SamplingConfig, oo.GoldConfig, DPOConfig, argv=argv, check_launch=False)
    types = {
        "bon": (oo.BonStudyConfig,),
        "rm": (oo.RMStudyConfig,),
        "ppo": (oo.RLStudyConfig, oo.PPOConfig),
        "grpo": (oo.RLStudyConfig, oo.TrlRLConfig),
    }[recipe]
    return parse_config(*types[:1], SamplingConfig, oo.GoldConfig, oo.EnsembleConfig, *types[1:], argv=argv,
                        check_launch=False)  # fmt: skip


class Estimator:
    """Stage estimates on one device, for one process count and engine."""

    def __init__(self, device: Device, processes: int = 1, engine: str = "ddp", prompt_tokens: int | None = None):
        self.device, self.processes, self.engine, self.prompt_tokens = device, processes, engine, prompt_tokens

    def _model(self, name: str, kind: str):
        """Its parameters, those that set its FLOPs (:func:`compute_parameters`) and its dimensions."""
        return parameter_count(name, kind), compute_parameters(name, kind), dims(name)

    def generate(self, stage, name, prompts, per_prompt, prompt, new, batch, dtype, change) -> StageEstimate:
        from rlnoise.core.resources import generation_memory, generation_seconds

        params, flops_params, d = self._model(name, "causal_lm")
        prompts = math.ceil(prompts / self.processes)  # prompts shard over processes
        rows = min(batch, prompts * per_prompt)
        seconds = generation_seconds(flops_params, d, prompts, per_prompt, prompt, new, batch, dtype, self.device)
        everywhere = prompts * self.processes
        return StageEstimate(
            stage, f"{name} ({params / 1e6:,.0f}M)", params, generation_memory(params, d, rows, prompt, new, dtype),
            tokens_processed=everywhere * prompt, tokens_generated=everywhere * per_prompt * new, seconds=seconds,
            change=change,
        )  # fmt: skip

    def score(self, stage, name, kind, texts, seq, batch, dtype, change, copies=1) -> StageEstimate:
        from rlnoise.core.resources import forward_memory, forward_seconds

        params, flops_params, d = self._model(name, kind)
        texts = math.ceil(texts / self.processes)
        memory = forward_memory(params * copies, d, batch, seq, dtype)
        seconds = copies * forward_seconds(flops_params, texts * seq, self.device)
        label = f"{name} ({params / 1e6:,.0f}M)" + (f" x {copies}" if copies > 1 else "")
        return StageEstimate(stage, label, params * copies, memory, texts * self.processes * seq * copies,
                             seconds=seconds, change=change)  # fmt: skip

    def train(self, stage, name, kind, sequences, seq, batch, dtype, change, lora_params=0, repeats=1, extra=None,
              memory_seq=None):  # fmt: skip
        """``repeats`` trainings of ``name`` on ``sequences`` of ``seq`` tokens, ``batch`` per step and process
        (data-parallel: the sequences split over the processes); ``lora_params`` > 0: only those train;
        ``memory_seq``: the longest batch's length, which sets the peak (default ``seq``)."""
        from rlnoise.core.resources import train_seconds, training_memory

        params, flops_params, d = self._model(name, kind)
        trainable = lora_params or params
        memory = training_memory(params + lora_params, trainable, d, batch, memory_seq or seq, dtype, self.processes,
                                 self.engine, logits=kind == "causal_lm", math_attention=self.device.cpu)  # fmt: skip
        tokens = sequences * seq * repeats
        seconds = train_seconds(flops_params, tokens / self.processes, self.device, lora=bool(lora_params))
        lora = f", LoRA {lora_params / 1e6:.1f}M trainable" if lora_params else ""
        label = f"{name} ({params / 1e6:,.0f}M{lora})"
        estimate = StageEstimate(stage, label, params, memory, tokens, seconds=seconds, change=change)
        if extra is not None:
            estimate.memory = estimate.memory + extra
        return estimate

    def lora_params(self, name: str, rank: int) -> int:
        """Trainable parameters of rank-``rank`` adapters on every attention and MLP projection."""
        d = dims(name)
        h, i, kv = d["hidden"], d["intermediate"], d["kv_heads"] * d["head_dim"]
        per_layer = rank * ((h + h) * 2 + (h + kv) * 2 + (h + i) * 3)  # q, o; k, v; gate, up, down
        return d["layers"] * per_layer


def overoptimization_stages(recipe: str, configs, est: Estimator) -> list[StageEstimate]:
    study, sampling, gold, *rest = configs
    ensemble = rest.pop(0) if recipe != "dpo" else None
    prompt = est.prompt_tokens or sampling.max_prompt_tokens
    new, dtype = sampling.max_new_tokens, sampling.dtype
    pairs = study.n_train_pairs + study.n_eval_pairs
    stages = [
        est.generate(
            "preference pairs: 2 samples per prompt",
            study.policy,
            pairs,
            2,
            prompt,
            new,
            sampling.generation_batch_size,
            dtype,
            "generation_batch_size",
        ),  # fmt: skip
    ]
    rubric = gold.gold_model == "rubric"  # the rubric's model is its sentence encoder
    gold_name, gold_kind = (gold.gold_encoder, "encoder") if rubric else (gold.gold_model, "reward_model")
    stages.append(est.score("gold labels of the pairs", gold_name, gold_kind, 2 * pairs, prompt + new,
                            gold.gold_batch_size, dtype, "gold_batch_size"))  # fmt: skip
    if recipe == "dpo":  # no reward model: the policy trains on the pairs
        return [*stages, _dpo_stage(study, sampling, rest[0], est, prompt)]
    settings = len(study.noise) * len(getattr(study, "seeds", [0]))
    seq = min(ensemble.rm_max_length, prompt + new)
    members = {"independent": ensemble.k, "multihead": 1, "lora": ensemble.k}[ensemble.kind]
    lora = est.lora_params(ensemble.backbone, ensemble.lora_r) if ensemble.kind == "lora" else 0
    stages.append(est.train(f"proxy reward models: {ensemble.kind}, K = {ensemble.k}, x {settings} noise settings",
                            ensemble.backbone, "reward_model", 2 * study.n_train_pairs * ensemble.rm_epochs, seq,
                            2 * ensemble.rm_batch_size, ensemble.rm_dtype, "rm_batch_size", lora_params=lora,
                            repeats=members * settings))  # fmt: skip
    if recipe == "bon":
        batch = sampling.generation_batch_size
        stages.append(est.generate(f"best-of-n pool: {study.pool_size} samples per prompt", study.policy,
                                   study.n_bon_prompts, study.pool_size, prompt, new, batch, dtype,
                                   "generation_batch_size"))  # fmt: skip
        texts = study.n_bon_prompts * study.pool_size
        stages.append(est.score("gold scores of the pool", gold_name, gold_kind, texts, prompt + new,
                                gold.gold_batch_size, dtype, "gold_batch_size"))  # fmt: skip
        stages.append(est.score("proxy scores of the pool", ensemble.backbone, "reward_model", texts * settings,
                                prompt + new, gold.gold_batch_size, dtype, "gold_batch_size",
                                copies=members))  # fmt: skip
    if recipe in ("ppo", "grpo"):
        gold_params = parameter_count(gold_name, gold_kind)
        stages.append(_rl_stage(recipe, study, sampling, ensemble, rest[0], est, prompt, members, gold_params))
    return stages


def _rl_stage(recipe, study, sampling, ensemble, rl, est, prompt, members, gold_params) -> StageEstimate:
    """One RL run (per objective, KL coefficient, noise setting and seed): rollouts, then the policy update, with
    the reference, the value model, the proxies and the gold (it scores the evaluations) resident."""

    new, dtype = sampling.max_new_tokens, sampling.dtype
    runs = len(study.objectives) * len(study.kl_coefs) * len(study.noise) * len(study.seeds)
    if recipe == "ppo":
        prompts_per_step, samples, passes = rl.rollout_batch_size, 1, rl.ppo_epochs
        minibatch = max(1, rl.rollout_batch_size // rl.num_minibatches // rl.gradient_accumulation_steps)
    else:
        prompts_per_step, samples, passes = rl.prompts_per_step, rl.num_generations, 1
        minibatch = prompts_per_step * samples
    rank = rl.policy_lora_r
    policy = parameter_count(study.policy, "causal_lm")
    lora = est.lora_params(study.policy, rank) if rank else 0
    resident = 0.0  # float32 weights held beside the trained policy
    if not rank:
        resident += 4 * policy  # the reference policy (LoRA: the base with adapters off)
    else:
        resident += 4 * policy  # evaluations sample from a merged copy of the LoRA policy (rl_eval.merged_lora)
    if recipe == "ppo" and getattr(rl, "value_model", "shared") == "separate":
        resident += 16 * policy  # a second trained model: weights, gradients, Adam
    resident += 4 * members * parameter_count(ensemble.backbone, "reward_model") + 4 * gold_params
    from rlnoise.core.resources import Memory

    sequences = study.total_steps * prompts_per_step * samples * est.processes * passes
    stage = est.train(
        f"{recipe.upper()}: {runs} runs x {study.total_steps} steps, {prompts_per_step * samples} rollouts per step "
        "and process", study.policy, "causal_lm", sequences * runs, prompt + new, minibatch, dtype,
        "rollout_batch_size / num_minibatches" if recipe == "ppo" else "prompts_per_step", lora_params=lora,
        extra=Memory(weights=resident),
    )  # fmt: skip
    rollout = est.generate("rollouts", study.policy, study.total_steps * prompts_per_step * est.processes * runs,
                           samples, prompt, new, prompts_per_step * samples, dtype, "")  # fmt: skip
    evals = (study.total_steps // study.eval_every + 1) * runs
    evaluation = est.generate("evaluations", study.policy, study.n_rl_eval_prompts * evals,
                              study.eval_samples_per_prompt, prompt, new, sampling.generation_batch_size, dtype,
                              "")  # fmt: skip
    stage.seconds += rollout.seconds + evaluation.seconds
    stage.tokens_generated = rollout.tokens_generated + evaluation.tokens_generated
    stage.notes.append(f"rollouts {rollout.seconds / 3600:.2g} h, evaluations {evaluation.seconds / 3600:.2g} h")
    return stage


def _dpo_stage(study, sampling, dpo, est, prompt) -> StageEstimate:
    """Every DPO run: chosen and rejected of each pair through the LoRA policy (trained); the reference (adapters
    off: a forward pass, a third of a training pass) once per seed over the pairs the runs see, shared by every run
    (:mod:`rlnoise.overoptimization.dpo_reference`); then the evaluations' sampling and gold."""
    from rlnoise.overoptimization.dpo_study import dpo_runs

    runs, new = len(dpo_runs(study)), sampling.max_new_tokens
    pairs = study.total_steps * dpo.dpo_batch_size * dpo.gradient_accumulation_steps * est.processes
    reference = min(pairs, study.n_train_pairs) * len(study.seeds) / 3
    lora = est.lora_params(study.policy, dpo.policy_lora_r)
    from rlnoise.core.resources import Memory

    merged = Memory(weights=4 * parameter_count(study.policy, "causal_lm"))  # evaluations: rl_eval.merged_lora
    stage = est.train(f"DPO: {runs} runs x {study.total_steps} steps, {dpo.dpo_batch_size} pairs per step and process",
                      study.policy, "causal_lm", 2 * (pairs * runs + reference), prompt + new, 2 * dpo.dpo_batch_size,
                      sampling.dtype, "dpo_batch_size", lora_params=lora, extra=merged)  # fmt: skip
    evals = (study.total_steps // study.eval_every + 1) * runs
    evaluation = est.generate("evaluations", study.policy, study.n_eval_prompts * evals, study.eval_samples_per_prompt,
                              prompt, new, sampling.generation_batch_size, sampling.dtype, "")  # fmt: skip
    stage.seconds += evaluation.seconds
    stage.tokens_generated = evaluation.tokens_generated
    stage.notes.append(
        "the reference's forward once per seed over the pairs seen, as a third of a pass; evaluations "
        f"{evaluation.seconds / 3600:.2g} h"
    )
    return stage


def tint_lengths(sweep, finetune) -> tuple[float, float] | None:
    """Measured TInt lengths under the fine-tuned model's tokenizer: the mean of each training batch's longest
    sequence (prompt, trace and EOS, cut at ``max_length``: the trainer pads a batch to its longest) and the mean
    prompt, from ``SAMPLE_TEXTS`` clean problems of each task; None when the tokenizer is not available offline."""
    from rlnoise.estimate_classifiers import SAMPLE_TEXTS, _tokenizer
    from rlnoise.tint.dataset import generate_rows
    from rlnoise.tint.evaluate import format_prompt

    tokenizer = _tokenizer(finetune.model)
    if tokenizer is None:
        return None
    longest, prompts = [], []
    for task in sweep.tasks:
        rows = generate_rows(task, SAMPLE_TEXTS, min_digits=sweep.min_digits, max_digits=sweep.max_digits)
        prompt_ids = tokenizer([format_prompt(p) for p in rows["prompt"]], verbose=False)["input_ids"]
        eos = tokenizer.eos_token or ""
        texts = [format_prompt(p) + c + eos for p, c in zip(rows["prompt"], rows["completion"])]
        lengths = [min(len(ids), finetune.max_length) for ids in tokenizer(texts, verbose=False)["input_ids"]]
        batch = finetune.sft_batch_size
        longest += [max(lengths[i : i + batch]) for i in range(0, len(lengths), batch)]
        prompts += [len(ids) for ids in prompt_ids]
    return sum(longest) / len(longest), sum(prompts) / len(prompts)


def tint_stages(configs, est: Estimator) -> list[StageEstimate]:
    sweep, finetune = configs
    intensities = {"static": len(sweep.static_intensities), "dynamic": len(sweep.dynamic_intensities)}
    if sweep.match != "none":  # one intensity per match target and noise type
        intensities = dict.fromkeys(intensities, len(sweep.match_targets))
    n_noisy = len([c for c in sweep.contaminations if c > 0]) * sum(intensities[t] for t in sweep.noise_types)
    cells = (1 + n_noisy) * len(sweep.tasks) * len(sweep.seeds)
    if sweep.converge:
        steps = sweep.converge_max_steps
    else:
        steps = math.ceil(sweep.n_train * finetune.sft_epochs / finetune.sft_batch_size)
    lora = est.lora_params(finetune.model, finetune.lora_r) if finetune.lora_r else 0
    dtype = getattr(finetune, "dtype", "float32")
    measured = tint_lengths(sweep, finetune)
    seq, prompt = (round(measured[0]), round(measured[1])) if measured else (finetune.max_length,) * 2
    stages = [
        est.train(
            f"fine-tuning: {cells} cells x {steps} steps (at most)",
            finetune.model,
            "causal_lm",
            steps * finetune.sft_batch_size,
            seq,
            finetune.sft_batch_size,
            dtype,
            "sft_batch_size",
            lora_params=lora,
            repeats=cells,
        ),  # fmt: skip
        est.generate(
            f"evaluation: {cells} cells x {len(sweep.methods)} methods x {sweep.n_test} problems (greedy)",
            finetune.model,
            sweep.n_test * cells * len(sweep.methods),
            1,
            prompt if measured else finetune.max_length // 4,
            seq - prompt if measured else finetune.max_length * 3 // 4,
            sweep.eval_batch_size,
            dtype,
            "eval_batch_size",
        ),  # fmt: skip
    ]
    if measured:
        stages[0].notes.append(f"a batch's longest sequence measured: {seq} tokens (max_length {finetune.max_length})")
    else:
        stages[0].notes.append("sequences counted at max_length (tokenizer not available offline): an upper bound")
    return stages if "finetune" in sweep.methods else stages[1:]


def estimate(config: Path, device: Device, processes=1, engine="ddp", prompt_tokens=None) -> list[StageEstimate]:
    recipe = recipe_of(config)
    if recipe not in ESTIMATED:
        raise SystemExit(
            f"error: --config {config}: not a preset of a known recipe (estimated: the overoptimization presets "
            "bon_*, rm_*, ppo_*, grpo_*, dpo_*, and the TInt, elicitation and NMTune presets)"
        )
    configs = load_preset(recipe, config)
    est = Estimator(device, processes, engine, prompt_tokens)
    if recipe == "tint":
        return tint_stages(configs, est)
    if recipe in ("elicitation", "nmtune"):
        from rlnoise import estimate_classifiers

        return getattr(estimate_classifiers, f"{recipe}_stages")(configs, est)
    return overoptimization_stages(recipe, configs, est)


def _hours(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2g} s"
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


def report(stages: list[StageEstimate], device: Device, processes: int, engine: str) -> str:
    from rlnoise.core.resources import DECODE_BANDWIDTH, MFU

    lines = [
        f"Device: {device.name}, {device.memory_gib:.0f} GiB, {device.tflops:,.1f} TFLOP/s, "
        f"{device.bandwidth_gbs:,.0f} GB/s ({device.source}); {processes} process(es), engine {engine}.",
        f"Time assumes {MFU:.0%} of the compute peak (training, prefill) and {DECODE_BANDWIDTH:.0%} of the "
        f"bandwidth (decode steps); memory adds {device.runtime_gib:.1f} GiB per process for the runtime.",
        "",
        "| stage | models | memory per process (GiB): weights / grads / optimizer / activations / KV = total | "
        "tokens processed | tokens generated | time |",
        "|---|---|---|---|---|---|",
    ]
    warnings = []
    for s in stages:
        m = s.memory
        parts = " / ".join(f"{x / GIB:.2f}" for x in (m.weights, m.gradients, m.optimizer, m.activations, m.kv_cache))
        total = m.total / GIB + device.runtime_gib
        notes = f" ({'; '.join(s.notes)})" if s.notes else ""
        lines.append(
            f"| {s.stage} | {s.models} | {parts} = **{total:.1f}** | {s.tokens_processed:,.0f} | "
            f"{s.tokens_generated:,.0f} | {_hours(s.seconds)}{notes} |"
        )
        if not s.fits(device):
            warnings.append(
                f"warning: {s.stage} needs {total:.1f} GiB per process, more than the {device.memory_gib:.0f} GiB "
                f"of {device.name}: lower {s.change or 'its batch size'}, or shard it (--engine fsdp/zero3, more "
                "processes)"
            )
    lines.append(f"\nTotal: {_hours(sum(s.seconds for s in stages))} on {processes} process(es).")
    return "\n".join(lines + warnings)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--gpu", default="h100-80gb", choices=[*DEVICES, "cpu"])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--engine", default="ddp", choices=ENGINES)
    parser.add_argument("--prompt_tokens", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        sys.exit(f"error: --config {args.config}: no such preset file")
    for name in ("processes", "prompt_tokens"):
        value = getattr(args, name)
        if value is not None and value < 1:
            sys.exit(f"error: --{name} {value}: expected a positive integer")
    from rlnoise.core.resources import cpu_device

    device = cpu_device() if args.gpu == "cpu" else DEVICES[args.gpu]
    stages = estimate(args.config, device, args.processes, args.engine, args.prompt_tokens)
    if args.json:
        print(json.dumps([s.as_dict() for s in stages], indent=1))
    else:
        print(report(stages, device, args.processes, args.engine))


if __name__ == "__main__":
    main()
