"""Reading traces back: parse the answer line and check whether each step is arithmetically consistent.

A step is consistent when its equation, relation or call holds for the numbers written on that line, whatever the
earlier lines said (so under dynamic noise only the corrupted steps fail, not the ones that propagate an error).
List-state lines (``[3, 1 7]``) state no arithmetic and are not counted.
"""

from __future__ import annotations

import re

from rlnoise.tint.trace import parse_number

CALLS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a // b if b else None,
    "mod": lambda a, b: a % b if b else None,
    "divmod": lambda a, b: list(divmod(a, b)) if b else None,
    "compare": lambda a, b: (a > b) - (a < b),
}
_CALL = re.compile(r"^call\((\w+), (.+)\) = (.+)$")
_RELATION = re.compile(r"^(.+?) (=|<|>) (.+)$")
_OPERATORS = {"+", "-", "*", "//", "%"}


def parse_answer(line: str) -> int | list[int] | None:
    """The int or list of ints on an answer line, or None if the line is not one."""
    line = line.strip()
    try:
        if line.startswith("[") and line.endswith("]"):
            inner = line[1:-1].strip()
            return [parse_number(part) for part in inner.split(",")] if inner else []
        return parse_number(line)
    except ValueError:
        return None


def evaluate_expression(text: str) -> int | None:
    """Value of a trace-format expression (``1 4 - 7 - 1``), or None if it is not one."""
    out: list[str] = []
    digits: list[str] = []
    expect_operand = True
    for token in text.split(" "):
        if token.isdigit() and len(token) == 1:
            digits.append(token)
            expect_operand = False
            continue
        if digits:
            out.append(str(int("".join(digits))))  # a model may write leading zeros; Python literals may not
            digits = []
        if token == "-" and expect_operand:
            out.append("-")  # unary minus
        elif token in _OPERATORS and not expect_operand:
            out.append(token)
            expect_operand = True
        else:
            return None
    if digits:
        out.append(str(int("".join(digits))))
    if expect_operand:
        return None
    try:  # only ints and + - * // % reach eval, by construction above
        return int(eval(" ".join(out), {"__builtins__": {}}))  # noqa: S307
    except ZeroDivisionError:
        return None


def step_consistent(line: str) -> bool | None:
    """True/False for an equation, relation or call line; None for lines that state no arithmetic."""
    line = line.strip()
    call = _CALL.match(line)
    if call:
        name, args, result = call.groups()
        fn = CALLS.get(name)
        try:
            values = [parse_number(a) for a in args.split(", ")]
        except ValueError:
            return False
        expected = fn(*values) if fn is not None and len(values) == 2 else None
        return expected is not None and parse_answer(result) == expected
    relation = _RELATION.match(line)
    if relation is None:
        return None
    left, op, right = relation.groups()
    lhs, rhs = evaluate_expression(left), evaluate_expression(right)
    if lhs is None or rhs is None:
        return False
    return {"=": lhs == rhs, "<": lhs < rhs, ">": lhs > rhs}[op]


def step_accuracy(completion: str) -> tuple[int, int]:
    """(consistent steps, checkable steps) over all lines but the last (the answer)."""
    good = total = 0
    for line in completion.strip().split("\n")[:-1]:
        verdict = step_consistent(line)
        if verdict is not None:
            total += 1
            good += verdict
    return good, total
