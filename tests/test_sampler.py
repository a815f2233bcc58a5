"""Inverse-CDF token sampling (rlnoise.core.sampler): the draw's distribution against the softmax and against
torch.multinomial (chi-square, fixed seeds, with a wrong distribution that must be rejected), the same through
transformers' generate on tiny models, reproducibility, the multinomial default unchanged, cache keys, bad values."""

import pytest
import torch
from scipy.stats import chi2_contingency, chisquare

from rlnoise.core.config import SamplingConfig, to_dict
from rlnoise.core.generation import chat_prompt, generate_responses, generate_tokens, sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.sampler import inverse_cdf_draw, inverse_cdf_pick, inverse_cdf_processors
from rlnoise.overoptimization.pool import cached_pool

PROMPTS = ["What is 2 + 2?", "Name a colour.", "Why is the sky blue?"]
ALPHA = 1e-3  # fixed seeds make every p-value below deterministic; a correct draw clears this by far
WARPED = [dict(), dict(temperature=0.7, top_p=0.9), dict(temperature=1.3, top_k=12)]


def goodness_of_fit(tokens: torch.Tensor, probs: torch.Tensor) -> float:
    """Chi-square p-value of the token counts against ``probs``; tokens of probability 0 must never be drawn."""
    counts = torch.bincount(tokens.flatten(), minlength=probs.numel()).double()
    kept = probs > 0
    assert counts[~kept].sum() == 0, "a token of probability 0 was drawn"
    expected = probs[kept].double() / probs[kept].sum() * counts.sum()
    return float(chisquare(counts[kept].numpy(), expected.numpy()).pvalue)


def same_distribution(a: torch.Tensor, b: torch.Tensor, vocab: int) -> float:
    """Chi-square p-value that two token samples come from one distribution (tokens seen in either)."""
    table = torch.stack([torch.bincount(x.flatten(), minlength=vocab) for x in (a, b)])
    return float(chi2_contingency(table[:, table.sum(0) > 0].numpy()).pvalue)


def warped(logits: torch.Tensor, sampling: SamplingConfig) -> torch.Tensor:
    """``logits`` after the warpers generate would apply (every processor but the draw)."""
    for processor in inverse_cdf_processors(sampling, seed=0)[:-1]:
        logits = processor(None, logits)
    return logits


@pytest.mark.parametrize("settings", WARPED, ids=["plain", "temperature-top_p", "temperature-top_k"])
def test_inverse_cdf_draw_has_the_softmax_distribution(settings):
    vocab, rows = 50, 200_000
    logits = torch.randn(vocab, generator=torch.Generator().manual_seed(0))
    scores = warped(logits.expand(rows, vocab).contiguous(), SamplingConfig(**settings))
    probs = torch.softmax(scores[0].double(), -1)
    tokens = inverse_cdf_draw(scores, torch.Generator().manual_seed(1))
    assert tokens.shape == (rows,) and tokens.dtype == torch.long
    assert goodness_of_fit(tokens, probs) > ALPHA
    reference = torch.multinomial(torch.softmax(scores, -1), 1, generator=torch.Generator().manual_seed(2))
    assert same_distribution(tokens, reference, vocab) > ALPHA
    # power: draws at a 5% higher temperature are rejected, against the softmax and against multinomial draws
    wrong = inverse_cdf_draw(scores / 1.05, torch.Generator().manual_seed(1))
    assert goodness_of_fit(wrong, probs) < 1e-6
    assert same_distribution(wrong, reference, vocab) < 1e-6


def test_inverse_cdf_pick_keeps_to_the_support_at_the_edges():
    """Uniforms at 0, just below 1 and at 1 pick only allowed tokens, also where float32 mass does not sum to 1."""
    vocab = 49_152
    scores = torch.full((3, vocab), float("-inf"))
    scores[:, [3, 17, 49_000]] = torch.tensor([0.0, 1.0, 2.0])
    edges = torch.tensor([0.0, 1.0 - 2.0**-53, 1.0], dtype=torch.float64)
    assert inverse_cdf_pick(scores, edges).tolist() == [3, 49_000, 49_000]
    spread = torch.randn(3, vocab, generator=torch.Generator().manual_seed(0)) * 3
    picked = inverse_cdf_pick(spread, edges)
    assert picked[0] == torch.softmax(spread[0], -1).nonzero()[0, 0] and (picked < vocab).all()
    assert (torch.softmax(spread, -1)[torch.arange(3), picked] > 0).all()


@pytest.fixture(scope="module")
def char_policy():
    """A tiny random model over ~100 characters, its logits sharpened so the next-token distribution is far from
    uniform (warpers then matter)."""
    model, tokenizer = load_model("tiny-char-llama", "causal_lm", seed=0)
    with torch.no_grad():
        model.model.norm.weight.mul_(4)
    return model, tokenizer


def test_generate_first_tokens_follow_the_warped_distribution(char_policy):
    """Through transformers' generate (shared prompt cache, 6000 samples of one prompt): inverse-CDF first tokens
    follow softmax(warped logits) and match multinomial sampling's."""
    model, tokenizer = char_policy
    text = chat_prompt(tokenizer, "Why is the sky blue?")
    settings = dict(max_new_tokens=1, temperature=0.8, top_p=0.95)
    samples = {
        sampler: generate_tokens(
            model, tokenizer, [text], SamplingConfig(**settings, sampler=sampler), seed=7, num_return_sequences=6000
        )[1]
        for sampler in ("inverse_cdf", "multinomial")
    }
    with torch.no_grad():
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        logits = model(input_ids=ids).logits[:, -1].float()
    probs = torch.softmax(warped(logits, SamplingConfig(**settings))[0].double(), -1)
    assert (probs > 0.01).sum() >= 5 and probs.max() < 0.9  # a distribution the test can tell apart
    assert goodness_of_fit(samples["inverse_cdf"], probs) > ALPHA
    assert goodness_of_fit(samples["multinomial"], probs) > ALPHA
    assert same_distribution(samples["inverse_cdf"], samples["multinomial"], probs.numel()) > ALPHA
    unwarped = torch.softmax(logits[0].double(), -1)  # the warpers must have been applied
    assert goodness_of_fit(samples["inverse_cdf"], unwarped.where(probs > 0, 0)) < 1e-6


def test_inverse_cdf_sequences_are_valid_and_reproducible(char_policy):
    """RL's path (generate_responses): ids in the vocabulary, padding after EOS, one seed one result, the shared
    prompt cache and transformers' per-sample prefill giving the same tokens."""
    model, tokenizer = char_policy
    config = SamplingConfig(max_new_tokens=24, sampler="inverse_cdf")
    enc, responses = generate_responses(model, tokenizer, PROMPTS, config, seed=3, n=16)
    assert enc["input_ids"].shape[0] == responses.shape[0] == 48
    assert ((responses >= 0) & (responses < len(tokenizer))).all()
    eos = responses == tokenizer.eos_token_id
    after = eos.long().cumsum(1) - eos.long() > 0  # positions after a row's first EOS
    assert eos.any() and (responses[after] == tokenizer.pad_token_id).all()
    assert torch.equal(responses, generate_responses(model, tokenizer, PROMPTS, config, seed=3, n=16)[1])
    assert not torch.equal(responses, generate_responses(model, tokenizer, PROMPTS, config, seed=4, n=16)[1])
    texts = [chat_prompt(tokenizer, p) for p in PROMPTS]
    shared = generate_tokens(model, tokenizer, texts, config, seed=5, num_return_sequences=4)[1]
    unshared = generate_tokens(model, tokenizer, texts, config, seed=5, num_return_sequences=4, share_prompt=False)[1]
    assert torch.equal(shared, unshared)


@pytest.fixture(scope="module")
def policy():
    return load_model("tiny-llama", "causal_lm", seed=0)


def test_pool_sampling_with_inverse_cdf_is_reproducible_and_spread_independent(policy):
    """49k-token vocabulary, several prompts per call and one prompt over several calls: the units' seeds alone
    decide the samples (shard=False runs them in-process)."""
    model, tokenizer = policy
    config = SamplingConfig(max_new_tokens=4, generation_batch_size=4, sampler="inverse_cdf")
    for n in (2, 6):
        first = sample_responses(model, tokenizer, PROMPTS, n=n, config=config, seed=3)
        assert [len(r) for r in first] == [n] * 3
        assert first == sample_responses(model, tokenizer, PROMPTS, n=n, config=config, seed=3, shard=False)
        assert first != sample_responses(model, tokenizer, PROMPTS, n=n, config=config, seed=4)


def test_multinomial_is_transformers_own_draw(policy):
    """``sampler: multinomial`` calls generate as before the setting existed: bit-identical to a direct do_sample
    call."""
    model, tokenizer = policy
    config = SamplingConfig(max_new_tokens=5, temperature=0.9, top_p=0.95, sampler="multinomial")
    texts = [chat_prompt(tokenizer, p) for p in PROMPTS]
    enc, ours = generate_tokens(model, tokenizer, texts, config, seed=11, num_return_sequences=2, share_prompt=False)
    torch.manual_seed(11)
    direct = model.generate(
        **enc, do_sample=True, max_new_tokens=5, temperature=0.9, top_k=0, top_p=0.95, num_return_sequences=2,
        pad_token_id=tokenizer.pad_token_id, use_cache=True,
    )  # fmt: skip
    assert torch.equal(ours, direct[:, enc["input_ids"].shape[1] :])


def test_sampler_is_part_of_the_pool_key(policy):
    base = SamplingConfig(max_new_tokens=2, generation_batch_size=4, sampler="multinomial")
    pool, stage = cached_pool("tiny-llama", PROMPTS[:2], 2, base, seed=0)
    other = cached_pool("tiny-llama", PROMPTS[:2], 2, SamplingConfig(**{**to_dict(base), "sampler": "inverse_cdf"}), 0)
    assert other[1].key != stage.key and [len(p) for p in other[0]] == [2, 2]
    assert cached_pool("tiny-llama", PROMPTS[:2], 2, base, seed=0)[1].key == stage.key
    assert to_dict(base)["sampler"] == "multinomial"  # run configs (and their keys) carry it too


def test_bad_sampler_and_unmirrored_warpers_are_refused_by_name(policy):
    with pytest.raises(ValueError, match=r"sampler must be one of \['inverse_cdf', 'multinomial'\], got 'gumbel'"):
        SamplingConfig(sampler="gumbel")
    model, tokenizer = policy
    model.generation_config.min_p = 0.05
    try:
        with pytest.raises(ValueError, match="inverse_cdf.*min_p=0.05.*multinomial"):
            generate_tokens(model, tokenizer, PROMPTS[:1], SamplingConfig(max_new_tokens=2, sampler="inverse_cdf"), 0)
    finally:
        model.generation_config.min_p = None
