"""Label-noise models.

Every entry of :data:`NOISE_MODELS` is a pure function
``fn(labels: np.ndarray, *, seed: int, **params) -> NoiseResult``. For preference data the labels are 0/1,
1 meaning "the first response is preferred". ``NoiseResult.flipped`` marks the entries whose label changed.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rlnoise.core.config import check_probability


@dataclass(frozen=True)
class NoiseResult:
    """Noisy labels and a boolean mask of the entries whose label differs from the input."""

    labels: np.ndarray
    flipped: np.ndarray

    @property
    def flip_rate(self) -> float:
        return float(self.flipped.mean()) if self.flipped.size else 0.0


def _as_labels(labels, field: str = "labels") -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be a 1-D array of integer class labels, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "biuf":
        raise ValueError(f"{field} must hold integer class labels, got values of dtype {arr.dtype} ({arr[0]!r}, ...)")
    if arr.size and arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (np.abs(arr) < 2**31)):
        raise ValueError(
            f"{field} must hold finite integer class labels below 2**31, got {arr[np.argmax(np.abs(arr))]!r}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{field} must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{field} must be non-negative class indices, got minimum {arr.min()}")
    return arr


def _binary(labels: np.ndarray, name: str) -> None:
    if labels.size and labels.max() > 1:
        raise ValueError(f"noise model '{name}' needs 0/1 preference labels, got a label {labels.max()}")


def _num_classes(y: np.ndarray, num_classes: int | None) -> int:
    """Number of classes: ``num_classes`` if given (validated against the labels), else max(labels) + 1, at least 2."""
    if num_classes is None:
        return max(int(y.max(initial=0)) + 1, 2)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if y.size and y.max() >= num_classes:
        raise ValueError(f"labels hold class {y.max()} but num_classes is {num_classes}")
    return int(num_classes)


def _result(original: np.ndarray, noisy: np.ndarray) -> NoiseResult:
    return NoiseResult(labels=noisy, flipped=noisy != original)


def symmetric(labels, *, seed: int, p: float, num_classes: int | None = None) -> NoiseResult:
    """Each label is replaced, with probability ``p``, by a uniformly drawn *different* class.

    Args:
        labels: integer labels, shape [n].
        seed: RNG seed.
        p: flip probability in [0, 1].
        num_classes: number of classes (default: ``max(labels) + 1``, at least 2).
    """
    check_probability("p", p)
    y = _as_labels(labels)
    k = _num_classes(y, num_classes)
    rng = np.random.default_rng(seed)
    flip = rng.random(y.size) < p
    # A different class: add a uniform offset in 1..k-1 modulo k.
    offset = rng.integers(1, k, size=y.size)
    return _result(y, np.where(flip, (y + offset) % k, y))


def exact(labels, *, seed: int, p: float, num_classes: int | None = None) -> NoiseResult:
    """Flip exactly ``round(p * n)`` labels, chosen uniformly without replacement, each to a different class."""
    check_probability("p", p)
    y = _as_labels(labels)
    k = _num_classes(y, num_classes)
    rng = np.random.default_rng(seed)
    idx = rng.choice(y.size, size=int(round(p * y.size)), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, k, size=idx.size)) % k
    return _result(y, noisy)


def transition(labels, *, seed: int, matrix) -> NoiseResult:
    """Class-conditional noise: the noisy label of an example of class i is drawn from row i of ``matrix``.

    Args:
        matrix: row-stochastic [k, k] array, ``matrix[i, j] = P(noisy = j | true = i)``.
    """
    t = np.asarray(matrix, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] < 2:
        raise ValueError(f"matrix must be a square [k, k] array with k >= 2, got shape {t.shape}")
    if np.any(t < 0) or not np.allclose(t.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"matrix must be row-stochastic (entries >= 0, rows sum to 1), got row sums {t.sum(axis=1)}")
    y = _as_labels(labels)
    if y.size and y.max() >= t.shape[0]:
        raise ValueError(f"labels hold class {y.max()} but matrix has only {t.shape[0]} classes")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(t, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(y.size)
    noisy = (u[:, None] >= cdf[y]).sum(axis=1)
    return _result(y, noisy.astype(np.int64))


def pairwise(labels, *, seed: int, p: float, num_classes: int | None = None) -> NoiseResult:
    """Asymmetric pair noise: class i is flipped to class (i + 1) mod k with probability ``p``."""
    check_probability("p", p)
    y = _as_labels(labels)
    k = _num_classes(y, num_classes)
    t = np.eye(k) * (1 - p)
    t[np.arange(k), (np.arange(k) + 1) % k] += p
    return transition(y, seed=seed, matrix=t)


def coste(labels, *, seed: int, fraction: float = 0.5) -> NoiseResult:
    """Coste et al.'s noise: a random ``fraction`` of the pairs get a fair coin-flip label.

    With the default fraction 0.5, about 25% of the labels end up wrong.
    """
    check_probability("fraction", fraction)
    y = _as_labels(labels)
    _binary(y, "coste")
    rng = np.random.default_rng(seed)
    relabel = rng.random(y.size) < fraction
    coin = rng.integers(0, 2, size=y.size)
    return _result(y, np.where(relabel, coin, y))


def bradley_terry(labels, *, seed: int, margins, temperature: float = 1.0) -> NoiseResult:
    """Labels sampled from a Bradley-Terry model of gold margins: P(first preferred) = sigmoid(margin / T).

    Near-ties (small |margin|) are labelled close to at random; large margins almost never flip.

    Args:
        labels: the true 0/1 labels (argmax of the gold scores), used for the ``flipped`` bookkeeping.
        margins: gold(first) - gold(second), shape [n].
        temperature: T > 0; larger is noisier.
    """
    y = _as_labels(labels)
    _binary(y, "bradley_terry")
    m = np.asarray(margins, dtype=np.float64)
    if m.shape != y.shape:
        raise ValueError(f"margins must have the same shape as labels {y.shape}, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"margins must be finite, got {int((~np.isfinite(m)).sum())} NaN/inf values")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 < temperature < np.inf:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    rng = np.random.default_rng(seed)
    p_first = 0.5 * (1.0 + np.tanh(m / (2.0 * temperature)))  # = sigmoid(m / T), overflow-free
    return _result(y, (rng.random(y.size) < p_first).astype(np.int64))


def length_biased(labels, *, seed: int, lengths_first, lengths_second, q: float) -> NoiseResult:
    """An annotator who, with probability ``q``, prefers the longer response instead of reading them.

    Pairs of equal length keep their true label.
    """
    check_probability("q", q)
    y = _as_labels(labels)
    _binary(y, "length_biased")
    a = np.asarray(lengths_first)
    b = np.asarray(lengths_second)
    if a.shape != y.shape or b.shape != y.shape:
        raise ValueError(f"lengths_first/lengths_second must have shape {y.shape}, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    lazy = (rng.random(y.size) < q) & (a != b)
    return _result(y, np.where(lazy, (a > b).astype(np.int64), y))


def none(labels, *, seed: int = 0) -> NoiseResult:
    """No noise: the labels unchanged."""
    y = _as_labels(labels)
    return _result(y, y.copy())


NOISE_MODELS: dict[str, Callable[..., NoiseResult]] = {
    "none": none,
    "symmetric": symmetric,
    "exact": exact,
    "transition": transition,
    "pairwise": pairwise,
    "coste": coste,
    "bradley_terry": bradley_terry,
    "length_biased": length_biased,
}


def apply_noise(name: str, labels, *, seed: int, **params) -> NoiseResult:
    """Look up ``name`` in :data:`NOISE_MODELS` and apply it; unknown names raise a ``ValueError``."""
    if name not in NOISE_MODELS:
        raise ValueError(f"noise model must be one of {sorted(NOISE_MODELS)}, got '{name}'")
    return NOISE_MODELS[name](labels, seed=seed, **params)


# Parameters a caller fills from the data (gold margins, response lengths), never from a spec string.
DATA_PARAMS = ("margins", "lengths_first", "lengths_second")


def parse_noise_spec(spec: str, supplied: tuple[str, ...] = DATA_PARAMS) -> tuple[str, dict]:
    """Parse and validate ``"name"`` or ``"name:key=value,key=value"`` (e.g. ``"coste:fraction=0.5"``).

    Parameter names are checked against the noise model's signature and their values by a dry run on four dummy
    labels, so a bad spec fails here, before any model loads, with a message naming the spec.

    Args:
        supplied: the data parameters (:data:`DATA_PARAMS`) the caller fills from its data; a model that needs
            another one (e.g. ``bradley_terry``'s gold margins for plain class labels) is refused.

    Returns:
        ``(name, params)`` with numeric values as ints or floats.
    """
    if not isinstance(spec, str):
        raise ValueError(f"a noise spec must be a string like 'coste:fraction=0.5', got {spec!r}")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in NOISE_MODELS:
        raise ValueError(f"noise model must be one of {sorted(NOISE_MODELS)}, got '{name}' (from spec '{spec}')")
    params: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"noise parameter must look like key=value, got '{item}' in spec '{spec}'")
        for kind in (int, float, str.strip):
            try:
                params[key.strip()] = kind(value)
                break
            except ValueError:
                continue
    signature = inspect.signature(NOISE_MODELS[name])
    needed = [p for p in DATA_PARAMS if p in signature.parameters and p not in supplied]
    if needed:
        missing = set(DATA_PARAMS) - set(supplied)
        usable = sorted(m for m, fn in NOISE_MODELS.items() if not missing & set(inspect.signature(fn).parameters))
        raise ValueError(
            f"noise spec '{spec}': '{name}' needs {needed} from the data, which this study does not have; "
            f"use one of {usable}"
        )
    allowed = [p for p in signature.parameters if p not in ("labels", "seed", *DATA_PARAMS)]
    for key in params:
        if key not in allowed:
            raise ValueError(f"noise spec '{spec}': '{name}' takes parameters {allowed or 'none'}, got '{key}'")
    dummy = np.array([0, 1, 0, 1])
    data = {k: np.ones(4) for k in DATA_PARAMS if k in signature.parameters}
    try:
        NOISE_MODELS[name](dummy, seed=0, **data, **params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"noise spec '{spec}' is invalid for '{name}' (parameters {allowed}): {err}") from None
    return name, params
