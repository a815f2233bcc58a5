"""TInt tasks: a registry of traced computations with their prompts and argument samplers, and ``run_task``.

Prompts look like ``5 2 8 4 + 3 9 7`` (binary arithmetic) or ``sort [5 2, 3, 1 7]`` (list functions). The
completion a model is trained to produce is the trace, one step per line, with the answer alone on the last line.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from rlnoise.tint import tint
from rlnoise.tint.tint import TInt
from rlnoise.tint.trace import Tracer, fmt, fmt_list, tracing


@dataclass
class Trace:
    """One traced computation.

    Attributes:
        prompt: the question (``5 2 8 4 + 3 9 7``).
        lines: the steps, one per line (the answer line excluded).
        answer: the int (or list of ints) on the last line; under dynamic noise it may differ from ``true_answer``.
        true_answer: the exact result.
        corrupted: how many written values dynamic noise changed.
        args: the arguments the computation ran on (reference dynamic noise corrupts the operands too; the
            prompt shows them as corrupted, and ``true_answer`` is their exact result).
    """

    prompt: str
    lines: list[str]
    answer: int | list[int]
    true_answer: int | list[int]
    corrupted: int = 0
    args: tuple = ()

    @property
    def answer_line(self) -> str:
        return format_answer(self.answer)

    @property
    def completion(self) -> str:
        """The text the model is trained to produce: the steps, then the answer alone on the last line."""
        return "\n".join([*self.lines, self.answer_line])


def format_answer(answer: int | list[int]) -> str:
    return fmt_list(answer) if isinstance(answer, list) else fmt(int(answer))


def _plain(result) -> int | list[int]:
    return [int(v) for v in result] if isinstance(result, list | tuple) else int(result)


def trace_function(
    fn: Callable,
    *args,
    prompt: str | Callable[..., str] | None = None,
    dynamic_noise: float = 0.0,
    seed: int | None = None,
    visibility: dict | None = None,
    inner_visibility: dict | None = None,
    max_lines: int = 10_000,
    semantics: str = "clean",
) -> Trace:
    """Run ``fn`` on TInt arguments (ints and lists of ints are wrapped) and return its trace.

    ``prompt``: a string, or a function of the arguments (called on them as the computation receives them). The
    true answer comes from running ``fn`` again without noise and without recording. ``semantics``: ``clean`` or
    ``reference`` dynamic noise (``rlnoise.tint.trace``); the reference corrupts the operands as well.
    """

    def wrap(a):
        return [TInt(v) for v in a] if isinstance(a, list | tuple) else TInt(a)

    tracer = Tracer(visibility, dynamic_noise, seed, max_lines, inner_visibility, semantics=semantics)
    if tracer.reference and tracer.p:
        args = tuple([tracer.value(v) for v in a] if isinstance(a, list | tuple) else tracer.value(a) for a in args)
        tracer.corrupted = 0  # a corrupted operand changes the problem, not its trace
    with tracing(tracer):
        answer = _plain(fn(*map(wrap, args)))
    true_answer = answer if tracer.corrupted == 0 else _plain(fn(*map(wrap, args)))
    if callable(prompt):
        prompt = prompt(*args)
    elif prompt is None:
        prompt = (
            f"{getattr(fn, '__name__', 'f')}("
            + ", ".join(fmt_list(a) if isinstance(a, list | tuple) else fmt(a) for a in args)
            + ")"
        )
    return Trace(prompt, tracer.lines, answer, true_answer, tracer.corrupted, args)


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _two_numbers(rng, lo, hi):
    return _number(rng, rng.randint(lo, hi)), _number(rng, rng.randint(lo, hi))


def _dividend_divisor(rng, lo, hi):
    digits = rng.randint(lo, hi)
    divisor = _number(rng, rng.randint(1, max(1, digits // 2)))
    return _number(rng, digits), max(divisor, 1)


def _number_list(rng, lo, hi, lengths=(3, 4, 5)):
    return ([_number(rng, rng.randint(lo, hi)) for _ in range(rng.choice(lengths))],)


def _gcd_pair(rng, lo, hi):
    """Two numbers sharing a random factor of about half their digits, so answers are rarely 1."""
    digits = rng.randint(lo, hi)
    factor = _number(rng, max(1, (digits + 1) // 2))
    factor = max(factor, 1)
    top = max(1, (10**digits - 1) // factor)
    return ([factor * rng.randint(1, top), factor * rng.randint(1, top)],)


@dataclass(frozen=True)
class TaskSpec:
    """A task: the traced function, its prompt, how to sample arguments and how its operations are shown."""

    fn: Callable
    prompt: Callable[..., str]
    sample: Callable[[random.Random, int, int], tuple]
    visibility: dict = field(default_factory=dict)


def _binary(symbol):
    return lambda a, b: f"{fmt(a)} {symbol} {fmt(b)}"


def _listed(name):
    return lambda xs: f"{name} {fmt_list(xs)}"


TASKS: dict[str, TaskSpec] = {
    "add": TaskSpec(lambda a, b: a + b, _binary("+"), _two_numbers),
    "sub": TaskSpec(lambda a, b: a - b, _binary("-"), _two_numbers),
    "mul": TaskSpec(lambda a, b: a * b, _binary("*"), _two_numbers),
    "div": TaskSpec(lambda a, b: a // b, _binary("//"), _dividend_divisor),
    "mod": TaskSpec(lambda a, b: a % b, _binary("%"), _dividend_divisor),
    "sum": TaskSpec(tint.sum_, _listed("sum"), _number_list),
    "sort": TaskSpec(tint.sort, _listed("sort"), _number_list, {"compare": "call"}),
    "median": TaskSpec(
        tint.median, _listed("median"), lambda rng, lo, hi: _number_list(rng, lo, hi, (3, 5)), {"compare": "call"}
    ),
    "gcd": TaskSpec(tint.gcd, _listed("gcd"), _gcd_pair, {"divmod": "call"}),
}


def task_spec(task: str) -> TaskSpec:
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    return TASKS[task]


def check_digits(min_digits, max_digits) -> None:
    for name, value in (("min_digits", min_digits), ("max_digits", max_digits)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if min_digits > max_digits:
        raise ValueError(f"min_digits ({min_digits}) must be <= max_digits ({max_digits})")


def sample_args(task: str, rng: random.Random, min_digits: int, max_digits: int) -> tuple:
    """Random arguments for ``task`` whose numbers have between ``min_digits`` and ``max_digits`` digits."""
    check_digits(min_digits, max_digits)
    return task_spec(task).sample(rng, min_digits, max_digits)


def run_task(
    task: str,
    args,
    *,
    dynamic_noise: float = 0.0,
    seed: int | None = None,
    visibility: dict | None = None,
    semantics: str = "clean",
) -> Trace:
    """Trace ``task`` on ``args`` (a tuple of ints, or of one list for list tasks).

    Args:
        task: a name in ``TASKS`` (add, sub, mul, div, mod, sum, sort, median, gcd).
        args: the task's arguments, e.g. ``(5284, 397)`` or ``([52, 3, 17],)``.
        dynamic_noise: per-digit corruption probability of each new value written during the computation.
        seed: seed of the dynamic noise.
        visibility: per-operation visibility overrides (on top of the task's own).
        semantics: ``clean`` or ``reference`` dynamic noise (see ``rlnoise.tint.trace``).

    Returns:
        A ``Trace``; without noise ``.answer == .true_answer``.
    """
    spec = task_spec(task)
    args = _normalise_args(task, args)
    return trace_function(
        spec.fn,
        *args,
        prompt=spec.prompt,
        dynamic_noise=dynamic_noise,
        seed=seed,
        visibility={**spec.visibility, **(visibility or {})},
        semantics=semantics,
    )


_LIST_TASKS = ("sum", "sort", "median", "gcd")


def _is_int(value) -> bool:
    """An int or numpy integer, not a bool (``True + True`` would be traced as ``1 + 1``)."""
    if type(value) is int:  # checked first: the ABC check below is slow
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _normalise_args(task: str, args) -> tuple:
    """``(a, b)`` for arithmetic tasks; ``([x, ...],)`` for list tasks (a flat list is accepted too)."""
    given = args
    if task in _LIST_TASKS:
        if isinstance(args, list | tuple) and len(args) == 1 and isinstance(args[0], list | tuple):
            args = args[0]
        if not isinstance(args, list | tuple) or len(args) == 0 or not all(map(_is_int, args)):
            raise ValueError(
                f"args: task {task!r} takes one non-empty list of ints (not bools), e.g. ([52, 3, 17],), got {given!r}"
            )
        return ([int(v) for v in args],)
    if not isinstance(args, list | tuple) or len(args) != 2 or not all(map(_is_int, args)):
        raise ValueError(f"args: task {task!r} takes two ints (not bools), e.g. (5284, 397), got {given!r}")
    if task in ("div", "mod") and args[1] == 0:
        raise ValueError(f"args: task {task!r}: the divisor must not be 0, got {given!r}")
    return int(args[0]), int(args[1])
