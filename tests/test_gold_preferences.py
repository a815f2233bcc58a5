"""Gold rubric reward and preference-pair bookkeeping."""

import numpy as np
import pytest
import torch
from helpers import reorder_tolerance

from rlnoise.core.noise import parse_noise_spec
from rlnoise.overoptimization.gold import GoldConfig, GoldReward, RubricGold, length_score, repetition_fraction
from rlnoise.overoptimization.preferences import label_pairs, labelled_pairs, scored_pairs_stage

PROMPT = "There is most likely going to be fog around:\nOptions: a marsh; a tundra; a desert"
REFS = {PROMPT: ("a marsh", ["a tundra", "a desert"])}


@pytest.fixture(scope="module")
def gold():
    return RubricGold(GoldConfig(), REFS)


def test_rubric_signals_by_hand():
    assert repetition_fraction("one two three four") == 0.0
    assert repetition_fraction("a b c a b c a b c") == pytest.approx(1 - 3 / 7)
    assert length_score("w " * 25, 25) == 0.0
    assert length_score("w " * 50, 25) == pytest.approx(-1.0)
    assert length_score("w " * 10, 20) == pytest.approx(-1.0)


@pytest.mark.equivalence
def test_gold_is_deterministic_and_batched(gold):
    responses = ["Fog is most likely around a marsh, where the air is humid.", "A desert.", "thank you thank you"]
    prompts = [PROMPT] * 3
    a = gold.score(prompts, responses)
    b = gold.score(prompts[::-1], responses[::-1]).flip(0)
    assert isinstance(gold, GoldReward)
    assert a.shape == (3,)
    # reversed order batches the same texts with other neighbours: MiniLM (6 layers x 5 products plus pooling,
    # inner dimensions <= 1536) sees other batch shapes, so the summation order may differ, nothing else
    assert np.allclose(a.numpy(), b.numpy(), rtol=0, atol=reorder_tolerance(a, terms=1536, layers=31))


def test_gold_prefers_what_it_documents(gold):
    right = "Fog is most likely to form around a marsh, because the water there keeps the air humid and cool."
    wrong = "Fog is most likely to form around a desert, because the sand there keeps the air dry and hot."
    repeated = "a marsh a marsh a marsh a marsh a marsh a marsh a marsh a marsh a marsh a marsh a marsh"
    s = gold.signals([PROMPT] * 3, [right, wrong, repeated])
    assert s["agreement"][0] > s["agreement"][1]
    assert s["repetition"][2] > 0.5 > s["repetition"][0]
    total = gold.score([PROMPT] * 3, [right, wrong, repeated])
    assert total[0] > total[1] and total[0] > total[2]


def test_gold_config_validation():
    with pytest.raises(ValueError, match="target_words"):
        GoldConfig(target_words=0)
    with pytest.raises(ValueError, match="w_length"):
        GoldConfig(w_length=float("nan"))


def test_label_pairs_bookkeeping():
    gold_a, gold_b = np.array([1.0, 0.0, 5.0, 2.0]), np.array([0.0, 1.0, 4.0, 3.0])
    ds = label_pairs(["p"] * 4, ["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"], gold_a, gold_b, "none")
    assert set(ds.column_names) >= {"prompt", "chosen", "rejected", "gold_chosen", "gold_rejected", "flipped"}
    assert ds["chosen"] == ["a0", "b1", "a2", "b3"]
    assert ds["true_label"] == [1, 0, 1, 0]
    assert not any(ds["flipped"])
    assert all(gc >= gr for gc, gr in zip(ds["gold_chosen"], ds["gold_rejected"]))


def test_flipped_rows_have_the_worse_response_chosen():
    rng = np.random.default_rng(0)
    n = 400
    gold_a, gold_b = rng.normal(size=n), rng.normal(size=n)
    ds = label_pairs(
        ["p"] * n, [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)], gold_a, gold_b, "symmetric:p=0.3", seed=1
    )
    flipped = np.array(ds["flipped"])
    worse = np.array(ds["gold_chosen"]) < np.array(ds["gold_rejected"])
    assert 0.2 < flipped.mean() < 0.4
    assert np.array_equal(flipped, worse)


@pytest.mark.parametrize("spec", ["bradley_terry:temperature=0.5", "length_biased:q=0.8", "coste"])
def test_noise_models_needing_pair_information(spec):
    rng = np.random.default_rng(2)
    n = 300
    a = [" ".join(["w"] * int(k)) for k in rng.integers(1, 20, n)]
    b = [" ".join(["w"] * int(k)) for k in rng.integers(1, 20, n)]
    ds = label_pairs(["p"] * n, a, b, rng.normal(size=n), rng.normal(size=n), spec, seed=0)
    assert 0.05 < np.mean(ds["flipped"]) < 0.6


def test_noise_spec_parsing():
    assert parse_noise_spec("coste") == ("coste", {})
    assert parse_noise_spec("symmetric:p=0.25") == ("symmetric", {"p": 0.25})
    with pytest.raises(ValueError, match="noise model must be one of"):
        parse_noise_spec("gaussian:p=0.1")
    with pytest.raises(ValueError, match="key=value"):
        parse_noise_spec("symmetric:0.1")


def test_preference_dataset_is_cached(gold):
    calls = []

    def sample_pairs(prompts):
        calls.append(len(prompts))
        return [["Fog forms around a marsh.", "Deserts are dry."] for _ in prompts]

    settings = dict(test="cache")
    stage = scored_pairs_stage([PROMPT], sample_pairs, gold, settings)
    first = labelled_pairs(stage, noise="none")
    second = labelled_pairs(scored_pairs_stage([PROMPT], sample_pairs, gold, settings), noise="coste")
    assert calls == [1]
    assert first["gold_chosen"] == [max(first["gold_chosen"][0], first["gold_rejected"][0])]
    assert sorted([*first["chosen"], *first["rejected"]]) == sorted([*second["chosen"], *second["rejected"]])


@pytest.mark.equivalence
def test_hf_reward_model_gold_from_a_local_path(tmp_path):
    """HFRewardModelGold loads any sequence-classification RM path and scores in batches, deterministically."""
    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.gold import HFRewardModelGold

    model, tokenizer = load_model("tiny-bert", "reward_model", seed=3)
    model.save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    gold = HFRewardModelGold(str(tmp_path / "rm"), batch_size=2, device="cpu")
    prompts, responses = ["p1", "p2", "p3"], ["good answer", "bad", "another answer here"]
    scores = gold.score(prompts, responses)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    assert torch.equal(scores, gold.score(prompts, responses))
    single = torch.cat([gold.score([p], [r]) for p, r in zip(prompts, responses)])
    # padding in a batch does not change a score: other shapes, so summation order only (tiny-bert, as above)
    assert torch.allclose(scores, single, rtol=0, atol=reorder_tolerance(scores, terms=64, layers=11))


def test_make_gold_picks_the_configured_gold(tmp_path):
    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.gold import GoldConfig, HFRewardModelGold, RubricGold
    from rlnoise.overoptimization.pipeline import make_gold

    rows = [dict(prompt="Q?", reference="yes", wrong=["no"]), dict(prompt="Write a poem.", reference="", wrong=[])]
    rubric = make_gold(GoldConfig(), rows)
    assert isinstance(rubric, RubricGold) and set(rubric.references) == {"Q?"}  # open-ended rows: no agreement term
    model, tokenizer = load_model("tiny-bert", "reward_model", seed=3)
    model.save_pretrained(tmp_path / "rm")
    tokenizer.save_pretrained(tmp_path / "rm")
    assert isinstance(make_gold(GoldConfig(gold_model=str(tmp_path / "rm")), rows), HFRewardModelGold)
