"""TInt: traced arithmetic matches Python ints, trace format, static and dynamic noise, datasets."""

import math
import re
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.tint import TASKS, TInt, Tracer, run_task, trace_function, tracing
from rlnoise.tint.check import evaluate_expression, parse_answer, step_accuracy, step_consistent
from rlnoise.tint.dataset import generate_rows, make_dataset
from rlnoise.tint.noise import add_static_noise
from rlnoise.tint.trace import parse_number

ints = st.integers(min_value=-(10**12), max_value=10**12)
naturals = st.integers(min_value=0, max_value=10**12)
FULL = {"add": "full", "sub": "full", "mul": "full", "divmod": "full", "compare": "full"}


def traced(fn, *args, **kwargs):
    return trace_function(fn, *args, visibility=kwargs.pop("visibility", FULL), **kwargs)


def assert_all_steps_consistent(trace):
    good, total = step_accuracy(trace.completion)
    bad = [line for line in trace.lines if step_consistent(line) is False]
    assert good == total and not bad, bad


@settings(max_examples=60, deadline=None)
@given(ints, ints)
def test_add_sub_mul_match_python_ints(a, b):
    for fn, expected in ((lambda x, y: x + y, a + b), (lambda x, y: x - y, a - b), (lambda x, y: x * y, a * b)):
        trace = traced(fn, a, b)
        assert trace.answer == expected == trace.true_answer
        assert_all_steps_consistent(trace)


@settings(max_examples=60, deadline=None)
@given(naturals, st.integers(min_value=1, max_value=10**6))
def test_long_division_and_modulo_match_python_ints(a, b):
    for fn, expected in ((lambda x, y: x // y, a // b), (lambda x, y: x % y, a % b)):
        trace = traced(fn, a, b)
        assert trace.answer == expected
        assert_all_steps_consistent(trace)


@settings(max_examples=60, deadline=None)
@given(ints, ints)
def test_comparisons_match_python_ints(a, b):
    with tracing(Tracer(FULL)) as tracer:
        assert (TInt(a) < b, TInt(a) <= b, TInt(a) > b, TInt(a) >= b, TInt(a) == b, TInt(a) != b) == (
            a < b,
            a <= b,
            a > b,
            a >= b,
            a == b,
            a != b,
        )
    assert all(step_consistent(line) for line in tracer.lines)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=7))
def test_list_functions_match_python(values):
    assert run_task("sum", [values]).answer == sum(values)
    assert run_task("sort", [values]).answer == sorted(values)
    expected_median = (
        sorted(values)[len(values) // 2] if len(values) % 2 else int(math.floor(statistics.median(values)))
    )
    assert run_task("median", [values]).answer == expected_median
    assert run_task("gcd", [values]).answer == math.gcd(*values)


@settings(max_examples=60, deadline=None)
@given(naturals, naturals)
def test_clean_column_table_writes_the_formatted_columns(a, b):
    """Noise-free additions come from a lookup table; dynamic noise formats every column. With a noise
    probability too small to fire, both paths must write the same lines."""
    clean, formatted = Tracer(), Tracer(dynamic_noise=1e-300, seed=0)
    for tracer in (clean, formatted):
        with tracing(tracer):
            assert int(TInt(a) + TInt(b)) == a + b
    assert formatted.corrupted == 0 and clean.lines == formatted.lines


def test_add_trace_format():
    trace = run_task("add", (5284, 397))
    assert trace.prompt == "5 2 8 4 + 3 9 7"
    assert trace.lines == [
        "4 + 7 + 0 = 1 1",
        "8 + 9 + 1 = 1 8",
        "2 + 3 + 1 = 6",
        "5 + 0 + 0 = 5",
        "5 2 8 4 + 3 9 7 = 5 6 8 1",
    ]
    assert trace.completion.split("\n")[-1] == "5 6 8 1" and trace.answer == 5681


def test_subtraction_borrows_and_division_brings_down():
    sub = run_task("sub", (52, 7))
    assert sub.lines == ["call(compare, 5 2, 7) = 1", "1 2 - 7 - 0 = 5", "5 - 0 - 1 = 4", "5 2 - 7 = 4 5"]
    div = run_task("div", (158, 37))
    assert div.lines[:4] == ["1 // 3 7 = 0", "1 5 // 3 7 = 0", "1 5 8 // 3 7 = 4", "call(mul, 4, 3 7) = 1 4 8"]
    assert div.answer == 4 and div.lines[-1] == "1 5 8 % 3 7 = 1 0"


def test_visibility_full_call_and_invisible():
    full = traced(lambda a, b: a * b, 12, 34)
    call = traced(lambda a, b: a * b, 12, 34, visibility={"mul": "call"})
    hidden = traced(lambda a, b: a * b + a, 12, 34, visibility={"mul": "invisible", "add": "call"})
    assert len(full.lines) > 3 and all(step_consistent(line) for line in full.lines)
    assert call.lines == ["call(mul, 1 2, 3 4) = 4 0 8"]
    assert hidden.lines == ["call(add, 4 0 8, 1 2) = 4 2 0"] and hidden.answer == 420
    with pytest.raises(ValueError, match="visibility.*'pow'"):
        Tracer({"pow": "full"})
    with pytest.raises(ValueError, match=r"visibility\['add'\] must be one of"):
        Tracer({"add": "loud"})


def test_user_function_with_tint():
    def poly(x, y):
        return x * x + TInt(3) * y

    trace = trace_function(poly, 12, 7)
    assert trace.answer == 12 * 12 + 21 and trace.prompt == "poly(1 2, 7)"
    assert_all_steps_consistent(trace)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_answers_correctly_without_noise(task):
    import random

    from rlnoise.tint.tasks import sample_args

    rng = random.Random(0)
    for _ in range(20):
        args = sample_args(task, rng, 1, 4)
        trace = run_task(task, args)
        assert trace.answer == trace.true_answer
        assert parse_answer(trace.completion.split("\n")[-1]) == trace.answer
        assert_all_steps_consistent(trace)


def test_check_parses_and_rejects():
    assert evaluate_expression("1 4 - 7 - 1") == 6 and evaluate_expression("- 3 * 2") == -6
    assert evaluate_expression("1 +") is None and evaluate_expression("a + 1") is None
    assert step_consistent("4 + 7 + 0 = 1 1") and step_consistent("4 + 7 + 0 = 1 2") is False
    assert step_consistent("call(mod, 4 8, 1 8) = 1 2") and not step_consistent("call(mod, 4 8, 1 8) = 2")
    assert step_consistent("[3, 1 7]") is None and step_consistent("hello") is None
    assert parse_answer("[3, 1 7]") == [3, 17] and parse_answer("- 4 2") == -42 and parse_answer("4x") is None
    assert parse_number("1 0 2") == 102
    assert evaluate_expression("0 0 9 + 1") == 10 and step_consistent("0 9 + 1 = 1 0")  # model output: leading zeros


# --- static noise ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**8), st.integers(0, 10**8), st.floats(0, 1), st.floats(0, 1), st.integers(0, 2**31))
def test_static_noise_leaves_the_answer_intact_by_default(a, b, digit_p, line_p, seed):
    clean = run_task("add", (a, b)).completion
    noisy = add_static_noise(clean, digit_p=digit_p, line_p=line_p, seed=seed)
    assert noisy.split("\n")[-1] == clean.split("\n")[-1]
    assert len(noisy.split("\n")) <= len(clean.split("\n"))


def test_static_digit_noise_always_changes_the_digit_and_keeps_the_form():
    clean = run_task("mul", (987654, 123456)).completion
    noisy = add_static_noise(clean, digit_p=1.0, line_p=0.0, seed=0)
    body_clean, body_noisy = clean.split("\n")[:-1], noisy.split("\n")[:-1]
    assert len(body_clean) == len(body_noisy)
    for x, y in zip(body_clean, body_noisy):
        assert re.sub(r"\d", "#", x) == re.sub(r"\d", "#", y)  # same form
        assert all(cx != cy for cx, cy in zip(x, y) if cx.isdigit())  # every digit replaced by a different one
    touched = add_static_noise(clean, digit_p=1.0, line_p=0.0, seed=0, touch_answer=True)
    assert touched.split("\n")[-1] != clean.split("\n")[-1]
    assert add_static_noise(clean, digit_p=0.0, line_p=1.0, seed=0) == clean.split("\n")[-1]


def test_static_noise_rates_are_binomial():
    clean = run_task("mul", (987654321, 123456789)).completion
    body = clean.split("\n")[:-1]
    n_digits = sum(c.isdigit() for line in body for c in line)
    noisy = add_static_noise(clean, digit_p=0.2, line_p=0.0, seed=3).split("\n")[:-1]
    changed = sum(cx != cy for x, y in zip(body, noisy) for cx, cy in zip(x, y))
    sd = math.sqrt(n_digits * 0.2 * 0.8)
    assert abs(changed - 0.2 * n_digits) < 4 * sd
    kept = len(add_static_noise(clean, digit_p=0.0, line_p=0.3, seed=3).split("\n")) - 1
    assert abs(kept - 0.7 * len(body)) < 4 * math.sqrt(len(body) * 0.21)


def test_static_noise_bad_parameters():
    with pytest.raises(ValueError, match="digit_p must be a probability"):
        add_static_noise("1\n2", digit_p=1.5, line_p=0.0, seed=0)
    with pytest.raises(ValueError, match="line_p must be a probability"):
        add_static_noise("1\n2", digit_p=0.0, line_p=-0.1, seed=0)


# --- dynamic noise --------------------------------------------------------------------------------------------


def test_dynamic_noise_propagates_into_later_lines_and_the_answer():
    propagated = 0
    for seed in range(200):
        trace = run_task("add", (987654321, 123456789), dynamic_noise=0.1, seed=seed)
        columns = trace.lines[:-1]
        carry = 0
        digits = []
        for line in columns:
            left, right = line.split(" = ")
            x, y, carry_in = (parse_number(part) for part in left.split(" + "))
            assert carry_in == carry  # each column reads the (possibly corrupted) carry the previous line wrote
            value = parse_number(right)
            digits.append(value % 10)
            carry = value // 10
        assembled = (
            int(str(carry) + "".join(map(str, reversed(digits))))
            if carry
            else int("".join(map(str, reversed(digits))))
        )
        assert trace.answer == assembled  # the answer is built from the corrupted columns
        if trace.corrupted:
            propagated += trace.answer != trace.true_answer
            assert step_accuracy(trace.completion)[0] < step_accuracy(trace.completion)[1]
    assert propagated > 100


def test_dynamic_noise_terminates_and_is_deterministic():
    for task, args in (("gcd", [[123456, 7890]]), ("div", (98765432, 123)), ("sort", [[5, 3, 9, 1, 7]])):
        for seed in range(30):
            a = run_task(task, args, dynamic_noise=0.5, seed=seed)
            b = run_task(task, args, dynamic_noise=0.5, seed=seed)
            assert a.completion == b.completion
    with pytest.raises(ValueError, match="dynamic_noise must be a probability"):
        run_task("add", (1, 2), dynamic_noise=2.0)


# --- datasets -------------------------------------------------------------------------------------------------


def test_dataset_columns_determinism_and_clean_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("RLNOISE_CACHE", str(tmp_path))
    ds = make_dataset("add", 50, min_digits=2, max_digits=4, seed=1)
    assert ds.column_names == ["prompt", "completion", "answer", "true_answer", "noised", "noise", "changed",
                               "digits", "changed_digits", "lines", "changed_lines"]  # fmt: skip
    assert ds["answer"] == ds["true_answer"] and not any(ds["noised"])
    assert make_dataset("add", 50, min_digits=2, max_digits=4, seed=1)["completion"] == ds["completion"]
    assert generate_rows("add", 50, min_digits=2, max_digits=4, seed=2)["prompt"] != ds["prompt"]


@pytest.mark.parametrize("c", [0.1, 0.5, 0.9])
def test_contamination_rate_within_binomial_bounds(c):
    n = 2000
    for kind in ({"static": {"digit_p": 0.3}}, {"dynamic": 0.3}):
        rows = generate_rows("add", n, min_digits=3, max_digits=5, contamination=c, seed=7, **kind)
        k = sum(rows["noised"])
        assert abs(k - c * n) < 4 * math.sqrt(n * c * (1 - c))
        assert all(noise != "none" for noise, noised in zip(rows["noise"], rows["noised"]) if noised)
        assert not any(changed for changed, noised in zip(rows["changed"], rows["noised"]) if not noised)
        if "static" in kind:  # static noise never touches the answer; dynamic noise does
            assert rows["answer"] == rows["true_answer"]
        else:
            assert rows["answer"] != rows["true_answer"]


def test_dataset_excludes_test_prompts_and_rejects_bad_input():
    test = generate_rows("add", 30, min_digits=1, max_digits=2, seed=0)
    train = generate_rows("add", 200, min_digits=1, max_digits=2, seed=1, exclude_prompts=test["prompt"])
    assert not set(train["prompt"]) & set(test["prompt"])
    with pytest.raises(ValueError, match="problem space is too small"):
        generate_rows(
            "add",
            10,
            min_digits=1,
            max_digits=1,
            exclude_prompts=generate_rows("add", 3000, min_digits=1, max_digits=1)["prompt"],
        )
    with pytest.raises(ValueError, match="task must be one of"):
        generate_rows("pow", 5, min_digits=1, max_digits=2)
    with pytest.raises(ValueError, match="min_digits \\(3\\) must be <= max_digits \\(2\\)"):
        generate_rows("add", 5, min_digits=3, max_digits=2)
    with pytest.raises(ValueError, match="contamination must be a probability"):
        generate_rows("add", 5, min_digits=1, max_digits=2, contamination=1.2)
    with pytest.raises(ValueError, match="n must be an integer"):
        generate_rows("add", 0, min_digits=1, max_digits=2)
    with pytest.raises(ValueError, match="takes two ints"):
        run_task("add", (1, 2, 3))
    with pytest.raises(ValueError, match="divisor must not be 0"):
        run_task("div", (1, 0))
