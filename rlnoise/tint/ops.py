"""Digit-level arithmetic that writes its own trace: add with carry, subtract with borrow, grade-school multiply,
long division / modulo, comparison. Each function takes the ``Tracer`` and plain ints and returns plain ints;
``TInt`` (in ``tint.py``) puts operators on top of them.

Full traces (``a``, ``b`` non-negative unless stated; signs are handled by reduction to magnitudes):

    add       one line per column, ``x + y + carry = v``; carry and digit come from ``v``
    sub       a comparison call, then one line per column, ``x - y - borrow = v`` (``1 x - ...`` when borrowing)
    mul       per digit of b: ``x * d + carry = v`` per digit of a and the partial product ``a * d = p``;
              partial products accumulate through (inner) additions
    divmod    per digit of a: ``cur // b = q``, then (inner) ``q * b`` and ``cur - q * b``; quotient and remainder
    compare   digit pairs from the most significant one until they differ, then ``a < b`` / ``a = b`` / ``a > b``

Every full operation ends with a summary equation (``a + b = r``). Values a step computes pass through
``Tracer.value`` (dynamic noise) before they are written and used.
"""

from __future__ import annotations

from rlnoise.tint.trace import Tracer, Visibility, fmt

FULL, CALL, INVISIBLE = Visibility.FULL, Visibility.CALL, Visibility.INVISIBLE


def _assemble(digits: list[int], carry: int) -> int:
    """Digits (least significant first) plus a final carry as an int."""
    text = "".join(str(d) for d in reversed(digits))
    return int(str(carry) + text) if carry else int(text)


def _call(t: Tracer, name: str, a: int, b: int, result: int) -> int:
    result = t.value(result)
    t.emit(f"call({name}, {fmt(a)}, {fmt(b)}) = {fmt(result)}")
    return result


class _inner:
    """Operations run inside a full trace are one level deeper (they use the inner visibility)."""

    __slots__ = ("t",)

    def __init__(self, t: Tracer):
        self.t = t

    def __enter__(self):
        self.t.depth += 1

    def __exit__(self, *exc):
        self.t.depth -= 1


# Noise-free column steps are looked up rather than formatted: (x digit, y digit, carry) -> (step line, digit,
# carry). Formatting each column was most of the time of generating an addition trace (bench/bench_tint.py).
_ADD_COLUMNS = {
    (dx, dy, carry): (f"{dx} + {dy} + {carry} = {fmt(v)}", str(v % 10), v // 10)
    for dx in "0123456789"
    for dy in "0123456789"
    for carry in (0, 1)
    for v in (int(dx) + int(dy) + carry,)
}


def _columns_add(t: Tracer, x: int, y: int) -> int:
    if t.p == 0.0:
        return _columns_add_clean(t, x, y)
    xs, ys = str(x)[::-1], str(y)[::-1]
    nx, ny = len(xs), len(ys)
    carry, digits = 0, []
    for i in range(max(nx, ny)):
        dx = t.rebuilt(int(xs[i])) if i < nx else 0
        dy = t.rebuilt(int(ys[i])) if i < ny else 0
        v = t.value(dx + dy + carry)
        t.emit(f"{fmt(dx)} + {fmt(dy)} + {fmt(carry)} = {fmt(v)}")
        digits.append(t.rebuilt(v % 10))
        carry = t.rebuilt(v // 10)
    return t.rebuilt(_assemble(digits, carry))


def _columns_add_clean(t: Tracer, x: int, y: int) -> int:
    """``_columns_add`` without dynamic noise: the same lines, from ``_ADD_COLUMNS``."""
    sx, sy = str(x), str(y)
    width = max(len(sx), len(sy))
    carry, lines, digits = 0, [], []
    for dx, dy in zip(reversed(sx.zfill(width)), reversed(sy.zfill(width))):
        line, digit, carry = _ADD_COLUMNS[dx, dy, carry]
        lines.append(line)
        digits.append(digit)
    t.emit_all(lines)
    text = "".join(reversed(digits))
    return int("1" + text if carry else text)


def _columns_sub(t: Tracer, x: int, y: int) -> int:
    """x - y for x >= y >= 0, column by column with borrow."""
    xs, ys = str(x)[::-1], str(y)[::-1]
    ny = len(ys)
    borrow, digits = 0, []
    for i, x_digit in enumerate(xs):
        dx = t.rebuilt(int(x_digit))
        dy = t.rebuilt(int(ys[i])) if i < ny else 0
        need = dx - dy - borrow
        if need < 0:
            v = t.value(need + 10)
            t.emit(f"1 {fmt(dx)} - {fmt(dy)} - {borrow} = {fmt(v)}")
            borrow = 1
        else:
            v = t.value(need)
            t.emit(f"{fmt(dx)} - {fmt(dy)} - {borrow} = {fmt(v)}")
            borrow = 0
        digits.append(t.rebuilt(v % 10))
    return t.rebuilt(_assemble(digits, 0))


def _signed_add(t: Tracer, a: int, b: int) -> int:
    if a >= 0 and b >= 0:
        return _columns_add(t, a, b)
    if a < 0 and b < 0:
        return -_columns_add(t, -a, -b)
    x, y = (a, -b) if b < 0 else (b, -a)  # x - y with x, y >= 0
    with _inner(t):
        order = compare(t, x, y)
    return -_columns_sub(t, y, x) if order < 0 else _columns_sub(t, x, y)


def add(t: Tracer, a: int, b: int) -> int:
    vis = t.visibility("add")
    if vis is INVISIBLE:
        return a + b
    if vis is CALL:
        return _call(t, "add", a, b, a + b)
    r = t.rebuilt(_signed_add(t, a, b))
    t.emit(f"{fmt(a)} + {fmt(b)} = {fmt(r)}")
    return r


def sub(t: Tracer, a: int, b: int) -> int:
    vis = t.visibility("sub")
    if vis is INVISIBLE:
        return a - b
    if vis is CALL:
        return _call(t, "sub", a, b, a - b)
    r = t.rebuilt(_signed_add(t, a, -b))
    t.emit(f"{fmt(a)} - {fmt(b)} = {fmt(r)}")
    return r


def mul(t: Tracer, a: int, b: int) -> int:
    vis = t.visibility("mul")
    if vis is INVISIBLE:
        return a * b
    if vis is CALL:
        return _call(t, "mul", a, b, a * b)
    x, y = abs(a), abs(b)
    acc = 0
    for shift, dy in enumerate(reversed(str(y))):
        d = int(dy)
        if d == 0:
            partial = 0
            t.emit(f"{fmt(x)} * 0 = 0")
        else:
            carry, digits = 0, []
            for x_digit in reversed(str(x)):
                dx = t.rebuilt(int(x_digit))
                v = t.value(dx * d + carry)
                t.emit(f"{fmt(dx)} * {d} + {fmt(carry)} = {fmt(v)}")
                digits.append(t.rebuilt(v % 10))
                carry = t.rebuilt(v // 10)
            partial = t.rebuilt(_assemble(digits, carry))
            t.emit(f"{fmt(x)} * {d} = {fmt(partial)}")
        shifted = partial * 10**shift  # writing zeros after a partial product is not a computation
        if shift == 0:
            acc = shifted
        else:
            with _inner(t):
                acc = add(t, acc, shifted)
    r = t.rebuilt(-acc if (a < 0) != (b < 0) else acc)
    t.emit(f"{fmt(a)} * {fmt(b)} = {fmt(r)}")
    return r


def divmod_(t: Tracer, a: int, b: int, want: str = "divmod") -> tuple[int, int]:
    """Long division; ``want`` ('div', 'mod' or 'divmod') names the call line. Python's floor semantics."""
    if b == 0:
        raise ZeroDivisionError(f"TInt division by zero: {a} / 0")
    vis = t.visibility("divmod")
    if vis is INVISIBLE:
        return divmod(a, b)
    if vis is CALL or a < 0 or b < 0:  # long division is written for non-negative operands only
        q, r = divmod(a, b)
        if want == "div":
            return _call(t, "div", a, b, q), r
        if want == "mod":
            return q, _call(t, "mod", a, b, r)
        q, r = t.value(q), t.value(r)
        t.emit(f"call(divmod, {fmt(a)}, {fmt(b)}) = [{fmt(q)}, {fmt(r)}]")
        return q, r
    rem = q = 0
    for d in str(a):
        cur = rem * 10 + int(d)  # bring down the next digit
        qd = t.value(cur // b)
        t.emit(f"{fmt(cur)} // {fmt(b)} = {fmt(qd)}")
        if qd == 0:
            rem = cur
        else:
            with _inner(t):
                rem = sub(t, cur, mul(t, qd, b))
        q = q * 10 + qd
    t.emit(f"{fmt(a)} // {fmt(b)} = {fmt(q)}")
    t.emit(f"{fmt(a)} % {fmt(b)} = {fmt(rem)}")
    return q, rem


def compare(t: Tracer, a: int, b: int) -> int:
    """-1, 0 or 1 as a < b, a == b, a > b."""
    order = (a > b) - (a < b)
    vis = t.visibility("compare")
    if vis is INVISIBLE:
        return order
    if vis is CALL:
        t.emit(f"call(compare, {fmt(a)}, {fmt(b)}) = {fmt(order)}")
        return order
    if a >= 0 and b >= 0 and len(str(a)) == len(str(b)):
        for dx, dy in zip(str(a), str(b)):
            if dx != dy:
                t.emit(f"{dx} {'<' if dx < dy else '>'} {dy}")
                break
            t.emit(f"{dx} = {dy}")
    t.emit(f"{fmt(a)} {'<=>'[order + 1]} {fmt(b)}")
    return order
