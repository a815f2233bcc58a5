"""Tests for the label-noise models in :mod:`rlnoise.core.noise`."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.core.noise import NOISE_MODELS, NoiseResult, apply_noise, bradley_terry, symmetric

N = 20_000
Z = 5.0  # tolerance in binomial standard deviations


def _assert_binomial(count: int, n: int, p: float, what: str = "rate") -> None:
    """``count`` successes out of ``n`` lies within Z standard deviations of Bin(n, p)'s mean."""
    sd = math.sqrt(n * p * (1 - p))
    assert abs(count - n * p) <= Z * sd + 1e-9, f"{what}: observed {count / n:.4f}, expected {p:.4f} (n={n})"


def _binary_labels(n: int = N, seed: int = 123) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=n)


def _cases(n: int = 2_000):
    """(name, labels, params) for every model, with parameters that make it actually noisy."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=n)
    y3 = rng.integers(0, 3, size=n)
    return [
        ("none", y, {}),
        ("symmetric", y3, {"p": 0.3, "num_classes": 3}),
        ("exact", y3, {"p": 0.3}),
        ("transition", y3, {"matrix": [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]}),
        ("pairwise", y3, {"p": 0.25}),
        ("coste", y, {}),
        ("bradley_terry", y, {"margins": rng.normal(size=n), "temperature": 1.0}),
        (
            "length_biased",
            y,
            {"lengths_first": rng.integers(1, 50, size=n), "lengths_second": rng.integers(1, 50, size=n), "q": 0.5},
        ),
    ]


CASES = _cases()
CASE_IDS = [c[0] for c in CASES]


def test_registry_lists_every_model():
    """The registry holds exactly the documented models."""
    assert set(NOISE_MODELS) == {c[0] for c in CASES}


# ---------------------------------------------------------------- generic contract


@pytest.mark.parametrize(("name", "labels", "params"), CASES, ids=CASE_IDS)
def test_output_shape_dtype_and_flipped_mask(name, labels, params):
    """Output is an int64 [n] array, ``flipped`` is a bool mask equal to ``noisy != original``."""
    original = labels.copy()
    res = apply_noise(name, labels, seed=0, **params)
    assert isinstance(res, NoiseResult)
    assert res.labels.shape == labels.shape and res.labels.dtype == np.int64
    assert res.flipped.shape == labels.shape and res.flipped.dtype == np.bool_
    np.testing.assert_array_equal(res.flipped, res.labels != original)
    np.testing.assert_array_equal(labels, original)  # input not modified
    assert res.flip_rate == pytest.approx(float(np.mean(res.labels != original)))


@pytest.mark.parametrize(("name", "labels", "params"), CASES, ids=CASE_IDS)
def test_same_seed_same_output(name, labels, params):
    """A given seed always gives identical noisy labels."""
    a = apply_noise(name, labels, seed=11, **params)
    b = apply_noise(name, labels.copy(), seed=11, **params)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.flipped, b.flipped)


@pytest.mark.parametrize(("name", "labels", "params"), [c for c in CASES if c[0] != "none"], ids=CASE_IDS[1:])
def test_different_seed_different_output(name, labels, params):
    """Two seeds give different noise (the models actually use the seed)."""
    a = apply_noise(name, labels, seed=1, **params)
    b = apply_noise(name, labels, seed=2, **params)
    assert not np.array_equal(a.labels, b.labels)


def test_none_is_identity():
    """``none`` returns the labels unchanged and flags nothing."""
    y = np.array([0, 1, 2, 1, 0])
    res = apply_noise("none", y, seed=3)
    np.testing.assert_array_equal(res.labels, y)
    assert not res.flipped.any() and res.flip_rate == 0.0


def test_empty_labels():
    """Empty inputs give empty outputs and a zero flip rate."""
    for name in ("none", "symmetric", "exact", "pairwise", "coste"):
        params = {} if name in ("none", "coste") else {"p": 0.5}
        res = apply_noise(name, np.array([], dtype=np.int64), seed=0, **params)
        assert res.labels.shape == (0,) and res.flip_rate == 0.0


# ---------------------------------------------------------------- flip rates


@pytest.mark.parametrize("p", [0.05, 0.2, 0.45])
def test_symmetric_flip_rate(p):
    """Symmetric noise flips a Bin(n, p) number of labels."""
    res = apply_noise("symmetric", _binary_labels(), seed=0, p=p)
    _assert_binomial(int(res.flipped.sum()), N, p)


@pytest.mark.parametrize("k", [3, 5])
def test_symmetric_multiclass_replaces_with_uniform_different_class(k):
    """With p=1 every label changes, to each of the k-1 other classes about equally often."""
    y = np.random.default_rng(0).integers(0, k, size=N)
    res = apply_noise("symmetric", y, seed=0, p=1.0, num_classes=k)
    assert res.flipped.all() and np.all(res.labels != y)
    assert res.labels.min() >= 0 and res.labels.max() < k
    offsets = (res.labels - y) % k  # in 1..k-1, uniform
    for off in range(1, k):
        _assert_binomial(int(np.sum(offsets == off)), N, 1 / (k - 1), f"offset {off}")


def test_symmetric_num_classes_extends_label_space():
    """``num_classes`` larger than the observed labels lets noise reach the unseen classes."""
    y = np.zeros(2_000, dtype=np.int64)
    res = apply_noise("symmetric", y, seed=0, p=1.0, num_classes=4)
    assert set(np.unique(res.labels)) == {1, 2, 3}


@pytest.mark.parametrize("fraction", [0.5, 0.2, 1.0])
def test_coste_wrong_rate_is_half_the_fraction(fraction):
    """Coste noise relabels a ``fraction`` by coin flip, so about fraction/2 of the labels end up wrong."""
    res = apply_noise("coste", _binary_labels(), seed=0, fraction=fraction)
    _assert_binomial(int(res.flipped.sum()), N, fraction / 2)
    assert set(np.unique(res.labels)) <= {0, 1}


def test_coste_default_fraction_is_half():
    """The default fraction is 0.5, i.e. about 25% wrong labels."""
    res = apply_noise("coste", _binary_labels(), seed=0)
    _assert_binomial(int(res.flipped.sum()), N, 0.25)


@pytest.mark.parametrize("p", [0.1, 0.4])
def test_pairwise_binary_flip_rate(p):
    """Pair noise on 0/1 labels flips each label with probability p."""
    res = apply_noise("pairwise", _binary_labels(), seed=0, p=p)
    _assert_binomial(int(res.flipped.sum()), N, p)


def test_pairwise_moves_to_next_class():
    """Pair noise only ever moves class i to (i + 1) mod k, at rate p per class."""
    y = np.random.default_rng(1).integers(0, 3, size=N)
    res = apply_noise("pairwise", y, seed=0, p=0.3)
    moved = res.flipped
    np.testing.assert_array_equal(res.labels[moved], (y[moved] + 1) % 3)
    for c in range(3):
        _assert_binomial(int(moved[y == c].sum()), int(np.sum(y == c)), 0.3, f"class {c}")
    full = apply_noise("pairwise", np.array([0, 1, 2]), seed=0, p=1.0)
    np.testing.assert_array_equal(full.labels, [1, 2, 0])


def test_transition_follows_matrix_rows():
    """The noisy-label frequencies of each true class match that class's row of the matrix."""
    t = np.array([[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]])
    y = np.repeat(np.arange(3), N // 3)
    res = apply_noise("transition", y, seed=0, matrix=t)
    for i in range(3):
        noisy_i = res.labels[y == i]
        n_i = noisy_i.size
        _assert_binomial(int(np.sum(noisy_i != i)), n_i, 1 - t[i, i], f"off-diagonal mass of class {i}")
        for j in range(3):
            _assert_binomial(int(np.sum(noisy_i == j)), n_i, t[i, j], f"T[{i},{j}]")


def test_transition_zero_entries_never_drawn():
    """A zero-probability entry (including a leading or trailing zero) is never sampled."""
    t = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
    y = np.repeat(np.arange(3), 3_000)
    res = apply_noise("transition", y, seed=0, matrix=t)
    assert res.flipped.all()
    identity = apply_noise("transition", y, seed=0, matrix=np.eye(3))
    np.testing.assert_array_equal(identity.labels, y)


class _FixedDraws:
    """Stand-in for a numpy Generator whose ``random`` always returns the same value ``u``."""

    def __init__(self, u: float):
        self.u = u

    def random(self, size):
        return np.full(size, self.u)


@pytest.mark.parametrize(
    ("u", "matrix", "expected"),
    [
        (0.0, [[0.0, 1.0], [1.0, 0.0]], [1, 0]),  # u on a zero-width bin's edge must skip that class
        (0.0, [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], [2, 2]),
        (np.nextafter(1.0, 0.0), [[0.5, 0.4999999], [0.4999999, 0.5]], [1, 1]),  # rows sum to 1 - 1e-7
        (np.nextafter(1.0, 0.0), [[0.1] * 10] * 10, [9, 9]),  # cumsum ends just below 1
    ],
)
def test_transition_sampling_edges(monkeypatch, u, matrix, expected):
    """At the extremes of the uniform draw the sampled class is valid and has positive probability."""
    monkeypatch.setattr(np.random, "default_rng", lambda seed=None: _FixedDraws(u))
    res = NOISE_MODELS["transition"](np.array([0, 1]), seed=0, matrix=matrix)
    np.testing.assert_array_equal(res.labels, expected)


@pytest.mark.parametrize("q", [0.3, 1.0])
def test_length_biased_flip_rate(q):
    """A lazy annotator flips exactly the pairs where the longer response is not the true winner, at rate q."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=N)
    a = rng.integers(1, 20, size=N)
    b = rng.integers(1, 20, size=N)  # many ties, which must keep their label
    wrong_if_lazy = (a != b) & ((a > b).astype(np.int64) != y)
    res = apply_noise("length_biased", y, seed=0, lengths_first=a, lengths_second=b, q=q)
    assert not res.flipped[~wrong_if_lazy].any()
    m = int(wrong_if_lazy.sum())
    if q == 1.0:
        assert int(res.flipped.sum()) == m
    else:
        _assert_binomial(int(res.flipped.sum()), m, q)
    # flipped labels point at the longer response
    np.testing.assert_array_equal(res.labels[res.flipped], (a > b)[res.flipped].astype(np.int64))


# ---------------------------------------------------------------- exact


@pytest.mark.parametrize(("p", "k"), [(0.1, 2), (0.333, 3), (0.5, 5), (1.0, 2)])
def test_exact_flips_round_p_n_labels_to_different_classes(p, k):
    """Exact mode flips exactly round(p * n) labels, each to another class."""
    n = 1_001
    y = np.random.default_rng(2).integers(0, k, size=n)
    res = apply_noise("exact", y, seed=0, p=p, num_classes=k)
    assert int(res.flipped.sum()) == round(p * n)
    assert res.labels.max() < k
    np.testing.assert_array_equal(res.labels[res.flipped] != y[res.flipped], True)


def test_exact_replacement_is_uniform_over_other_classes():
    """Like symmetric noise, exact mode sends a flipped label to each other class about equally often."""
    k = 4
    y = np.random.default_rng(3).integers(0, k, size=N)
    res = apply_noise("exact", y, seed=0, p=0.9, num_classes=k)
    offsets = ((res.labels - y) % k)[res.flipped]
    for off in range(1, k):
        _assert_binomial(int(np.sum(offsets == off)), offsets.size, 1 / (k - 1), f"offset {off}")


# ---------------------------------------------------------------- Bradley-Terry


def test_bradley_terry_huge_margins_are_deterministic():
    """Huge positive margins always give label 1, huge negative margins label 0."""
    y = np.ones(N, dtype=np.int64)
    res = apply_noise("bradley_terry", y, seed=0, margins=np.full(N, 1e6), temperature=1.0)
    assert np.all(res.labels == 1) and not res.flipped.any()
    res = apply_noise("bradley_terry", 1 - y, seed=0, margins=np.full(N, -1e6), temperature=1.0)
    assert np.all(res.labels == 0)


def test_bradley_terry_zero_margins_are_coin_flips():
    """Zero margins label the first response preferred about half the time."""
    res = apply_noise("bradley_terry", np.ones(N, dtype=np.int64), seed=0, margins=np.zeros(N))
    _assert_binomial(int(res.labels.sum()), N, 0.5)


@pytest.mark.parametrize(("margin", "temperature"), [(1.0, 1.0), (2.0, 0.5), (1.0, 4.0)])
def test_bradley_terry_probability_is_sigmoid_margin_over_t(margin, temperature):
    """P(label 1) = sigmoid(margin / T)."""
    res = apply_noise(
        "bradley_terry", np.ones(N, dtype=np.int64), seed=0, margins=np.full(N, margin), temperature=temperature
    )
    _assert_binomial(int(res.labels.sum()), N, 1 / (1 + math.exp(-margin / temperature)))


def test_bradley_terry_small_temperature_less_noisy():
    """A smaller temperature gives fewer flips than a larger one on the same margins."""
    rng = np.random.default_rng(0)
    margins = rng.normal(size=N)
    y = (margins > 0).astype(np.int64)
    cold = apply_noise("bradley_terry", y, seed=0, margins=margins, temperature=0.1).flip_rate
    hot = apply_noise("bradley_terry", y, seed=0, margins=margins, temperature=10.0).flip_rate
    assert cold < 0.1 < 0.4 < hot


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "shown"),
    [(1.5, "1.5"), (-0.1, "-0.1"), (float("nan"), "nan"), (True, "True"), ("0.5", "'0.5'"), (None, "None")],
)
@pytest.mark.parametrize("name", ["symmetric", "exact", "pairwise"])
def test_bad_p_rejected(name, bad, shown):
    """p must be a real number in [0, 1]; the error names p and the bad value."""
    with pytest.raises(ValueError, match=rf"\bp\b.*{shown}"):
        apply_noise(name, [0, 1, 1], seed=0, p=bad)


def test_bad_fraction_and_q_rejected():
    """coste's fraction and length_biased's q are probabilities too."""
    with pytest.raises(ValueError, match=r"fraction.*1\.2"):
        apply_noise("coste", [0, 1], seed=0, fraction=1.2)
    with pytest.raises(ValueError, match=r"\bq\b.*-1"):
        apply_noise("length_biased", [0, 1], seed=0, lengths_first=[1, 2], lengths_second=[2, 1], q=-1)


@pytest.mark.parametrize(
    ("matrix", "pattern"),
    [
        ([[0.9, 0.2], [0.1, 0.9]], r"matrix.*row-stochastic.*1\.1"),  # row sums 1.1 and 1.0
        ([[1.2, -0.2], [0.0, 1.0]], r"matrix.*row-stochastic"),  # negative entry
        ([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]], r"matrix.*square.*\(2, 3\)"),
        ([0.5, 0.5], r"matrix.*square.*\(2,\)"),
        ([[1.0]], r"matrix.*k >= 2.*\(1, 1\)"),
        ([[float("nan"), 0.5], [0.5, 0.5]], r"matrix.*row-stochastic"),
    ],
)
def test_bad_transition_matrix_rejected(matrix, pattern):
    """Non-square, non-stochastic, negative or NaN matrices raise a ValueError naming the matrix."""
    with pytest.raises(ValueError, match=pattern):
        apply_noise("transition", [0, 1, 0], seed=0, matrix=matrix)


def test_transition_label_outside_matrix_rejected():
    """A label class beyond the matrix size is an error."""
    with pytest.raises(ValueError, match=r"class 2.*2 classes"):
        apply_noise("transition", [0, 2], seed=0, matrix=np.eye(2))


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (np.zeros((2, 2), dtype=int), r"labels.*1-D.*\(2, 2\)"),
        (np.int64(1), r"labels.*1-D.*\(\)"),
        ([0, -1, 1], r"labels.*non-negative.*-1"),
        ([0.0, 0.5], r"labels.*integer"),
        ([0.0, float("nan")], r"labels.*integer"),
    ],
)
@pytest.mark.parametrize("name", ["none", "symmetric", "coste"])
def test_bad_labels_rejected(name, labels, pattern):
    """Labels must be a 1-D array of non-negative integers."""
    params = {"p": 0.1} if name == "symmetric" else {}
    with pytest.raises(ValueError, match=pattern):
        apply_noise(name, labels, seed=0, **params)


def test_integer_valued_float_labels_accepted():
    """Float labels holding whole numbers are fine and come back as int64."""
    res = apply_noise("none", [0.0, 1.0, 2.0], seed=0)
    assert res.labels.dtype == np.int64
    np.testing.assert_array_equal(res.labels, [0, 1, 2])


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("coste", {}),
        ("bradley_terry", {"margins": [0.0, 0.0, 0.0]}),
        ("length_biased", {"lengths_first": [1, 2, 3], "lengths_second": [3, 2, 1], "q": 0.5}),
    ],
)
def test_binary_models_reject_class_2(name, params):
    """Preference-only models refuse labels other than 0/1, naming the model and the label."""
    with pytest.raises(ValueError, match=rf"{name}.*0/1.*2"):
        apply_noise(name, [0, 1, 2], seed=0, **params)


def test_bradley_terry_margin_shape_mismatch():
    """Margins of another shape than the labels raise a ValueError naming margins and the shape."""
    with pytest.raises(ValueError, match=r"margins.*\(2,\)"):
        apply_noise("bradley_terry", [0, 1, 1], seed=0, margins=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"margins.*\(1, 3\)"):
        apply_noise("bradley_terry", [0, 1, 1], seed=0, margins=[[0.1, 0.2, 0.3]])


@pytest.mark.parametrize(
    ("temperature", "shown"), [(0.0, "0.0"), (-1.0, "-1.0"), (float("inf"), "inf"), (float("nan"), "nan")]
)
def test_bradley_terry_bad_temperature(temperature, shown):
    """Temperature must be finite and > 0."""
    with pytest.raises(ValueError, match=rf"temperature.*{shown}"):
        apply_noise("bradley_terry", [0, 1], seed=0, margins=[0.0, 1.0], temperature=temperature)


@pytest.mark.parametrize(
    ("first", "second"),
    [([1, 2], [1, 2, 3]), ([1, 2, 3], [1, 2]), ([[1, 2, 3]], [1, 2, 3]), ([1, 2], [2, 1]), ([[1, 2, 3]], [[3, 2, 1]])],
)
def test_length_biased_shape_mismatch(first, second):
    """Length arrays must match the labels' shape."""
    with pytest.raises(ValueError, match=r"lengths_first/lengths_second.*\(3,\)"):
        apply_noise("length_biased", [0, 1, 1], seed=0, lengths_first=first, lengths_second=second, q=0.5)


def test_unknown_model_name():
    """apply_noise rejects unknown names, listing the bad name."""
    with pytest.raises(ValueError, match=r"noise model.*'gaussian'"):
        apply_noise("gaussian", [0, 1], seed=0)


# ---------------------------------------------------------------- properties

label_lists = st.integers(min_value=2, max_value=5).flatmap(
    lambda k: st.tuples(st.just(k), st.lists(st.integers(0, k - 1), min_size=0, max_size=200))
)
probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=50, deadline=None)
@given(data=label_lists, p=probs, seed=seeds)
def test_prop_exact_flips_exactly_round_p_n(data, p, seed):
    """Exact mode always flips exactly round(p * n) labels, each to a valid, different class."""
    k, labels = data
    y = np.array(labels, dtype=np.int64)
    res = apply_noise("exact", y, seed=seed, p=p, num_classes=k)
    assert int(res.flipped.sum()) == round(p * y.size)
    np.testing.assert_array_equal(res.flipped, res.labels != y)
    assert res.labels.size == 0 or (res.labels.min() >= 0 and res.labels.max() < k)


@settings(max_examples=50, deadline=None)
@given(data=label_lists, p=probs, seed=seeds, name=st.sampled_from(["symmetric", "exact", "pairwise"]))
def test_prop_flipped_mask_consistent(data, p, seed, name):
    """For any labels and p, ``flipped`` is exactly ``noisy != original`` and classes stay in range."""
    k, labels = data
    y = np.array(labels, dtype=np.int64)
    res = apply_noise(name, y, seed=seed, p=p, num_classes=k)
    np.testing.assert_array_equal(res.flipped, res.labels != y)
    assert res.labels.shape == y.shape
    assert res.labels.size == 0 or (res.labels.min() >= 0 and res.labels.max() < k)


@settings(max_examples=50, deadline=None)
@given(data=label_lists, seed=seeds)
def test_prop_zero_noise_changes_nothing(data, seed):
    """p = 0 (fraction = 0, q = 0) leaves every label unchanged."""
    k, labels = data
    y = np.array(labels, dtype=np.int64)
    for name in ("symmetric", "exact", "pairwise"):
        res = apply_noise(name, y, seed=seed, p=0.0, num_classes=k)
        np.testing.assert_array_equal(res.labels, y)
        assert not res.flipped.any()
    yb = y % 2
    np.testing.assert_array_equal(apply_noise("coste", yb, seed=seed, fraction=0.0).labels, yb)
    lengths = np.arange(yb.size)
    res = apply_noise("length_biased", yb, seed=seed, lengths_first=lengths, lengths_second=lengths[::-1], q=0.0)
    np.testing.assert_array_equal(res.labels, yb)


@settings(max_examples=50, deadline=None)
@given(data=label_lists, seed=seeds)
def test_prop_symmetric_p1_flips_everything(data, seed):
    """Symmetric noise with p = 1 changes every single label."""
    k, labels = data
    y = np.array(labels, dtype=np.int64)
    res = apply_noise("symmetric", y, seed=seed, p=1.0, num_classes=k)
    assert res.flipped.all()
    assert np.all(res.labels != y)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(num_classes=1), "num_classes"),
        (dict(num_classes=-3), "num_classes"),
        (dict(num_classes=2), "num_classes"),  # labels hold class 4
    ],
)
def test_num_classes_validated(kwargs, field):
    with pytest.raises(ValueError, match=field):
        symmetric(np.array([0, 1, 4]), seed=0, p=0.5, **kwargs)


@pytest.mark.parametrize("temperature", [True, None, "1", float("inf"), 0.0])
def test_bradley_terry_temperature_validated(temperature):
    with pytest.raises(ValueError, match="temperature"):
        bradley_terry(np.array([0, 1]), seed=0, margins=np.array([0.0, 1.0]), temperature=temperature)


def test_bradley_terry_rejects_nan_margins():
    with pytest.raises(ValueError, match="margins must be finite"):
        bradley_terry(np.array([0, 1]), seed=0, margins=np.array([np.nan, 1.0]))
