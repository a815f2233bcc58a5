"""Reduced-precision paths and the distribution checks that gate them (rlnoise.core.precision)."""

import pytest
import torch

from rlnoise.core.config import SamplingConfig
from rlnoise.core.generation import chat_prompt, generate_tokens, positions_from_mask, sample_responses
from rlnoise.core.models import load_model
from rlnoise.core.precision import AGREEMENT_LIMIT, KL_LIMIT, Fidelity, next_token_fidelity, precision

PROMPTS = ["What is 2 + 2?", "Name a colour.", "Why is the sky blue?"]


def sampled_sequences(model, tokenizer, n_tokens=8):
    """Prompts plus float32 samples, left-padded, with the positions generation uses."""
    texts = [chat_prompt(tokenizer, p) for p in PROMPTS]
    enc, responses = generate_tokens(model, tokenizer, texts, SamplingConfig(max_new_tokens=n_tokens), seed=0)
    input_ids = torch.cat([enc["input_ids"], responses], 1)
    mask = torch.cat([enc["attention_mask"], torch.ones_like(responses)], 1)
    return dict(input_ids=input_ids, attention_mask=mask, position_ids=positions_from_mask(mask))


def test_bad_dtype_is_refused_by_name():
    with pytest.raises(ValueError, match=r"dtype must be one of \['bfloat16', 'float32'\], got 'float16'"):
        SamplingConfig(dtype="float16")
    with pytest.raises(ValueError, match="dtype"):
        precision("int8")


def test_float32_is_the_reference_and_bfloat16_is_autocast():
    x = torch.randn(4, 8)
    w = torch.randn(8, 8)
    with precision("float32"):
        assert (x @ w).dtype == torch.float32
    with precision("bfloat16"):
        assert (x @ w).dtype == torch.bfloat16


def test_fidelity_verdict_follows_both_limits():
    assert Fidelity("bfloat16", KL_LIMIT, 0.1, AGREEMENT_LIMIT, 10).passes
    assert not Fidelity("bfloat16", KL_LIMIT * 1.01, 0.1, 1.0, 10).passes
    assert not Fidelity("bfloat16", 0.0, 0.0, AGREEMENT_LIMIT - 1e-3, 10).passes
    assert "fails" in Fidelity("bfloat16", 1e-3, 1e-2, 0.96, 10).summary()


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny-llama", "causal_lm", seed=0)


def test_float32_against_itself_is_exact(tiny):
    model, tokenizer = tiny
    inputs = sampled_sequences(model, tokenizer)
    check = next_token_fidelity(model, inputs, "float32")
    assert check.mean_kl == 0 and check.max_kl == 0 and check.greedy_agreement == 1 and check.passes
    assert check.positions == int(inputs["attention_mask"].sum())


@pytest.mark.equivalence
def test_bfloat16_kl_is_the_kl_of_the_two_forwards(tiny):
    """The check's KL and agreement equal a direct computation with torch's kl_div on the same positions."""
    model, tokenizer = tiny
    inputs = sampled_sequences(model, tokenizer)
    check = next_token_fidelity(model, inputs, "bfloat16")
    with torch.no_grad():
        p = torch.log_softmax(model(**inputs).logits.double(), -1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            q = torch.log_softmax(model(**inputs).logits.double(), -1)
    kept = inputs["attention_mask"].bool()
    kl = torch.nn.functional.kl_div(q[kept], p[kept], log_target=True, reduction="none").sum(-1)
    # the same forwards, both KLs summed in float64 in other orders: Higham's n u sum |p_i d_i| <= n u max |d_i|
    tol = q.shape[-1] * 2.0**-53 * float((p - q)[kept].abs().max())
    assert check.mean_kl > 0 and abs(check.mean_kl - float(kl.mean())) <= tol
    assert check.greedy_agreement == pytest.approx(float((p.argmax(-1) == q.argmax(-1))[kept].float().mean()))


def test_bfloat16_sampling_shares_prompts_and_is_reproducible(tiny):
    model, tokenizer = tiny
    config = SamplingConfig(max_new_tokens=6, generation_batch_size=8, dtype="bfloat16")
    first = sample_responses(model, tokenizer, PROMPTS, n=4, config=config, seed=1)
    assert first == sample_responses(model, tokenizer, PROMPTS, n=4, config=config, seed=1)
    assert first == sample_responses(model, tokenizer, PROMPTS, n=4, config=config, seed=1, share_prompt=False)
    assert next(model.parameters()).dtype == torch.float32  # autocast leaves the weights alone


def test_bfloat16_fails_the_check_on_smollm2():
    """Why float32 stays the default: on the embedded policy bfloat16 moves the next-token distributions by more
    than the limits allow (measured ~1e-3 nats/token, agreement ~0.96)."""
    model, tokenizer = load_model("smollm2-135m-instruct", "causal_lm")
    check = next_token_fidelity(model, sampled_sequences(model, tokenizer, n_tokens=16), "bfloat16")
    assert not check.passes and check.mean_kl > KL_LIMIT
    assert check.mean_kl < 0.05 and check.greedy_agreement > 0.8  # close, but not the same policy


def test_bfloat16_features_are_float32_arrays_near_the_float32_ones():
    from rlnoise.core.features import compute_features

    model, tokenizer = load_model("tiny-bert", "encoder", seed=0)
    texts = ["a short one", "a somewhat longer text than that", "x"]
    f32 = compute_features(model, tokenizer, texts, pooling="mean", desc=None)
    b16 = compute_features(model, tokenizer, texts, pooling="mean", desc=None, dtype="bfloat16")
    assert b16.dtype == f32.dtype == "float32" and b16.shape == f32.shape
    relative = abs(b16 - f32).max() / abs(f32).max()
    # rounded, not another model: bfloat16 keeps 8 significant bits (unit roundoff 2^-9 ~ 0.002), so 0.05 is ~25
    # roundings through tiny-bert's 2 layers, while other weights or pooling would differ by O(1)
    assert 0 < relative < 0.05


def test_feature_cache_keeps_precisions_apart():
    from rlnoise.core.features import extract_features

    texts = ["one text", "another text"]
    f32 = extract_features("tiny-bert", texts)
    b16 = extract_features("tiny-bert", texts, dtype="bfloat16")
    assert not (f32 == b16).all()  # a bfloat16 run never returns cached float32 features, or the reverse
    assert (extract_features("tiny-bert", texts) == f32).all()
    with pytest.raises(ValueError, match="dtype"):
        extract_features("tiny-bert", texts, dtype="half")


def test_bfloat16_on_a_cpu_without_it_is_named_at_launch(monkeypatch, capsys):
    """A recipe launched with a bfloat16 field on a CPU without native bfloat16 (and no GPU) says so before any
    work, naming each field and its float32 flag; with native bfloat16, or float32 everywhere, nothing is said."""
    import rlnoise.core.precision as precision_module
    from rlnoise.core.cli import parse_config
    from rlnoise.overoptimization.config import GoldConfig

    monkeypatch.setattr(precision_module.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision_module, "native_cpu_bfloat16", lambda: False)
    parse_config(SamplingConfig, GoldConfig, argv=["--dtype", "bfloat16"])
    out = capsys.readouterr().out
    assert "warning: dtype: bfloat16 on this CPU" in out and "--dtype float32 runs at full speed" in out
    parse_config(SamplingConfig, GoldConfig, argv=[])
    assert "bfloat16" not in capsys.readouterr().out
    monkeypatch.setattr(precision_module, "native_cpu_bfloat16", lambda: True)
    parse_config(SamplingConfig, GoldConfig, argv=["--dtype", "bfloat16"])
    assert "bfloat16" not in capsys.readouterr().out
