"""``TInt``: an integer whose arithmetic writes a step-by-step trace, and traced functions on lists.

Any function written with TInt operators is traceable::

    from rlnoise.tint import TInt, trace_function

    def poly(x, y):                      # x * x + 3 * y, written as for plain ints
        return x * x + TInt(3) * y

    trace = trace_function(poly, 12, 7)  # Trace with .prompt, .lines, .answer, .completion
    print(trace.completion)

Comparisons (``<``, ``==``, ...) are traced too. ``sum_``, ``sort``, ``median`` and ``gcd`` below are written this way
and back the list tasks.
"""

from __future__ import annotations

from functools import reduce

from rlnoise.tint import ops
from rlnoise.tint.trace import current_tracer, fmt_list


class TInt:
    """An int that records its operations in the current tracer (see ``rlnoise.tint.trace.tracing``)."""

    __slots__ = ("v",)

    def __init__(self, value):
        self.v = int(value.v if isinstance(value, TInt) else value)

    def __int__(self) -> int:
        return self.v

    __index__ = __int__

    def __repr__(self) -> str:
        return f"TInt({self.v})"

    def __hash__(self) -> int:
        return hash(self.v)

    def __bool__(self) -> bool:  # truthiness is not a traced step
        return self.v != 0

    def __neg__(self) -> TInt:
        return TInt(-self.v)

    def __abs__(self) -> TInt:
        return TInt(abs(self.v))

    def __add__(self, other) -> TInt:
        return TInt(ops.add(current_tracer(), self.v, int(other)))

    def __radd__(self, other) -> TInt:
        return TInt(ops.add(current_tracer(), int(other), self.v))

    def __sub__(self, other) -> TInt:
        return TInt(ops.sub(current_tracer(), self.v, int(other)))

    def __rsub__(self, other) -> TInt:
        return TInt(ops.sub(current_tracer(), int(other), self.v))

    def __mul__(self, other) -> TInt:
        return TInt(ops.mul(current_tracer(), self.v, int(other)))

    def __rmul__(self, other) -> TInt:
        return TInt(ops.mul(current_tracer(), int(other), self.v))

    def __floordiv__(self, other) -> TInt:
        return TInt(ops.divmod_(current_tracer(), self.v, int(other), "div")[0])

    def __mod__(self, other) -> TInt:
        return TInt(ops.divmod_(current_tracer(), self.v, int(other), "mod")[1])

    def __divmod__(self, other) -> tuple[TInt, TInt]:
        q, r = ops.divmod_(current_tracer(), self.v, int(other))
        return TInt(q), TInt(r)

    def compare(self, other) -> int:
        """-1, 0 or 1 (traced)."""
        return ops.compare(current_tracer(), self.v, int(other))

    def __lt__(self, other) -> bool:
        return self.compare(other) < 0

    def __le__(self, other) -> bool:
        return self.compare(other) <= 0

    def __gt__(self, other) -> bool:
        return self.compare(other) > 0

    def __ge__(self, other) -> bool:
        return self.compare(other) >= 0

    def __eq__(self, other) -> bool:
        if not isinstance(other, TInt | int):
            return NotImplemented
        return self.compare(other) == 0

    def __ne__(self, other) -> bool:
        if not isinstance(other, TInt | int):
            return NotImplemented
        return self.compare(other) != 0


def _tints(values) -> list[TInt]:
    return [v if isinstance(v, TInt) else TInt(v) for v in values]


def sum_(values) -> TInt:
    """Left fold of traced additions."""
    values = _tints(values)
    if not values:
        raise ValueError("sum_ needs at least one value")
    return reduce(lambda a, b: a + b, values)


def sort(values) -> list[TInt]:
    """Bubble sort with traced comparisons; after each pass the list is written as one step. Under dynamic noise
    that written list is a new value: corrupted elements are what later passes sort."""
    t = current_tracer()
    xs = _tints(values)
    for end in range(len(xs) - 1, 0, -1):
        swapped = False
        for i in range(end):
            if xs[i] > xs[i + 1]:
                xs[i], xs[i + 1] = xs[i + 1], xs[i]
                swapped = True
        xs = [TInt(t.value(x.v)) for x in xs]
        t.emit(fmt_list(xs))
        if not swapped:
            break
    return xs


def median(values) -> TInt:
    """The middle of the sorted list; for an even length, the floor of the two middle values' mean."""
    xs = sort(values)
    if not xs:
        raise ValueError("median needs at least one value")
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) // 2


def gcd(values, max_steps: int | None = None) -> TInt:
    """Euclid's algorithm folded over the list (traced remainders). ``max_steps`` caps each Euclid loop (default
    5 x digits + 5, above Lame's bound) so that corrupted remainders under dynamic noise cannot loop forever."""
    xs = _tints(values)
    if not xs:
        raise ValueError("gcd needs at least one value")

    def pair(a: TInt, b: TInt) -> TInt:
        a, b = abs(a), abs(b)
        cap = max_steps if max_steps is not None else 5 * max(len(str(a.v)), len(str(b.v))) + 5
        for _ in range(cap):
            if b.v == 0:
                break
            a, b = b, a % b
        return a

    return reduce(pair, xs)
