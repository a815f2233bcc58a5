"""The trace recorder that traced integers write into, and the trace's text format.

A trace is a list of lines, one step each. Numbers are written digit by digit, separated by spaces (``5 2 8 4``,
negatives ``- 1 2``); lists as ``[5 2, 3, 1 7]``. Three kinds of step line exist:

- equations ``4 + 7 + 1 = 1 2`` (operators ``+ - * // %``, Python precedence),
- relations ``5 = 5``, ``2 < 3``,
- calls ``call(mul, 7, 1 2) = 8 4`` (an operation shown as one line; see ``check.CALLS``).

The final answer stands alone on the last line. Each operation has a ``Visibility``: ``full`` writes its digit-level
steps, ``call`` one ``call(...)`` line, ``invisible`` nothing. Under dynamic noise every new value written in the
trace has each of its digits replaced, with probability ``p``, by a different digit before it is written and used,
so an error propagates into every later step that reads it. ``semantics="reference"`` reproduces
Dahoas/transformer_arithmetic's dynamic noise instead: every integer the computation constructs (operands, operand
digits, carries, assembled results, step results) is corrupted, each digit of a nonzero value replaced with
probability ``p`` by a draw from 0-8 (9 is never drawn; the draw may equal the digit).

The recorder is explicit (operations call ``emit``), not ``sys.settrace``: that is what makes generation fast.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from enum import Enum

SEMANTICS = ("clean", "reference")  # dynamic noise: rlnoise's, or Dahoas/transformer_arithmetic's


class Visibility(str, Enum):
    INVISIBLE = "invisible"
    FULL = "full"
    CALL = "call"


OPERATIONS = ("add", "sub", "mul", "divmod", "compare")
DEFAULT_VISIBILITY = dict.fromkeys(OPERATIONS, Visibility.FULL)
# An operation used inside another one's full trace (the additions of a multiplication, the products of a long
# division) is one call line unless configured otherwise, which keeps composite traces readable and short.
DEFAULT_INNER_VISIBILITY = dict.fromkeys(OPERATIONS, Visibility.CALL)


class StepLimitReached(RuntimeError):
    """Raised when a trace exceeds its step cap (only dynamic noise can make a computation run away)."""


_SMALL = {n: " ".join(str(n)) for n in range(100)}  # column steps write mostly one- and two-digit numbers


def fmt(n: int) -> str:
    """An integer in trace format: digits separated by spaces, ``- `` before negatives."""
    small = _SMALL.get(n)
    if small is not None:
        return small
    return ("- " + " ".join(str(-n))) if n < 0 else " ".join(str(n))


def fmt_list(values) -> str:
    return "[" + ", ".join(fmt(int(v)) for v in values) + "]"


def parse_number(text: str) -> int:
    """The integer a trace-format number denotes (``- 1 2`` -> -12); ValueError if it is not one."""
    compact = text.replace(" ", "")
    if not compact or not (compact.isdigit() or (compact[0] == "-" and compact[1:].isdigit())):
        raise ValueError(f"not a trace-format number: {text!r}")
    return int(compact)


class Tracer:
    """Collects the lines of one trace and applies dynamic noise to the values written in it.

    Args:
        visibility: per-operation ``Visibility`` (names in ``OPERATIONS``) of top-level operations, on top of
            ``DEFAULT_VISIBILITY``.
        inner_visibility: the same for operations used inside another operation's full trace, on top of
            ``DEFAULT_INNER_VISIBILITY``.
        dynamic_noise: per-digit probability of corrupting each new value written in the trace.
        seed: seed of the noise generator.
        max_lines: step cap; a computation that writes more lines raises ``StepLimitReached``.
        record: keep the lines (False for the silent tracer used outside ``tracing``).
    """

    def __init__(
        self,
        visibility: dict | None = None,
        dynamic_noise: float = 0.0,
        seed: int | None = None,
        max_lines: int = 10_000,
        inner_visibility: dict | None = None,
        record: bool = True,
        semantics: str = "clean",
    ):
        self.levels = [
            _visibility_map("visibility", DEFAULT_VISIBILITY, visibility),
            _visibility_map("inner_visibility", DEFAULT_INNER_VISIBILITY, inner_visibility),
        ]
        if not 0.0 <= dynamic_noise <= 1.0:
            raise ValueError(f"dynamic_noise must be a probability in [0, 1], got {dynamic_noise!r}")
        if semantics not in SEMANTICS:
            raise ValueError(f"noise_semantics must be one of {list(SEMANTICS)}, got {semantics!r}")
        self.p = float(dynamic_noise)
        self.reference = semantics == "reference"
        self.rng = random.Random(seed) if self.p > 0 else None  # seeding costs more than a clean trace
        self.max_lines = max_lines
        self.record = record
        self.lines: list[str] = []
        self.corrupted = 0  # how many written values dynamic noise changed
        self.depth = 0  # nesting depth of full-trace operations

    def emit(self, line: str) -> None:
        if not self.record:
            return
        if len(self.lines) >= self.max_lines:
            raise StepLimitReached(f"trace exceeded max_lines={self.max_lines}")
        self.lines.append(line)

    def emit_all(self, lines: list[str]) -> None:
        if not self.record:
            return
        if len(self.lines) + len(lines) > self.max_lines:
            raise StepLimitReached(f"trace exceeded max_lines={self.max_lines}")
        self.lines += lines

    def value(self, n: int) -> int:
        """A new value about to be written in the trace: under dynamic noise, each digit may be corrupted (clean
        semantics: to one of the nine other digits; reference: to a draw from 0-8, which may be the same digit,
        and zero is never corrupted)."""
        if self.p == 0.0 or (self.reference and n == 0):
            return n
        digits = str(abs(n))
        rng, p = self.rng, self.p
        if self.reference:
            out = [str(rng.randrange(9)) if rng.random() < p else d for d in digits]
        else:
            out = [str((int(d) + rng.randrange(1, 10)) % 10) if rng.random() < p else d for d in digits]
        corrupted = int("".join(out))
        if corrupted != abs(n):
            self.corrupted += 1
        return -corrupted if n < 0 else corrupted

    def rebuilt(self, n: int) -> int:
        """A value the computation constructs without writing it as a step result (an operand digit, a carry, an
        assembled result): the reference corrupts every constructed integer, so it passes through ``value`` there;
        clean semantics corrupt only step results, so it is returned as is."""
        return self.value(n) if self.reference else n

    def visibility(self, op: str) -> Visibility:
        """How ``op`` is shown at the current nesting depth."""
        return self.levels[min(self.depth, 1)][op]


def _visibility_map(field: str, default: dict, overrides: dict | None) -> dict:
    if not overrides:
        return default  # read-only: tracers share the defaults rather than copying them
    out = dict(default)
    for name, vis in (overrides or {}).items():
        if name not in OPERATIONS:
            raise ValueError(f"{field}: unknown operation {name!r}; allowed: {list(OPERATIONS)}")
        try:
            out[name] = Visibility(vis)
        except ValueError:
            allowed = [v.value for v in Visibility]
            raise ValueError(f"{field}[{name!r}] must be one of {allowed}, got {vis!r}") from None
    return out


_current: ContextVar[Tracer | None] = ContextVar("rlnoise_tint_tracer", default=None)


_SILENT = Tracer(dict.fromkeys(OPERATIONS, Visibility.INVISIBLE), record=False)


def current_tracer() -> Tracer:
    """The tracer traced integers write into (a silent one outside ``tracing``)."""
    return _current.get() or _SILENT


class tracing:
    """Context manager that makes ``tracer`` the one traced integers write into."""

    def __init__(self, tracer: Tracer):
        self.tracer = tracer

    def __enter__(self) -> Tracer:
        self._token = _current.set(self.tracer)
        return self.tracer

    def __exit__(self, *exc) -> None:
        _current.reset(self._token)
