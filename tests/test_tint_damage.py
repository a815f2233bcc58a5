"""Training-set damage (rlnoise.tint.damage): exact counts on hand-built traces, and rates on real noisy sets."""

import pytest

from rlnoise.tint.damage import Damage, damage_rates, trace_damage
from rlnoise.tint.dataset import generate_rows, train_damage

CLEAN = "4 + 7 + 0 = 1 1\n2 + 3 + 1 = 6\n6 1"


def test_identical_traces_have_no_damage():
    assert trace_damage(CLEAN, CLEAN) == Damage(11, 0, 3, 0, False)


def test_changed_digits_lines_and_answers_are_counted_exactly():
    one_digit = "4 + 7 + 0 = 1 1\n2 + 8 + 1 = 6\n6 1"
    assert trace_damage(CLEAN, one_digit) == Damage(11, 1, 3, 1, False)
    answer = "4 + 7 + 0 = 1 1\n2 + 3 + 1 = 6\n6 7"
    assert trace_damage(CLEAN, answer) == Damage(11, 1, 3, 1, True)
    shorter_value = "4 + 7 + 0 = 1\n2 + 3 + 1 = 6\n6 1"  # a two-digit value written as one digit
    assert trace_damage(CLEAN, shorter_value) == Damage(11, 1, 3, 1, False)
    deleted = "2 + 3 + 1 = 6\n6 1"  # the first line deleted: every later line is shifted too
    d = trace_damage(CLEAN, deleted)
    assert d == Damage(11, (4 + 1) + (2 + 2) + 2, 3, 3, False)  # the answer line itself is still right
    extra = CLEAN + "\n9"
    assert trace_damage(CLEAN, extra) == Damage(11, 1, 3, 1, True)  # the last line, read as the answer, is 9


def test_damage_rates_pool_digits_lines_and_answers():
    rates = damage_rates([Damage(10, 1, 3, 1, False), Damage(10, 3, 3, 2, True)])
    assert rates == {"digit_rate": 4 / 20, "line_rate": 3 / 6, "wrong_answer_rate": 0.5}
    with pytest.raises(ValueError):
        damage_rates([])


def test_static_noise_damage_matches_its_intensity_on_a_real_set():
    """Static noise at p changes each body digit with probability p (replacement always differs) and leaves the
    answer line alone by default: digit rate ~ p x the body's share of digits, no wrong answers."""
    rows = generate_rows("add", 2000, min_digits=3, max_digits=3, static={"digit_p": 0.3}, contamination=1.0, seed=1)
    rates = train_damage(rows)
    answer_digits = sum(sum(c.isdigit() for c in a) for a in rows["answer"])
    body_share = 1 - answer_digits / sum(rows["digits"])
    assert rates["wrong_answer_rate"] == 0
    assert rates["digit_rate"] == pytest.approx(0.3 * body_share, abs=0.01)
    clean = generate_rows("add", 50, min_digits=3, max_digits=3, seed=1)
    assert train_damage(clean) == {"digit_rate": 0.0, "line_rate": 0.0, "wrong_answer_rate": 0.0}
