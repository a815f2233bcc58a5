"""Reference noise semantics (Dahoas/transformer_arithmetic, the paper's released code) beside rlnoise's clean
ones: draws, what each corrupts, and the rates they give on real datasets."""

import random

import numpy as np
import pytest

from rlnoise.tint.dataset import generate_rows, train_damage
from rlnoise.tint.noise import add_static_noise
from rlnoise.tint.trace import Tracer, parse_number

ADD_1_10 = dict(min_digits=1, max_digits=10, contamination=1.0, seed=0)


def test_reference_static_noise_reaches_the_answer_and_redraws_the_same_digit_a_tenth_of_the_time():
    """At p = 0.3 the reference changes 0.9 x 0.3 of all digits, the answer line's included: on 1-10 digit
    additions 85-86% of answers change (1 - E[0.73^L]; 85.4% measured with the reference code itself). rlnoise's
    clean static noise changes every drawn digit and never the answer."""
    rows = generate_rows("add", 4000, static={"digit_p": 0.3, "semantics": "reference"}, **ADD_1_10)
    rates = train_damage(rows)
    lengths = np.array([sum(c.isdigit() for c in a) for a in rows["true_answer"]])
    assert rates["digit_rate"] == pytest.approx(0.9 * 0.3, abs=0.01)
    assert rates["wrong_answer_rate"] == pytest.approx(1 - np.mean(0.73**lengths), abs=0.02)
    assert rates["wrong_answer_rate"] == pytest.approx(0.854, abs=0.02)
    clean = train_damage(generate_rows("add", 4000, static={"digit_p": 0.3}, **ADD_1_10))
    assert clean["wrong_answer_rate"] == 0 and clean["digit_rate"] < rates["digit_rate"]
    trace = "1 + 2 + 0 = 3\n4 + 5 + 0 = 9\n9 3"
    for seed in range(50):  # line deletion never takes the answer line
        noisy = add_static_noise(trace, digit_p=0.0, line_p=0.9, seed=seed, semantics="reference")
        assert noisy.split("\n")[-1] == "9 3"


def test_reference_dynamic_draws_come_from_0_to_8_and_spare_zero():
    tracer = Tracer(dynamic_noise=1.0, seed=0, semantics="reference")
    values = [random.Random(i).randrange(1, 10**6) for i in range(2000)]
    out = [tracer.value(v) for v in values]
    assert all("9" not in str(v) for v in out) and tracer.value(0) == 0
    fives = [tracer.value(5) for _ in range(9000)]
    assert np.mean([v != 5 for v in fives]) == pytest.approx(8 / 9, abs=0.015)  # the draw may equal the digit
    clean = Tracer(dynamic_noise=1.0, seed=0)
    assert all(clean.value(5) != 5 for _ in range(500)) and any("9" in str(clean.value(v)) for v in values[:50])
    with pytest.raises(ValueError, match="noise_semantics must be one of"):
        Tracer(dynamic_noise=0.1, semantics="paper")


def test_reference_dynamic_noise_corrupts_operands_and_every_constructed_value():
    """The reference corrupts the operands (the prompt shows the corrupted problem, and its true answer is that
    problem's) and every integer built on the way, so the same p does far more damage than rlnoise's clean
    dynamic noise, which corrupts only step results (99.3% wrong answers at p = 0.2 with the reference code)."""
    rows = generate_rows("add", 2000, dynamic=0.2, semantics="reference", **ADD_1_10)
    clean_prompts = generate_rows("add", 2000, min_digits=1, max_digits=10, seed=0)["prompt"]
    assert sum(a != b for a, b in zip(rows["prompt"], clean_prompts)) > 200
    for prompt, truth in zip(rows["prompt"], rows["true_answer"]):
        a, b = (parse_number(x) for x in prompt.split(" + "))
        assert parse_number(truth) == a + b
    reference = train_damage(rows)
    clean = train_damage(generate_rows("add", 2000, dynamic=0.2, **ADD_1_10))
    assert reference["wrong_answer_rate"] == pytest.approx(0.993, abs=0.015)
    assert reference["wrong_answer_rate"] > clean["wrong_answer_rate"] + 0.1
    assert reference["digit_rate"] > 2 * clean["digit_rate"]


def test_sweep_builds_its_training_sets_with_the_configured_semantics():
    from rlnoise.tint.config import TIntSweepConfig
    from rlnoise.tint.sweep import cell_datasets, sweep_cells

    config = TIntSweepConfig(tasks=["add"], n_train=30, n_test=5, noise_semantics="reference")
    for cell in sweep_cells(config)[1:]:
        train, test = cell_datasets(config, cell)
        assert all(label.endswith(",reference)") for label in train["noise"]) and set(test["noise"]) == {"none"}
    with pytest.raises(ValueError, match="noise_semantics must be one of"):
        TIntSweepConfig(noise_semantics="paper")
