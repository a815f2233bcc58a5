"""How much damage noise did to a training set, measured against the clean traces: the share of trace digits
changed, of lines changed and of final answers wrong. Static and dynamic noise at the same nominal intensity do very
different damage, so a sweep reports these rates for every cell and can fix one of them across noise types
(``match`` in the sweep config)."""

from __future__ import annotations

from dataclasses import dataclass

RATES = ("digit_rate", "line_rate", "wrong_answer_rate")


@dataclass(frozen=True)
class Damage:
    """One trace's damage: changed / total digits and lines of the clean trace, and whether the answer is wrong."""

    digits: int
    changed_digits: int
    lines: int
    changed_lines: int
    wrong_answer: bool


def _digits(line: str) -> list[str]:
    return [c for c in line if c.isdigit()]


def trace_damage(clean: str, noisy: str) -> Damage:
    """Compare a noisy completion with the clean one line by line (the answer line included).

    A line counts as changed when its text differs. Digits are compared in order within aligned lines: each
    differing position counts, and so does each digit one line has beyond the other's (a shorter or longer
    value). Clean lines with no counterpart (deleted lines) count all their digits. Dynamic noise can change a
    trace's length; lines are still aligned by position, which counts everything after a shift as changed: that is
    the damage a reader of the trace sees."""
    clean_lines, noisy_lines = clean.split("\n"), noisy.split("\n")
    digits = changed_digits = changed_lines = 0
    for i, line in enumerate(clean_lines):
        ours = _digits(line)
        digits += len(ours)
        other = noisy_lines[i] if i < len(noisy_lines) else None
        if other == line:
            continue
        changed_lines += 1
        theirs = _digits(other) if other is not None else []
        changed_digits += sum(a != b for a, b in zip(ours, theirs)) + max(len(ours) - len(theirs), 0)
        if other is not None:
            changed_digits += max(len(theirs) - len(ours), 0)
    extra = noisy_lines[len(clean_lines) :]
    changed_lines += len(extra)
    changed_digits += sum(len(_digits(line)) for line in extra)
    return Damage(digits, changed_digits, len(clean_lines), changed_lines, clean_lines[-1] != noisy_lines[-1])


def damage_rates(damages: list[Damage]) -> dict[str, float]:
    """A training set's rates: changed digits over all clean trace digits, changed lines over all clean lines,
    wrong final answers over samples."""
    if not damages:
        raise ValueError("damage_rates needs at least one trace")
    return {
        "digit_rate": sum(d.changed_digits for d in damages) / max(sum(d.digits for d in damages), 1),
        "line_rate": sum(d.changed_lines for d in damages) / max(sum(d.lines for d in damages), 1),
        "wrong_answer_rate": sum(d.wrong_answer for d in damages) / len(damages),
    }
