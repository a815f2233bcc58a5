"""--rehearse: every paper preset runs end to end on tiny models of the same families, sizes cut, every other
setting kept, with what it changed said up front."""

import json

import pytest
from helpers import ROOT, run_recipe

from rlnoise.core.rehearsal import rehearse, tiny_model
from rlnoise.estimate import load_preset

PAPER = {
    "bon": ("recipes/overoptimization/bon.py", "recipes/overoptimization/configs/bon_paper.yaml"),
    "ppo": ("recipes/overoptimization/ppo.py", "recipes/overoptimization/configs/ppo_paper.yaml"),
    "grpo": ("recipes/overoptimization/grpo.py", "recipes/overoptimization/configs/grpo_paper.yaml"),
    "dpo": ("recipes/overoptimization/dpo.py", "recipes/overoptimization/configs/dpo_paper.yaml"),
    "tint": ("recipes/tint/sweep.py", "recipes/tint/configs/paper.yaml"),
    "elicitation": ("recipes/elicitation/sweep.py", "recipes/elicitation/configs/paper.yaml"),
    "nmtune": ("recipes/nmtune/tune.py", "recipes/nmtune/configs/paper.yaml"),
}


def test_every_paper_preset_is_rehearsed_here():
    presets = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("recipes/*/configs/*paper*.yaml")}
    assert presets == {config for _, config in PAPER.values()}


def test_rehearsal_swaps_models_within_their_family_cuts_sizes_and_keeps_the_rest():
    configs = load_preset("bon", ROOT / PAPER["bon"][1])
    (study, sampling, gold, ensemble), said = rehearse(list(configs))
    assert (study.policy, ensemble.backbone, gold.gold_model) == ("tiny-gpt-neox", "tiny-gpt-neox", "tiny-llama")
    assert study.run_name == "bon_paper_rehearsal" and study.prompt_sources == ["openbookqa", "commonsenseqa",
                                                                                 "siqa", "piqa"]  # fmt: skip
    assert (study.n_train_pairs, study.n_bon_prompts, study.pool_size, sampling.max_new_tokens) == (32, 4, 64, 8)
    assert study.sample_ns == [1, 16, 64]
    kept = (sampling.dtype, sampling.generation_batch_size, ensemble.k, ensemble.kind, ensemble.rm_learning_rate)
    assert kept == ("bfloat16", 504, 5, "independent", 1.0e-5)
    assert study.noise == configs[0].noise and study.objectives == configs[0].objectives
    swap = "policy: 'EleutherAI/pythia-1.4b-deduped' -> 'tiny-gpt-neox' (a tiny random model of the same family)"
    assert swap in said
    assert all(" -> " in line for line in said)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_every_paper_preset_rehearses_to_valid_configs(name):
    """Each rehearsed config is rebuilt through its own checks; its models are tiny; its sizes are cut."""
    from rlnoise.core.models import TINY
    from rlnoise.core.rehearsal import MODEL_FIELDS
    from rlnoise.estimate import recipe_of

    configs, said = rehearse(list(load_preset(recipe_of(ROOT / PAPER[name][1]), ROOT / PAPER[name][1])))
    models = [getattr(c, f) for c in configs for f in MODEL_FIELDS if getattr(c, f, "")]
    assert models and all(m in TINY or m == "rubric" for m in models)
    assert configs[0].run_name.endswith("_rehearsal") and any("(cut)" in line for line in said)


def test_the_elicitation_rehearsal_runs_every_method():
    """The weak-fraction grid keeps an interior value, where the sequential methods run."""
    from rlnoise.elicitation.sweep import grid

    configs, said = rehearse(list(load_preset("elicitation", ROOT / PAPER["elicitation"][1])))
    assert configs[0].weak_fractions == [0.0, 0.5, 1.0] and configs[0].budgets == [64]
    assert {p.method for p in grid(configs[0])} == set(configs[0].methods)
    assert any(line.endswith("-> [0.0, 0.5, 1.0] (the grid's ends and middle)") for line in said)


def test_a_family_without_a_tiny_model_is_named(tmp_path):
    from transformers import GPT2Config

    assert tiny_model("smollm2-135m-instruct") == "tiny-llama" and tiny_model("minilm-l6") == "tiny-bert"
    assert tiny_model("rubric") == "rubric" and tiny_model("tiny-char-llama") == "tiny-char-llama"
    GPT2Config(n_layer=1).save_pretrained(tmp_path)  # a local model folder of a family with no tiny model
    with pytest.raises(ValueError, match="no tiny model of the 'gpt2' family"):
        tiny_model(str(tmp_path))


def _rehearse(name, tmp_path):
    script, config = PAPER[name]
    run = run_recipe(script, config, tmp_path / "runs", "--rehearse")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("rehearsal (tiny models, cut sizes; every other setting kept):")
    (results,) = (tmp_path / "runs").rglob("results.json")
    assert results.parent.name.endswith("_rehearsal")
    return run, json.loads(results.read_text())


@pytest.mark.slow
def test_bon_paper_rehearses_and_resumes(tmp_path):
    run, results = _rehearse("bon", tmp_path)
    assert (results["pool"]["prompts"], results["pool"]["size"]) == (4, 64)
    assert "n_bon_prompts: 1000 -> 4 (cut)" in results["metadata"]["rehearsal"]
    again, _ = _rehearse("bon", tmp_path)  # the same rehearsal again: every stage comes from the cache
    assert "computing" not in again.stdout and "cached" in again.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ppo", "grpo", "dpo", "tint", "elicitation", "nmtune"])
def test_paper_presets_rehearse(tmp_path, name):
    _rehearse(name, tmp_path)
