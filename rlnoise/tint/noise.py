"""Static trace noise: applied to a finished trace, it keeps the trace's form (Havrilla & Iyer's static noise).

Dynamic noise lives in the computation itself (``Tracer.value``); contamination, the share of samples that get
either kind, is decided per sample in ``dataset.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rlnoise.core.config import check_probability


@dataclass(frozen=True)
class StaticNoise:
    """Per-digit corruption at ``digit_p`` and per-line deletion at ``line_p``; the answer line is left alone
    unless ``touch_answer``."""

    digit_p: float = 0.0
    line_p: float = 0.0
    touch_answer: bool = False

    def __post_init__(self):
        check_probability("digit_p", self.digit_p)
        check_probability("line_p", self.line_p)


def add_static_noise(
    completion: str, *, digit_p: float, line_p: float, seed: int | None, touch_answer: bool = False
) -> str:
    """Corrupt a finished trace.

    Args:
        completion: the trace, one step per line, answer on the last line.
        digit_p: probability that each digit is replaced by a different digit (uniform over the other nine).
        line_p: probability that each line is deleted.
        seed: seed of the noise.
        touch_answer: whether the final-answer line may be corrupted or deleted too (default: no).

    Returns:
        The noisy completion.
    """
    noise = StaticNoise(digit_p, line_p, touch_answer)
    rng = random.Random(seed)
    lines = completion.split("\n")
    body, last = (lines, []) if touch_answer else (lines[:-1], lines[-1:])
    if noise.line_p > 0:
        body = [line for line in body if rng.random() >= noise.line_p]
    if noise.digit_p > 0:
        body = [_corrupt_digits(line, noise.digit_p, rng) for line in body]
    return "\n".join(body + last)


def _corrupt_digits(line: str, p: float, rng: random.Random) -> str:
    return "".join(str((int(c) + rng.randrange(1, 10)) % 10) if c.isdigit() and rng.random() < p else c for c in line)
