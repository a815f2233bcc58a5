"""Frozen features: a shared prefix (few-shot exemplars) read from its cached keys and values."""

import numpy as np
import pytest
import torch
from helpers import reorder_tolerance

from rlnoise.core.features import compute_features, extract_features
from rlnoise.core.models import load_model

TEXTS = ["a good film", "bad , really bad and long and boring", "ok"]
PREFIX = "Review: great fun\nLabel: 1\n\nReview: dull\nLabel: 0\n\n"


@pytest.mark.equivalence
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_prefix_features_equal_one_forward_pass_over_prefix_and_text(pooling):
    model, tokenizer = load_model("tiny-llama", "encoder", seed=0)
    got = compute_features(model, tokenizer, TEXTS, pooling=pooling, prefix=PREFIX, desc=None, batch_size=2)
    prefix_ids = tokenizer(PREFIX)["input_ids"]
    for row, text in zip(got, TEXTS):
        ids = prefix_ids + tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            own = model(input_ids=torch.tensor([ids])).last_hidden_state[0, len(prefix_ids) :]
        want = own[-1] if pooling == "last" else own.mean(0)
        # the cached prefix's keys and values meet the text in other matrix shapes than one pass over both:
        # summation order only (tiny-llama: inner dimensions <= 64 or the sequence, 2 layers x 9 products)
        terms = max(64, len(ids))
        np.testing.assert_allclose(row, want.numpy(), rtol=0, atol=reorder_tolerance(want, terms, layers=18))
    plain = compute_features(model, tokenizer, TEXTS, pooling=pooling, desc=None)
    assert np.abs(plain - got).max() > 1e-3  # the prefix is context the features see


def test_prefix_is_part_of_the_cache_key_and_needs_a_causal_model():
    with_prefix = extract_features("tiny-llama", TEXTS, pooling="last", prefix=PREFIX)
    assert not np.allclose(with_prefix, extract_features("tiny-llama", TEXTS, pooling="last"))
    assert np.array_equal(with_prefix, extract_features("tiny-llama", TEXTS, pooling="last", prefix=PREFIX))
    with pytest.raises(ValueError, match="needs a causal LM.*'bert' is a bidirectional encoder"):
        extract_features("tiny-bert", TEXTS, prefix=PREFIX)
