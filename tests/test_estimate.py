"""Resource estimates: parameter counts from architectures built on the meta device, memory and time formulas by
hand, and the command on the paper presets."""

import json
import math

import pytest
from helpers import ROOT

from rlnoise.core.architectures import architecture, compute_parameters, dims, parameter_count
from rlnoise.core.resources import (
    DEVICES,
    GIB,
    Device,
    generation_seconds,
    kv_cache_bytes,
    train_seconds,
    training_memory,
)

D = dict(hidden=8, layers=2, heads=2, kv_heads=1, head_dim=4, intermediate=16, vocab=10)


def test_parameter_counts_match_built_models_and_published_sizes():
    from rlnoise.core.models import load_model

    model, _ = load_model("tiny-llama", "causal_lm")
    assert parameter_count("tiny-llama") == sum(p.numel() for p in model.parameters())
    assert parameter_count("EleutherAI/pythia-1.4b-deduped") == 1_414_647_808  # the Pythia model card's count
    assert parameter_count("EleutherAI/pythia-70m-deduped") == 70_426_624
    assert dims("tatsu-lab/alpaca-farm-reward-model-human-wdiff")["layers"] == 32
    with pytest.raises(ValueError, match="'no/such-model'.*known: EleutherAI"):
        architecture("no/such-model")


def test_flops_count_every_parameter_but_the_embedding_lookups():
    """Pythia's untied output layer multiplies, its input table is looked up: 1.4B less 50,304 x 2,048. SmolLM2's
    output layer is its input table: counted once as a language model, dropped under a reward head. MiniLM loses
    its word (30,522), position (512) and token-type (2) tables of width 384."""
    pythia = "EleutherAI/pythia-1.4b-deduped"
    assert compute_parameters(pythia) == 1_414_647_808 - 50_304 * 2_048
    smollm = "smollm2-135m-instruct"
    assert compute_parameters(smollm, "causal_lm") == parameter_count(smollm, "causal_lm")
    assert compute_parameters(smollm, "reward_model") == parameter_count(smollm, "reward_model") - 49_152 * 576
    assert compute_parameters("minilm-l6", "encoder") == parameter_count("minilm-l6", "encoder") - 31_036 * 384
    assert architecture(smollm).num_labels == 2  # counting a reward head left the cached config alone


def test_training_memory_by_hand():
    m = training_memory(1000, 100, D, batch=2, seq=3, dtype="bfloat16")
    assert (m.weights, m.gradients, m.optimizer) == (4000, 400, 800)
    per_token_layer = 8 * 8 + 3 * 16  # elements
    assert m.activations == 2 * 3 * 2 * per_token_layer * 2 + 8 * 2 * 3 * 10
    zero3 = training_memory(1000, 100, D, batch=2, seq=3, dtype="bfloat16", processes=4, engine="zero3")
    zero2 = training_memory(1000, 100, D, batch=2, seq=3, dtype="bfloat16", processes=4, engine="zero2")
    assert (zero3.weights, zero3.gradients, zero3.optimizer) == (1000, 100, 200)
    assert (zero2.weights, zero2.gradients, zero2.optimizer) == (4000, 100, 200)
    with pytest.raises(ValueError, match="engine 'tp'"):
        training_memory(1000, 100, D, 2, 3, "float32", engine="tp")
    # attention dropout (BERT's): SDPA's math path keeps scores, mask and dropped probabilities, 3 x heads x seq
    bert = dict(D, attention_dropout=0.1)
    on_cpu = training_memory(1000, 100, bert, batch=2, seq=3, dtype="bfloat16", math_attention=True)
    assert on_cpu.activations - m.activations == 2 * 3 * 2 * (3 * 2 * 3) * 2
    assert training_memory(1000, 100, bert, batch=2, seq=3, dtype="bfloat16").activations == m.activations  # GPU
    assert dims("minilm-l6")["attention_dropout"] == 0.1 and dims("smollm2-135m-instruct")["attention_dropout"] == 0


def test_times_by_hand():
    device = Device("test", 1, tflops=1e-12 / 0.4, bandwidth_gbs=1e-9 / 0.6, source="")  # 1 FLOP/s, 1 B/s effective
    assert train_seconds(10, 5, device, lora=False) == pytest.approx(300)
    assert train_seconds(10, 5, device, lora=True) == pytest.approx(200)
    assert kv_cache_bytes(D, sequences=3, length=5, dtype="float32") == 2 * 2 * 1 * 4 * 3 * 5 * 4
    # 2 prompts x 3 samples of 4 new tokens after 5 prompt tokens, batch 3: prefill 2 x 5 tokens (shared), then 2
    # batches x 4 steps, each the slower of 2 x 10 x 3 FLOPs and reading 40 weight bytes + the mean cache
    read = 40 + kv_cache_bytes(D, 3, 5 + 2, "float32")
    expected = 2 * 10 * 10 + 8 * max(60, read)
    assert generation_seconds(10, D, 2, 3, 5, 4, 3, "float32", device) == pytest.approx(expected)
    unshared = generation_seconds(10, D, 2, 3, 5, 4, 3, "float32", device, shared_prompt=False)
    assert unshared - expected == pytest.approx(2 * 10 * (6 - 2) * 5)


def estimate(capsys, *args: str) -> str:
    from rlnoise.estimate import main

    main(list(args))
    return capsys.readouterr().out


def test_estimate_command_on_paper_presets(capsys):
    out = estimate(capsys, "--config", str(ROOT / "recipes/tint/configs/paper.yaml"))
    assert "EleutherAI/pythia-410m (405M)" in out and "NVIDIA H100 datasheet" in out
    assert "fine-tuning: 164 cells" in out  # 4 tasks x (clean + 4 contaminations x (6 static + 4 dynamic))
    (warning,) = [x for x in out.splitlines() if x.startswith("warning: fine-tuning")]
    assert "lower sft_batch_size" in warning
    ppo = str(ROOT / "recipes/overoptimization/configs/ppo_paper.yaml")
    single = json.loads(estimate(capsys, "--config", ppo, "--json"))[-1]
    sharded = json.loads(estimate(capsys, "--config", ppo, "--json", "--processes", "8", "--engine", "fsdp"))[-1]
    assert single["stage"].startswith("PPO") and sharded["memory"]["optimizer"] == single["memory"]["optimizer"] / 8
    assert sharded["seconds"] < single["seconds"]
    # the trained policy, its float32 reference and the 7B gold reward model (it scores the evaluations) do not fit
    # one H100; FSDP over 8 processes shards the trained policy's weights, gradients and Adam states enough
    fits = [r["memory"]["total"] / GIB + DEVICES["h100-80gb"].runtime_gib < 80 for r in (single, sharded)]
    assert fits == [False, True]


def test_tint_lengths_are_measured_batch_maxima():
    from dataclasses import replace

    from rlnoise.estimate import load_preset, tint_lengths

    sweep, finetune = load_preset("tint", ROOT / "recipes/tint/configs/quick.yaml")
    by_batch = [tint_lengths(sweep, replace(finetune, sft_batch_size=b))[0] for b in (1, 32, 200)]
    assert by_batch[0] < by_batch[1] < by_batch[2] <= finetune.max_length  # a longer batch pads to a longer row
    mean, prompt = tint_lengths(sweep, replace(finetune, sft_batch_size=1))
    assert 0 < prompt < mean  # prompt, then trace
    assert tint_lengths(sweep, replace(finetune, max_length=40))[0] == 40  # every row is cut at max_length


def test_estimate_refuses_what_it_cannot_estimate(tmp_path, capsys):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/x.yaml").write_text("run_name: x\n")
    with pytest.raises(SystemExit, match="not a preset of a known recipe"):
        estimate(capsys, "--config", str(tmp_path / "configs/x.yaml"))
    with pytest.raises(SystemExit, match="no such preset file"):
        estimate(capsys, "--config", str(tmp_path / "none.yaml"))


def test_padded_lengths_are_each_batchs_longest_text_and_the_longest():
    from rlnoise.core.models import load_tokenizer
    from rlnoise.estimate_classifiers import padded_lengths

    texts = [" ".join(["word"] * n) for n in (1, 3, 5, 9, 2, 7)]
    lengths = [len(ids) for ids in load_tokenizer("tiny-bert")(texts)["input_ids"]]
    assert padded_lengths(texts, "tiny-bert", 1, 128) == (pytest.approx(sum(lengths) / 6), max(lengths))
    assert padded_lengths(texts, "tiny-bert", 6, 128) == (max(lengths), max(lengths))  # one batch
    mean, peak = padded_lengths(texts, "tiny-bert", 2, 128)
    assert sum(lengths) / 6 < mean < peak == max(lengths)  # in between, whatever the order
    assert padded_lengths(texts, "tiny-bert", 6, 4) == (4, 4)  # cut at max_length


def test_mean_tokens_measures_the_texts():
    from rlnoise.core.models import load_tokenizer
    from rlnoise.estimate_classifiers import mean_tokens

    texts = ["a short one", "a somewhat longer text of several words", "x"]
    ids = load_tokenizer("tiny-bert")(texts)["input_ids"]
    assert mean_tokens(texts, "tiny-bert") == pytest.approx(sum(map(len, ids)) / 3)


def test_elicitation_estimate_counts_the_sweeps_cells_by_hand(tmp_path, capsys):
    from rlnoise.elicitation.sweep import task_splits
    from rlnoise.estimate import load_preset
    from rlnoise.estimate_classifiers import mean_tokens

    preset = (ROOT / "recipes/elicitation/configs/tiny.yaml").read_text()
    preset = preset.replace(
        "methods: [sft_gold, sft_weak, sequential, sequential_logconf, sequential_active, "
        "fewshot_prompt, fewshot_sft]",
        "methods: [sft_gold, fewshot_prompt]",
    )
    folder = tmp_path / "elicitation/configs"
    folder.mkdir(parents=True)
    (folder / "hand.yaml").write_text(preset.replace("seeds: [0]", "seeds: [0, 1]"))
    stages = json.loads(estimate(capsys, "--config", str(folder / "hand.yaml"), "--json"))
    assert [s["stage"] for s in stages] == [
        "strong learner (full): 4 cells",
        "few-shot prompting: 2 prefixes x their test sets",
    ]  # no weak labels: no method reads them
    sweep, _ = load_preset("elicitation", folder / "hand.yaml")
    n = mean_tokens(task_splits(sweep, "openbookqa").data["text"], "tiny-bert")
    # budgets 12 and 24 less 4 validation labels buy 8 and 20 gold labels, x 2 seeds x 2 epochs; each cell then
    # reads its 40 test problems and its 4 validation examples after each of 2 epochs
    assert stages[0]["tokens_processed"] == pytest.approx((8 + 20) * 2 * 2 * n + 4 * (40 + 4 * 2) * n)
    assert stages[1]["tokens_processed"] == 2 * 40 * math.ceil(3 * (n + 4))  # 2 shots + the query each


def test_nmtune_estimate_on_the_tiny_preset(capsys):
    from rlnoise.core.tasks import binary_task

    stages = json.loads(estimate(capsys, "--config", str(ROOT / "recipes/nmtune/configs/tiny.yaml"), "--json"))
    texts = 2 * (len(binary_task("commonsenseqa")) + len(binary_task("openbookqa")))  # pair mode: q and a
    assert stages[0]["stage"] == f"features: {texts:,} texts, and their pairs' again for 0 noisy encoders"
    assert [s["stage"] for s in stages[1:]] == ["adapters: 2 fits per pair", "simulation: 2 noisy pre-trainings"]
    assert stages[2]["tokens_processed"] == 400 * 2 * 2  # examples x epochs x runs


def test_a_lora_rl_stage_holds_the_merged_evaluation_copy(capsys):
    """PPO with a LoRA policy: the trained policy (base + adapters), the merged float32 copy its evaluations
    sample from, the proxies' trunk and the gold's encoder, all in float32."""
    ppo = json.loads(estimate(capsys, "--config", str(ROOT / "recipes/overoptimization/configs/ppo_quick.yaml"),
                              "--json", "--gpu", "cpu"))[-1]  # fmt: skip
    policy = parameter_count("smollm2-135m-instruct", "causal_lm")
    lora = 16 * 30 * ((576 + 576) * 2 + (576 + 192) * 2 + (576 + 1536) * 3)  # r x layers x (q, o; k, v; MLP)
    minilm = parameter_count("minilm-l6", "reward_model"), parameter_count("minilm-l6", "encoder")
    assert ppo["memory"]["weights"] == 4 * (policy + lora) + 4 * policy + 4 * sum(minilm)


def test_a_training_stage_peaks_at_its_longest_batch_and_costs_its_mean():
    from rlnoise.core.resources import DEVICES
    from rlnoise.estimate import Estimator

    est = Estimator(DEVICES["h100-80gb"])
    args = ("stage", "minilm-l6", "reward_model", 100, 20, 32, "float32", "")
    mean_only, with_peak = est.train(*args), est.train(*args, memory_seq=60)
    d, params = dims("minilm-l6"), parameter_count("minilm-l6", "reward_model")

    def activations(seq):
        return training_memory(params, params, d, 32, seq, "float32", logits=False).activations

    assert (with_peak.memory.activations, mean_only.memory.activations) == (activations(60), activations(20))
    assert with_peak.tokens_processed == mean_only.tokens_processed == 100 * 20  # time follows the mean
