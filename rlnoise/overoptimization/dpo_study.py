"""The direct-alignment study: the reward-model study's sampled, gold-labelled and noised pairs train LoRA policies
with trl's ``DPOTrainer`` (DPO, cDPO, rDPO, IPO, SLiC) for each (noise, loss, beta, seed); every ``eval_every``
steps the online-RL evaluation (gold gain, KL k2, the implicit reward) on fixed prompts and the implicit reward's
accuracy on held-out pairs; then the RL results (curves, Gao fits, intervals), DPO claims and ``dpo.png``.
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset

from rlnoise.core.config import to_dict
from rlnoise.core.console import say
from rlnoise.core.distributed import process_state
from rlnoise.core.files import append_jsonl, read_jsonl
from rlnoise.core.generation import chat_prompt, response_logprobs
from rlnoise.core.models import load_model
from rlnoise.core.noise import parse_noise_spec
from rlnoise.core.precision import trainer_precision
from rlnoise.core.runs import Run
from rlnoise.overoptimization.dpo_config import DPOConfig, DPOStudyConfig
from rlnoise.overoptimization.dpo_reference import SeedReference, SharedReferenceDPOTrainer, pairs_seen
from rlnoise.overoptimization.dpo_report import dpo_claims, dpo_markdown
from rlnoise.overoptimization.pipeline import make_gold, scored_pair_datasets, study_prompts
from rlnoise.overoptimization.plots import plot_rl
from rlnoise.overoptimization.preference_losses import parse_loss, trl_loss_settings
from rlnoise.overoptimization.rl_study import (
    RLContext,
    evaluate_and_record,
    initial_gold_std,
    log_run_costs,
    rl_results,
    run_folder_name,
    run_label,
    timed_run,
)

# a resumed DPO study may add or drop these; nothing else may change
DPO_AXES = ("noise", "losses", "betas", "seeds")


def preference_dataset(pairs: Dataset, tokenizer) -> Dataset:
    """Labelled pairs in trl's standard preference format, each prompt wrapped exactly as it was when the policy
    sampled the responses (:func:`rlnoise.core.generation.chat_prompt`; trl appends the end-of-sequence token to
    each completion)."""
    return Dataset.from_dict(
        dict(
            prompt=[chat_prompt(tokenizer, p) for p in pairs["raw_prompt"]],
            chosen=list(pairs["chosen"]),
            rejected=list(pairs["rejected"]),
        )
    )


@torch.no_grad()
def implicit_accuracy(policy, tokenizer, pairs: Dataset, shared: SeedReference, batch_size: int = 16) -> dict:
    """Share of held-out pairs whose implicit reward (log pi / pi_ref of the response, adapters off for pi_ref)
    ranks chosen above rejected: against the noisy labels (``chosen``) and the true ones (flipped pairs reversed).
    pi_ref's summed log-probs are kept in ``shared`` per (prompt, response), so runs whose noise swaps a pair's
    responses reuse them."""
    margins = []
    eos = tokenizer.eos_token or ""
    for start in range(0, len(pairs), batch_size):
        rows = pairs.select(range(start, min(start + batch_size, len(pairs))))
        prompts = [chat_prompt(tokenizer, p) for p in rows["raw_prompt"]] * 2
        responses = [r + eos for r in list(rows["chosen"]) + list(rows["rejected"])]
        keys = list(zip(prompts, responses))
        tokenizer.padding_side = "left"
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        tokenizer.padding_side = "right"
        out = tokenizer(responses, return_tensors="pt", padding=True, add_special_tokens=False)
        ids = torch.cat([enc["input_ids"], out["input_ids"]], 1).to(policy.device)
        attention = torch.cat([enc["attention_mask"], out["attention_mask"]], 1).to(policy.device)
        n, mask = out["input_ids"].shape[1], out["attention_mask"].to(policy.device).float()
        logprobs, _ = response_logprobs(policy, ids, attention, n, 1.0)
        if not all(k in shared.held_out for k in keys):
            with policy.disable_adapter():
                ref, _ = response_logprobs(policy, ids, attention, n, 1.0)
            shared.held_out.update(zip(keys, (ref * mask).sum(1).tolist()))
        ratio = (logprobs * mask).sum(1).cpu().numpy() - np.array([shared.held_out[k] for k in keys])
        half = len(rows)
        margins += (ratio[:half] - ratio[half:]).tolist()
    margins = np.asarray(margins)
    right = np.where(np.asarray(pairs["flipped"], dtype=bool), -margins, margins)  # > 0: ranks the gold-better first
    return dict(accuracy_noisy=_agreement(margins), accuracy_true=_agreement(right))


def _agreement(margins: np.ndarray) -> float:
    """Share of positive margins, a tie counting half (at step 0 the policy is its reference: every margin is 0)."""
    return float(np.mean((margins > 0) + 0.5 * (margins == 0)))


def train_dpo(dpo: DPOConfig, run: dict, eps: float, pairs, ctx: RLContext, shared: SeedReference) -> None:
    """One DPO-family run (``run``: noise, objective = the loss, beta, seed) on its labelled pairs, resumed from
    trl's last checkpoint if any.

    ``shared`` holds what every run of the policy seed has in common: the reference log-probs of the training and
    held-out pairs (:mod:`rlnoise.overoptimization.dpo_reference`) and the step-0 evaluation. LoRA starts at zero,
    so at step 0 every run of a seed is the same initial policy on the same prompts and sampling seed, and its
    evaluation is copied, not redone (its implicit reward is 0 and every held-out margin ties)."""
    from peft import LoraConfig
    from trl import DPOConfig as TrlDPOConfig

    from rlnoise.overoptimization.trl_rl import EvaluateEvery, train_from_last_checkpoint

    study, label = ctx.study, run_label(run)
    policy, tokenizer = load_model(study.policy, "causal_lm", seed=study.seed + run["seed"])
    folder = ctx.out / "checkpoints" / run_folder_name(label)
    args = TrlDPOConfig(
        output_dir=str(folder),
        learning_rate=dpo.dpo_learning_rate,
        per_device_train_batch_size=dpo.dpo_batch_size,
        gradient_accumulation_steps=dpo.gradient_accumulation_steps,
        gradient_checkpointing=dpo.gradient_checkpointing,
        beta=run["beta"],
        max_length=None,  # responses are at most max_new_tokens and prompts were cut when sampled: keep them whole
        max_steps=study.total_steps,
        precompute_ref_log_probs=True,  # looked up in shared.logps, computed by trl only where missing
        save_strategy="steps",
        save_steps=study.checkpoint_every,
        logging_steps=1,
        report_to="none",
        seed=study.seed + run["seed"],
        data_seed=study.seed + run["seed"],
        **trainer_precision(ctx.sampling.dtype),
        accelerator_config={"use_configured_state": True},
        **trl_loss_settings(parse_loss(run["objective"]), eps),
    )

    def evaluate(model, step):
        if step == 0 and shared.initial is not None and ctx.state.is_main_process:
            copy = dict(shared.initial, run=label, **run, eps=eps, seconds=0.0)  # no evaluation time spent
            append_jsonl(ctx.out / "metrics.jsonl", copy)
            return {}
        held_out = pairs["eval"].select(range(study.accuracy_pairs))
        extra = lambda: implicit_accuracy(model, tokenizer, held_out, shared)  # noqa: E731
        shown = evaluate_and_record(ctx, dict(run, eps=eps), step, model, tokenizer, None, extra=extra)
        if step == 0 and ctx.state.is_main_process:
            row = read_jsonl(ctx.out / "metrics.jsonl")[-1]
            shared.initial = {k: v for k, v in row.items() if k not in (*run, "run", "eps")}
        return shown

    per_step = dpo.dpo_batch_size * dpo.gradient_accumulation_steps * ctx.state.num_processes
    rows = pairs_seen(len(pairs["train"]), per_step, study.total_steps, study.seed + run["seed"])
    trainer = SharedReferenceDPOTrainer(
        model=policy,
        args=args,
        train_dataset=preference_dataset(pairs["train"].select(rows), tokenizer),
        processing_class=tokenizer,
        callbacks=[EvaluateEvery(study.eval_every, evaluate)],
        peft_config=LoraConfig(r=dpo.policy_lora_r, lora_alpha=dpo.policy_lora_alpha, target_modules="all-linear"),
        reference_logps=shared.logps,
    )
    train_from_last_checkpoint(trainer, folder, label, f"{run['objective']} (eps {eps:.3f})", ctx.state)


def dpo_runs(study: DPOStudyConfig) -> list[dict]:
    """Every (noise, loss, beta, seed) run; a loss whose eps is the measured flip rate is skipped under a clean
    setting, where it is DPO itself."""
    runs = []
    for noise in study.noise:
        for loss in study.losses:
            if parse_loss(loss).measured and parse_noise_spec(noise)[0] == "none":
                continue
            runs += [dict(noise=noise, objective=loss, beta=b, seed=s) for b in study.betas for s in study.seeds]
    return runs


def run_dpo_study(study: DPOStudyConfig, dpo: DPOConfig, sampling, gold_config) -> dict:
    """Train and evaluate every run (resuming finished evaluations and checkpoints), then write results.json,
    results.md and ``dpo.png`` from this config's metrics rows, seeds pooled. Rerunning the folder with another
    config (other than the axes) stops with an error naming the differing fields."""
    state = process_state()
    out_run = Run("overoptimization", to_dict((study, dpo, sampling, gold_config)), axes=DPO_AXES)
    rm_splits, eval_rows = study_prompts(study, study.n_eval_prompts)  # the pairs' prompts, then held-out ones
    eval_prompts = [r["prompt"] for r in eval_rows]
    gold = make_gold(gold_config, eval_rows)
    ctx = RLContext(study, sampling, gold, [], eval_prompts, out_run.folder, out_run.key, state)
    runs, flip_rates, eps_used, shared = dpo_runs(study), {}, {}, {}
    for number, run in enumerate(runs, 1):
        pairs = scored_pair_datasets(study.policy, rm_splits, sampling, gold_config, run["noise"], study.seed,
                                     run["seed"])  # fmt: skip
        flip_rates.setdefault(run["noise"], {})[run["seed"]] = pairs.flip_rate
        eps = parse_loss(run["objective"]).resolve(pairs.flip_rate)
        eps_used[run_label(run)] = eps
        say(f"[{number}/{len(runs)}] {run_label(run)}: {len(pairs['train'])} pairs, {pairs.flip_rate:.1%} flipped")
        done = {r["step"] for r in _rows(out_run) if r["run"] == run_label(run)}
        if study.total_steps in done:
            say("      finished in an earlier run, skipped")
            continue
        timed_run(ctx, run, train_dpo, dpo, run, eps, pairs, ctx, shared.setdefault(run["seed"], SeedReference()))
    gold_std = initial_gold_std(study, sampling, gold_config, rm_splits)
    labels = [run_label(r) for r in runs]
    rows = [r for r in _rows(out_run) if r["run"] in labels]
    log_run_costs(ctx, labels, rows)
    results = rl_results(rows, gold_std, claims_of=dpo_claims)
    results.update(recipe="dpo", algorithm="dpo", noise=study.noise, flip_rate=flip_rates, eps=eps_used,
                   seeds=study.seeds, proxy_label="implicit reward", accuracy_pairs=study.accuracy_pairs)  # fmt: skip
    out_run.write_outputs(results, table=dpo_markdown(results), plot=plot_rl)
    return results


def _rows(run: Run) -> list[dict]:
    path = run.folder / "metrics.jsonl"
    return [r for r in read_jsonl(path) if r.get("config_key") == run.key] if path.exists() else []
