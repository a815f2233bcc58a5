"""Sampling units, pools and pool scoring on tiny models; selectors, curves and picks on hand-built scores."""

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rlnoise.core.config import SamplingConfig
from rlnoise.core.distributed import shard_bounds
from rlnoise.core.generation import positions_from_mask, sample_responses, sampling_units
from rlnoise.core.models import load_model
from rlnoise.overoptimization.bon_curves import best_of_n_picks, bon_results, selector_scores
from rlnoise.overoptimization.bon_report import bon_claims
from rlnoise.overoptimization.objectives import Standardizer, apply_objective
from rlnoise.overoptimization.pool import cached_pool, cached_scores, score_pool

PROMPTS = ["What is 2 + 2?", "Name a colour.", "Why is the sky blue?"]
SAMPLING = SamplingConfig(max_new_tokens=5, generation_batch_size=4)


@given(st.integers(1, 30), st.integers(1, 9), st.integers(1, 12))
def test_sampling_units_cover_every_sample_once(prompts, n, batch):
    units = sampling_units(prompts, n, batch, seed=0)
    counts = np.zeros(prompts, dtype=int)
    for u in units:
        assert u.count * (u.last - u.first) <= max(batch, u.count) and u.count <= max(batch, 1)
        counts[u.first : u.last] += u.count
    assert counts.tolist() == [n] * prompts
    assert len({u.seed for u in units}) == len(units)


@given(st.integers(0, 50), st.integers(1, 8))
def test_shard_bounds_partition_in_order(n_items, size):
    bounds = [shard_bounds(n_items, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n_items
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


@pytest.fixture(scope="module")
def policy():
    return load_model("tiny-llama", "causal_lm", seed=0)


@pytest.mark.parametrize("n", [2, 6])  # several prompts per call, and one prompt over several calls
def test_sample_responses_is_reproducible(policy, n):
    model, tokenizer = policy
    first = sample_responses(model, tokenizer, PROMPTS, n=n, config=SAMPLING, seed=3)
    assert [len(r) for r in first] == [n] * 3
    assert first == sample_responses(model, tokenizer, PROMPTS, n=n, config=SAMPLING, seed=3)
    assert first == sample_responses(model, tokenizer, PROMPTS, n=n, config=SAMPLING, seed=3, shard=False)
    assert first != sample_responses(model, tokenizer, PROMPTS, n=n, config=SAMPLING, seed=4)


@pytest.mark.equivalence
@pytest.mark.parametrize("name", ["tiny-llama", "smollm2-135m-instruct"])
def test_shared_prompt_sampling_equals_the_unshared_path(name):
    """Prefilling each prompt once and sharing its cache gives the same next-token distribution (to float rounding)
    and, from one seed, the same samples as transformers' path that recomputes the prompt for every sample."""
    from rlnoise.core.generation import chat_prompt, generate_tokens, shared_prompt_cache

    model, tokenizer = load_model(name, "causal_lm", seed=0)
    texts = [chat_prompt(tokenizer, p) for p in PROMPTS]  # different lengths: left padding is exercised
    config = SamplingConfig(max_new_tokens=8)
    shared = generate_tokens(model, tokenizer, texts, config, seed=5, num_return_sequences=4)
    unshared = generate_tokens(model, tokenizer, texts, config, seed=5, num_return_sequences=4, share_prompt=False)
    assert torch.equal(shared[1], unshared[1]) and torch.equal(shared[0]["input_ids"], unshared[0]["input_ids"])
    enc = shared[0]
    with torch.no_grad():
        cache = shared_prompt_cache(model, enc, 2)
        mask = enc["attention_mask"].repeat_interleave(2, 0)
        last = model(
            input_ids=enc["input_ids"][:, -1:].repeat_interleave(2, 0),
            attention_mask=mask,
            position_ids=positions_from_mask(mask)[:, -1:],
            cache=cache,
        ).logits[:, -1]
        full = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                     position_ids=positions_from_mask(enc["attention_mask"])).logits[:, -1]  # fmt: skip
    p, q = torch.log_softmax(full.repeat_interleave(2, 0), -1), torch.log_softmax(last, -1)
    kl = (p.exp() * (p - q)).sum(-1)
    # the cached prompt meets the last token in other matrix shapes: summation order only. Logits within d of each
    # other give KL <= 2 d^2, so 1e-6 allows d ~ 7e-4 on logits of magnitude ~20 (hundreds of float32 roundings,
    # where Higham's worst case over 30 layers is too loose to test anything); a wrong mask or position moves it > 1e-2
    assert kl.max() < 1e-6 and torch.equal(p.argmax(-1), q.argmax(-1))


def test_an_interrupted_pool_resumes_from_its_finished_parts(policy, monkeypatch):
    """A pool is sampled and cached in parts: after a kill that lost the last part, a rerun samples only that part
    and returns the same pool."""
    import rlnoise.overoptimization.pool as pool_module
    from rlnoise.core.stages import STAGE_LOG, cache_root

    monkeypatch.setattr(pool_module, "POOL_PART", 2)
    pool, stage = cached_pool("tiny-llama", PROMPTS, 4, SAMPLING, seed=5)
    settings = {
        p: json.loads((p / "stage.json").read_text())["settings"] for p in cache_root().glob("stages/pool_part-*")
    }
    ours = {s["seed"]: (p, s["prompts"]) for p, s in settings.items() if s["pool_size"] == 4 and s["seed"] in (5, 7)}
    assert [ours[5][1], ours[7][1]] == [PROMPTS[:2], PROMPTS[2:]]  # parts seeded by their first prompt's position
    shutil.rmtree(ours[7][0])  # the last part was being sampled when the run was killed
    shutil.rmtree(stage.folder)
    logged = len(STAGE_LOG)
    assert cached_pool("tiny-llama", PROMPTS, 4, SAMPLING, seed=5) == (pool, stage)
    assert [(s["stage"], s["cached"]) for s in STAGE_LOG[logged:]] == [
        ("pool (prompts 1-2 of 3)", True),
        ("pool (prompts 3-3 of 3)", False),
        ("pool", False),
    ]
    peaks = [s["peak_rss_gb"] for s in STAGE_LOG[logged:]]  # the process's running peak: never falls
    assert peaks == sorted(peaks) and peaks[0] > 0.05


def test_pool_is_cached_and_scored_per_prompt(policy):
    pool, stage = cached_pool("tiny-llama", PROMPTS, 5, SAMPLING, seed=0)
    assert [len(p) for p in pool] == [5, 5, 5]
    assert cached_pool("tiny-llama", PROMPTS, 5, SAMPLING, seed=0) == (pool, stage)
    assert cached_pool("tiny-llama", PROMPTS, 5, SAMPLING, seed=1)[1].key != stage.key

    def lengths(prompts, responses):  # a deterministic 2-member "ensemble": [K, B]
        return torch.tensor([[len(r) for r in responses], [len(p) for p in prompts]], dtype=torch.float64)

    scores = score_pool(lengths, PROMPTS, pool)
    assert scores.shape == (2, 3, 5)
    assert scores[0, 1].tolist() == [len(r) for r in pool[1]] and scores[1, 2].tolist() == [len(PROMPTS[2])] * 5
    cached = cached_scores("test_scores", dict(k="lengths"), lengths, PROMPTS, pool, [stage])
    assert np.array_equal(cached, scores)
    with pytest.raises(ValueError, match="empty pool"):
        score_pool(lengths, PROMPTS, [[], ["a"], ["b"]])
    with pytest.raises(ValueError, match="3 prompts but 2 pools"):
        score_pool(lengths, PROMPTS, pool[:2])


def test_selectors_standardise_members_then_combine():
    rng = np.random.default_rng(0)
    members = rng.normal(size=(3, 4, 6)) * np.array([1.0, 10.0, 0.1])[:, None, None] + 5
    selectors = selector_scores(members, ["mean", "uwo"], lam=0.5)
    assert set(selectors) == {"member0", "member1", "member2", "mean", "uwo"}
    for i in range(3):
        assert selectors[f"member{i}"].mean() == pytest.approx(0, abs=1e-12)
        assert selectors[f"member{i}"].std() == pytest.approx(1)
    z = Standardizer(torch.tensor(members.reshape(3, -1)))(torch.tensor(members.reshape(3, -1)))
    assert np.allclose(selectors["uwo"], apply_objective("uwo", z, lam=0.5).numpy().reshape(4, 6))
    with pytest.raises(ValueError, match="objective must be one of"):
        selector_scores(members, ["median"], lam=0.5)
    with pytest.raises(ValueError, match="lam must be"):
        selector_scores(members, ["uwo"], lam=-1.0)
    with pytest.raises(ValueError, match=r"\[members, prompts, samples\]"):
        selector_scores(members[0], ["mean"], lam=0.5)


def test_bon_results_separate_proxy_and_gold():
    rng = np.random.default_rng(0)
    gold = rng.normal(size=(50, 64))
    spurious = rng.normal(size=(50, 64))
    selectors = {"member0": 0.3 * gold + spurious, "oracle": gold / gold.std()}
    out = bon_results(gold * 3.0, selectors, [1, 2, 4, 8, 16, 32, 64])
    assert out["gold_std"] == pytest.approx(3.0 * gold.std())
    member, oracle = out["selectors"]["member0"], out["selectors"]["oracle"]
    assert member["gold"][0] == oracle["gold"][0] == 0.0
    assert member["proxy_at_max_n"] > 2 * member["gold_at_max_n"] > 0  # the proxy rises faster than gold
    assert oracle["gold_at_max_n"] == pytest.approx(oracle["proxy_at_max_n"])  # gold is its own proxy here
    assert oracle["r2"] > 0.9


def overoptimizing_pools(seed=0, prompts=200, n=64):
    """Members that reward a spurious feature which costs gold at its extremes: best-of-n gold rises, then falls."""
    rng = np.random.default_rng(seed)
    quality, spurious = rng.normal(size=(prompts, n)), rng.normal(size=(prompts, n))
    gold = quality - 0.6 * np.maximum(spurious, 0) ** 2
    members = np.stack([quality + 2.0 * spurious + rng.normal(size=(prompts, n)) for _ in range(3)])
    return gold, selector_scores(members, ["mean", "wco"], lam=0.5)


def test_bon_intervals_bracket_the_curves_and_the_fit():
    gold, selectors = overoptimizing_pools()
    ns = [1, 2, 4, 8, 16, 32, 64]
    out = bon_results(gold, selectors, ns, resamples=300, seed=1)
    for entry in [*out["selectors"].values(), out["single"]]:
        for key in ("gold", "proxy"):
            low, high = np.array(entry[f"{key}_band"])
            curve = np.array(entry[key])
            assert low[0] == high[0] == 0.0  # every resample is shifted to 0 at n = 1 too
            assert np.all(low <= curve + 1e-12) and np.all(curve <= high + 1e-12) and np.all(high[1:] > low[1:])
        peak = entry["d_peak_interval"]
        assert peak["low"] <= entry["d_peak"] <= peak["high"]
    # the average single RM is the mean of the members' curves
    members = [out["selectors"][f"member{i}"]["gold"] for i in range(3)]
    assert np.allclose(out["single"]["gold"], np.mean(members, axis=0))
    # paired: the objective's advantage over the average single RM is the difference of their gains
    mean = out["selectors"]["mean"]
    assert mean["vs_single"]["estimate"] == pytest.approx(mean["gold_at_max_n"] - out["single"]["gold_at_max_n"])
    width = mean["vs_single"]["high"] - mean["vs_single"]["low"]
    unpaired = mean["gold_at_max_n_interval"]["high"] - mean["gold_at_max_n_interval"]["low"]
    assert width < unpaired  # pairing removes the prompts' shared difficulty
    assert out["single"]["drop"]["estimate"] > 0 and out["single"]["drop"]["low"] > 0  # it overoptimizes


def test_objective_that_picks_what_every_member_picks_ties_the_single_rm_exactly():
    """Members that rank the pool differently but all pick sample 0 at n = N, as their objectives do: an objective's
    advantage over a single RM is exactly 0 on every prompt and resample (n = 1 is the pool mean for every selector,
    whatever its order), so "keeps more gold" does not hold; never a rounding residue of 1e-17 read as an effect."""
    from rlnoise.core.stats import FAILS, Interval

    rng = np.random.default_rng(4)
    gold, members = rng.normal(size=(5, 12)) * 0.37, rng.normal(size=(3, 5, 12))
    members[:, :, 0] = 10.0  # every member's (and objective's) best sample
    out = bon_results(gold, selector_scores(members, ["mean", "wco"], lam=0.5), [1, 12])
    for name in ("mean", "wco"):
        tie = out["selectors"][name]["vs_single"]
        assert tie["estimate"] == tie["low"] == tie["high"] == 0.0
        assert Interval.from_dict(tie).verdict() == FAILS


def test_bon_claims_follow_the_intervals():
    from rlnoise.core.stats import FAILS, HOLDS, UNRESOLVED

    gold, selectors = overoptimizing_pools()
    setting = dict(flip_rate=0.25, **bon_results(gold, selectors, [1, 2, 4, 8, 16, 32, 64], resamples=300))
    claims = bon_claims(dict(noise=["coste"], objectives=["mean", "wco"], settings={"coste": setting}))
    assert [c.verdict for c in claims][0] == HOLDS and "single RMs overoptimize" in claims[0].statement
    assert len(claims) == 4 and all(c.verdict in (HOLDS, FAILS, UNRESOLVED) for c in claims)
    assert "proxy gain exceeds their gold gain" in claims[1].statement and claims[1].verdict == HOLDS
    hand_built = dict(estimate=0.05, low=-0.02, high=0.12, level=0.95)
    setting["selectors"]["wco"]["vs_single"] = hand_built
    setting["selectors"]["mean"]["vs_single"] = dict(hand_built, estimate=-0.2, low=-0.3, high=-0.1)
    claims = bon_claims(dict(noise=["coste"], objectives=["mean", "wco"], settings={"coste": setting}))
    assert [c.verdict for c in claims[2:]] == [FAILS, UNRESOLVED]
    assert "wco keeps more gold than a single RM at n=64" in claims[3].statement


def test_picks_are_the_best_of_the_first_n():
    gold = np.array([[0.0, 1.0, 2.0, 3.0]])
    select = {"mean": np.array([[0.5, 0.9, 0.1, 0.7]]), "wco": np.array([[0.5, 0.2, 0.1, 0.7]])}
    (row,) = best_of_n_picks(["p"], [["a", "b", "c", "d"]], gold, select, [1, 2, 4])
    assert [(p["n"], p["response"], p["gold"], p["picked_by"]) for p in row["picks"]] == [
        (1, "a", 0.0, {"mean": 0.5, "wco": 0.5}),  # one row per distinct pick, naming every selector behind it
        (2, "a", 0.0, {"wco": 0.5}),
        (2, "b", 1.0, {"mean": 0.9}),
        (4, "b", 1.0, {"mean": 0.9}),
        (4, "d", 3.0, {"wco": 0.7}),
    ]


@pytest.mark.equivalence
def test_ensemble_reward_and_trl_wrapper():
    from rlnoise.overoptimization.ensemble import RewardEnsemble
    from rlnoise.overoptimization.reward import EnsembleReward, trl_reward_function

    model, tokenizer = load_model("tiny-bert", "reward_model", num_labels=3, seed=0)
    ensemble = RewardEnsemble("multihead", [model], tokenizer, 3)
    prompts, responses = ["Q1", "Q2", "Q3"], ["a b", "c", "d e f"]
    reward = EnsembleReward(ensemble, "uwo", lam=0.5, reference=(prompts, responses))
    members = reward.member_scores(prompts, responses)
    # standardised on the reference set: mean 0, std 1 per member. The random tiny model's scores vary by ~1e-5
    # across these texts, so float32 rounding of the raw scores (~1e-9) shows up as ~1e-4 after dividing by the std.
    assert torch.allclose(members.mean(1), torch.zeros(3), atol=1e-3)
    assert torch.allclose(members.std(1, correction=0), torch.ones(3), atol=1e-3)
    assert torch.allclose(reward(prompts, responses), apply_objective("uwo", members, lam=0.5))
    fn = trl_reward_function(reward)
    chat = fn(
        [[{"role": "user", "content": p}] for p in prompts], [[{"role": "assistant", "content": r}] for r in responses]
    )
    assert chat == reward(prompts, responses).tolist()  # the same texts in the same batch: equal exactly
    assert fn(prompts, responses) == chat
    with pytest.raises(ValueError, match="objective must be one of"):
        EnsembleReward(ensemble, "median")
    with pytest.raises(ValueError, match="lam must be"):
        EnsembleReward(ensemble, "uwo", lam=-1.0)


def test_noise_cost_claim_pairs_the_settings_over_the_shared_prompts():
    from rlnoise.core.stats import HOLDS, paired_difference

    rng = np.random.default_rng(0)
    gold = rng.normal(size=(100, 64))
    clean_members = np.stack([gold + rng.normal(size=gold.shape) for _ in range(3)])  # informative proxies
    noisy_members = np.stack([rng.normal(size=gold.shape) for _ in range(3)])  # pure noise
    ns = [1, 2, 4, 8, 16, 32, 64]
    settings = {
        "none": dict(flip_rate=0.0, **bon_results(gold, selector_scores(clean_members, [], 0.5), ns, resamples=200)),
        "coste": dict(flip_rate=0.5, **bon_results(gold, selector_scores(noisy_members, [], 0.5), ns, resamples=200)),
    }
    claims = bon_claims(dict(noise=["none", "coste"], objectives=[], settings=settings))
    (cost,) = [c for c in claims if "the noise costs single RMs gold" in c.statement]
    expected = paired_difference(
        settings["none"]["single"]["gold_gain_by_prompt"], settings["coste"]["single"]["gold_gain_by_prompt"]
    )
    assert cost.interval == expected and cost.verdict == HOLDS  # random proxies gain nothing; clean ones do
