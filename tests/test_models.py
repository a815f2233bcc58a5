"""Model registry: embedded models load offline, tiny models build from configs, errors are clear."""

import pytest
import torch

from rlnoise.core.models import load_model, load_tokenizer


@pytest.mark.parametrize("kind", ["causal_lm", "reward_model", "encoder"])
@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bert"])
def test_tiny_models_build_with_real_tokenizers(name, kind):
    model, tokenizer = load_model(name, kind, num_labels=3, seed=1)
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    batch = tokenizer(["hello world", "a longer second sentence"], padding=True, return_tensors="pt")
    out = model(**batch)
    if kind == "reward_model":
        assert out.logits.shape == (2, 3)
    assert tokenizer.pad_token is not None and tokenizer.eos_token is not None


def test_char_tokenizer_round_trips_traces_and_char_llama_runs():
    tokenizer = load_tokenizer("chars")
    text = "5 2 + 3\n2 + 3 + 0 = 5\n5 5"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text) and tokenizer.decode(ids) == text
    assert tokenizer.decode(tokenizer(text + "<eos>")["input_ids"], skip_special_tokens=True) == text
    model, tokenizer = load_model("char-llama-4l", "causal_lm")
    assert model.config.vocab_size == len(tokenizer) == 99
    assert model(**tokenizer([text], return_tensors="pt")).logits.shape == (1, len(text), 99)


def test_tiny_models_are_seeded():
    a, _ = load_model("tiny-bert", "reward_model", seed=5)
    b, _ = load_model("tiny-bert", "reward_model", seed=5)
    c, _ = load_model("tiny-bert", "reward_model", seed=6)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_minilm_loads_offline_and_embeds():
    model, tokenizer = load_model("minilm-l6", "encoder")
    out = model(**tokenizer(["the cat sat"], return_tensors="pt")).last_hidden_state
    assert out.shape[-1] == 384


def test_smollm2_loads_offline_and_converts_once():
    from rlnoise.core.stages import cache_root

    load_model("smollm2-135m-instruct")  # converts the GGUF on the first call of a fresh machine
    converted = cache_root() / "models" / "smollm2-135m-instruct"
    assert (converted / "model.safetensors").exists()
    stamp = (converted / "model.safetensors").stat().st_mtime
    model, tokenizer = load_model("smollm2-135m-instruct")
    assert (converted / "model.safetensors").stat().st_mtime == stamp  # second load reads the cache
    ids = tokenizer("The capital of France is", return_tensors="pt")
    logits = model(**ids).logits
    assert logits.shape[-1] == len(load_tokenizer("smollm2-135m-instruct"))
    assert torch.isfinite(logits).all()


def test_unknown_model_names_embedded_names():
    with pytest.raises(OSError, match="hub cannot be reached.*smollm2-135m-instruct"):
        load_model("nobody/no-such-model")


def test_bad_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        load_model("tiny-bert", "seq2seq")
