"""Matched noise budgets: the intensity at which a noise type does a given measured damage to a training set, so
static and dynamic noise are compared at equal damage rather than at equal nominal intensity."""

from __future__ import annotations

from rlnoise.core.config import check_choice, check_probability
from rlnoise.tint.damage import RATES
from rlnoise.tint.dataset import generate_rows, train_damage

CALIBRATION_SAMPLES = 1000
STEPS = 14  # bisection steps: the intensity to within 1e-4


def damage_at(kind: str, intensity: float, rate: str, *, task: str, contamination: float, digits: dict, seed: int,
              line_p: float = 0.0, semantics: str = "clean") -> float:  # fmt: skip
    """The measured ``rate`` of a calibration set of ``task`` under ``kind`` noise at ``intensity``."""
    if kind == "static":
        noise = {"static": {"digit_p": intensity, "line_p": line_p, "semantics": semantics}}
    else:
        noise = {"dynamic": intensity, "semantics": semantics}
    rows = generate_rows(task, CALIBRATION_SAMPLES, **digits, contamination=contamination, seed=seed, **noise)
    return train_damage(rows)[rate]


def matched_intensity(kind: str, rate: str, target: float, **settings) -> float:
    """The smallest intensity (to 1e-4) whose calibration set reaches ``target`` for ``rate``, by bisection (the
    noise draws are the same at every intensity, so the measured rate rises with it). An unreachable target is an
    error that says how far the noise goes."""
    check_choice("match", rate, RATES)
    check_probability("match_targets", target)
    reach = damage_at(kind, 1.0, rate, **settings)
    if reach < target:
        raise ValueError(
            f"match_targets: {kind} noise reaches {rate} {reach:.3f} at most here (intensity 1, contamination "
            f"{settings['contamination']:g}), below the target {target:g}; lower the target, raise the contamination"
            + (", or corrupt the answer line (noise_semantics: reference)" if kind == "static" else "")
        )
    low, high = 0.0, 1.0
    for _ in range(STEPS):
        mid = (low + high) / 2
        if damage_at(kind, mid, rate, **settings) >= target:
            high = mid
        else:
            low = mid
    return round(high, 4)
