"""Stage estimates of the two classifier studies (elicitation, NMTune) for ``python -m rlnoise.estimate``.

Their sequences are the tasks' own texts, so lengths are measured (mean tokens of up to 200 texts of each task,
with the model's tokenizer) instead of taken at ``max_length``; cells, spends and task sizes come from the recipes'
own functions, so the estimate covers exactly the cells a run would compute (cells that buy the same labels share
one result, as in the sweep).
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np

from rlnoise.core.resources import StageEstimate

SAMPLE_TEXTS = 200


@functools.cache
def _tokenizer(model: str):
    from rlnoise.core.models import load_tokenizer

    try:
        return load_tokenizer(model)
    except (OSError, ValueError):
        return None  # a hub model without its files here: lengths from words


def mean_tokens(texts: list[str], model: str) -> float:
    """Mean token count of ``texts`` (the first ``SAMPLE_TEXTS``) under ``model``'s tokenizer (1.3 tokens a word
    when the tokenizer is not available offline)."""
    sample = list(texts[:SAMPLE_TEXTS])
    tokenizer = _tokenizer(model)
    if tokenizer is None:
        return 1.3 * sum(len(t.split()) for t in sample) / max(len(sample), 1)
    return sum(len(ids) for ids in tokenizer(sample, verbose=False)["input_ids"]) / max(len(sample), 1)


def padded_lengths(texts: list[str], model: str, batch: int, max_length: int) -> tuple[float, float]:
    """What a trainer that pads each batch to its longest row sees, in tokens cut at ``max_length``: the mean of
    each batch's longest text over batches of ``batch`` texts in a shuffled order (what its steps cost) and the
    longest text (the batch that sets its peak memory); word counts when the tokenizer is not available offline."""
    tokenizer = _tokenizer(model)
    if tokenizer is None:
        lengths = [min(math.ceil(1.3 * len(t.split())), max_length) for t in texts]
    else:
        lengths = [min(len(ids), max_length) for ids in tokenizer(list(texts), verbose=False)["input_ids"]]
    shuffled = [lengths[i] for i in np.random.default_rng(0).permutation(len(lengths))]
    maxima = [max(shuffled[i : i + batch]) for i in range(0, len(shuffled), batch)]
    return float(np.mean(maxima)), float(max(lengths))


def elicitation_stages(configs, est) -> list[StageEstimate]:
    """Weak labels, the strong learner's cells and few-shot prompting of an elicitation sweep (every shard)."""
    from rlnoise.elicitation.methods import method
    from rlnoise.elicitation.sweep import cell_parts, feasible_points, task_splits

    sweep, learner = configs
    splits = {t: task_splits(sweep, t) for t in sweep.tasks}
    try:
        points = feasible_points(sweep, splits)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    cells = {json.dumps(cell_parts(sweep, p)[0], sort_keys=True): p for p in points}  # shared results run once
    length = {t: mean_tokens(splits[t].data["text"], learner.strong_model) for t in sweep.tasks}
    stages = []
    if sweep.weak_model != "vader" and any(method(p.method).weak for p in cells.values()):
        texts = sum(len(s.weak_train) + len(s.weak_pool) for s in splits.values())
        seq = max(mean_tokens(s.data["text"], sweep.weak_model) for s in splits.values())
        stages.append(est.score(f"weak labels: {sweep.weak_model} features of {texts:,} texts", sweep.weak_model,
                                "encoder", texts, math.ceil(seq), 64, "float32", ""))  # fmt: skip

    train_tokens = forward_tokens = 0.0
    longest = 0
    prompted: set = set()
    trained = 0
    for point in cells.values():
        m, spend = method(point.method), cell_parts(sweep, point)[1]
        shots = spend.n_fewshot * (length[point.task] + 4) if m.fewshot else 0
        seq = min(learner.max_length, length[point.task] + shots)
        if not m.train:
            prompted.add((point.task, point.seed))  # one scoring per prefix: cached across budgets
            continue
        trained += 1
        longest = max(longest, seq)
        phases = (spend.n_weak > 0) + (spend.n_gold > 0)
        train_tokens += (spend.n_weak + spend.n_gold) * learner.epochs * seq
        forward = len(splits[point.task].test) + spend.n_val * learner.epochs * phases
        if m.active:
            forward += len(splits[point.task].gold_pool) - spend.n_val - spend.n_fewshot
        forward_tokens += forward * seq
    if trained:
        stages.append(_learner_stage(sweep, learner, est, trained, train_tokens, forward_tokens, longest, splits,
                                     length))  # fmt: skip
    if prompted:
        queries = sum(len(splits[t].test) for t, _ in prompted)
        seq = max(min(2048, (sweep.few_shot_k + 1) * (length[t] + 4)) for t, _ in prompted)
        stage = est.score(f"few-shot prompting: {len(prompted)} prefixes x their test sets", sweep.prompt_model,
                          "causal_lm", queries, math.ceil(seq), 8, "float32", "")  # fmt: skip
        stage.notes.append("prompts at the longest task's mean length")
        stages.append(stage)
    return stages


def _learner_stage(sweep, learner, est, cells, train_tokens, forward_tokens, longest, splits, length):
    seq = math.ceil(longest)
    if learner.mode == "head":  # a linear head on cached features: the feature pass is the cost
        texts = sum(len(s.data) for s in splits.values())
        seq = math.ceil(max(length.values()))
        stage = est.score(f"strong learner (head): features of {texts:,} texts, {cells} cells", learner.strong_model,
                          "encoder", texts, seq, 64, learner.feature_dtype, "")  # fmt: skip
        stage.notes.append("few-shot prefixes add a feature pass per prefix")
        return stage
    lora = est.lora_params(learner.strong_model, learner.lora_r) if learner.mode == "lora" else 0
    stage = est.train(f"strong learner ({learner.mode}): {cells} cells", learner.strong_model, "reward_model",
                      train_tokens / seq, seq, learner.batch_size, "float32", "batch_size",
                      lora_params=lora)  # fmt: skip
    from rlnoise.core.architectures import compute_parameters
    from rlnoise.core.resources import forward_seconds

    flops_params = compute_parameters(learner.strong_model, "reward_model")
    stage.seconds += forward_seconds(flops_params, forward_tokens / est.processes, est.device)
    stage.tokens_processed += forward_tokens
    stage.notes.append(
        f"every epoch of every phase (early stopping can end sooner); memory at {seq} tokens; "
        "each cell's trainer launch not counted"
    )
    return stage


def nmtune_stages(configs, est) -> list[StageEstimate]:
    """The feature pass (and noisy encoders' fine-tuning) of an NMTune study, then its adapters and simulation."""
    from rlnoise.adapters.config import PAIRS
    from rlnoise.adapters.noisy_encoder import EncoderTraining
    from rlnoise.core.architectures import dims
    from rlnoise.core.resources import train_seconds
    from rlnoise.core.tasks import binary_task

    study, adapter = configs
    tasks = sorted({t for p in study.pairs for t in PAIRS[p]})
    data = {t: binary_task(t) for t in tasks}
    stages = []
    external = study.feature_model.startswith("file:")
    if not external:
        per_text = 2 if study.feature_mode == "pair" else 1
        column = "query" if study.feature_mode == "pair" else "text"
        texts = per_text * sum(len(d) for d in data.values())
        reread = per_text * sum(len(data[t]) for p in study.pairs for t in PAIRS[p])  # each noisy encoder: its pair
        seq = math.ceil(max(mean_tokens(d[column], study.feature_model) for d in data.values()))
        encoders = len(study.encoder_noise_rates) * len(study.pairs)
        stages.append(est.score(f"features: {texts:,} texts, and their pairs' again for {encoders} noisy encoders",
                                study.feature_model, "encoder", texts + encoders * reread, seq, 64,
                                study.feature_dtype, ""))  # fmt: skip
        if study.encoder_noise_rates:
            rows = sum(len(data[PAIRS[p][0]]) * (1 - study.test_share) for p in study.pairs)
            runs = len(study.encoder_noise_rates)
            training = EncoderTraining()
            lengths = [padded_lengths(list(data[PAIRS[p][0]]["text"]), study.feature_model, training.batch_size,
                                      training.max_length) for p in study.pairs]  # fmt: skip
            mean, peak = (math.ceil(max(x)) for x in zip(*lengths))
            stages.append(est.train(f"noisy encoders: {runs} rates x {len(study.pairs)} pairs", study.feature_model,
                                    "reward_model", math.ceil(rows * study.encoder_epochs), mean,
                                    training.batch_size, study.feature_dtype, "", repeats=runs,
                                    memory_seq=peak))  # fmt: skip
            stages[-1].notes.append(f"batches padded to their longest text: {mean} tokens on average, {peak} at most")
    width = (4 if study.feature_mode == "pair" else 1) * (64 if external else dims(study.feature_model)["hidden"])
    head = 2 * width * adapter.hidden + adapter.hidden + width + 2 * width  # MLP in and out, and the classifier
    rows = sum(len(data[PAIRS[p][0]]) * (1 - study.test_share) for p in study.pairs)
    fits = len(study.adapters) * len(study.seeds) * (1 + len(study.encoder_noise_rates))
    seen = rows * adapter.epochs * fits
    seconds = train_seconds(head, seen, est.device, lora=False)
    label = f"MLP heads ({head / 1e6:.1f}M)"
    stage = StageEstimate(f"adapters: {fits} fits per pair", label, head, _small_memory(head), seen, seconds=seconds)
    stage.notes.append("small matrices: kernel launches, not FLOPs, set the time; a lower bound")
    stages.append(stage)
    if study.simulation:
        runs = len(study.sim_noise_rates) * len(study.sim_seeds)
        encoder = 32 * 128 + 128 * 64 + 64 * 16  # rlnoise.adapters.simulation's MLP encoder and classifier
        examples = study.sim_pretrain_examples * study.sim_pretrain_epochs * runs
        stage = StageEstimate(f"simulation: {runs} noisy pre-trainings", f"MLP encoder ({encoder:,})", encoder,
                              _small_memory(encoder), examples,
                              seconds=train_seconds(encoder, examples, est.device, lora=False))  # fmt: skip
        stage.notes.append("launch-bound like the adapters: a lower bound")
        stages.append(stage)
    return stages


def _small_memory(params: int):
    from rlnoise.core.resources import Memory

    return Memory(weights=4 * params, gradients=4 * params, optimizer=8 * params)
