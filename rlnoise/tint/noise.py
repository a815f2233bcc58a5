"""Static trace noise: applied to a finished trace, it keeps the trace's form (Havrilla & Iyer's static noise;
``semantics="reference"`` reproduces their released code's draws).

Dynamic noise lives in the computation itself (``Tracer.value``); contamination, the share of samples that get
either kind, is decided per sample in ``dataset.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rlnoise.core.config import check_choice, check_probability
from rlnoise.tint.trace import SEMANTICS


@dataclass(frozen=True)
class StaticNoise:
    """Per-digit corruption at ``digit_p`` and per-line deletion at ``line_p``; the answer line is left alone
    unless ``touch_answer``. ``semantics="reference"``: Dahoas/transformer_arithmetic's static noise, whose digit
    draws are uniform over 0-9 (the same digit one time in ten, so digits change at 0.9 ``digit_p``) and reach the
    answer line's digits (never its deletion)."""

    digit_p: float = 0.0
    line_p: float = 0.0
    touch_answer: bool = False
    semantics: str = "clean"

    def __post_init__(self):
        check_probability("digit_p", self.digit_p)
        check_probability("line_p", self.line_p)
        check_choice("noise_semantics", self.semantics, SEMANTICS)


def add_static_noise(
    completion: str,
    *,
    digit_p: float,
    line_p: float,
    seed: int | None,
    touch_answer: bool = False,
    semantics: str = "clean",
) -> str:
    """Corrupt a finished trace.

    Args:
        completion: the trace, one step per line, answer on the last line.
        digit_p: probability that each digit is replaced by a different digit (uniform over the other nine;
            reference semantics: uniform over all ten).
        line_p: probability that each line is deleted.
        seed: seed of the noise.
        touch_answer: whether the final-answer line may be corrupted or deleted too (default: no).
        semantics: ``clean`` (rlnoise's) or ``reference`` (see ``StaticNoise``).

    Returns:
        The noisy completion.
    """
    noise = StaticNoise(digit_p, line_p, touch_answer, semantics)
    rng = random.Random(seed)
    lines = completion.split("\n")
    reference = semantics == "reference"
    body, last = (lines, []) if touch_answer else (lines[:-1], lines[-1:])
    if noise.line_p > 0:
        body = [line for line in body if rng.random() >= noise.line_p]
    if noise.digit_p > 0:
        body = [_corrupt_digits(line, noise.digit_p, rng, reference) for line in body]
        if reference and last:
            last = [_corrupt_digits(last[0], noise.digit_p, rng, reference)]
    return "\n".join(body + last)


def _corrupt_digits(line: str, p: float, rng: random.Random, reference: bool = False) -> str:
    if reference:
        return "".join(str(rng.randrange(10)) if c.isdigit() and rng.random() < p else c for c in line)
    return "".join(str((int(c) + rng.randrange(1, 10)) % 10) if c.isdigit() and rng.random() < p else c for c in line)
