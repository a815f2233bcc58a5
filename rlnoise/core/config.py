"""Config helpers: validation messages, YAML + CLI parsing (trl.TrlParser) and config serialisation."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any


def check_probability(field: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1] or raise a ``ValueError`` naming the field."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{field} must be a probability in [0, 1], got {value!r}")
    return float(value)


def check_positive(field: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> Any:
    """Return ``value`` if it is a (non-negative when ``allow_zero``) positive number, else raise ``ValueError``."""
    kind = int if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{field} must be {what} {bound}, got {value!r}")
    return value


def check_choice(field: str, value: Any, allowed) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing the choices."""
    if value not in allowed:
        raise ValueError(f"{field} must be one of {sorted(allowed)}, got {value!r}")
    return value


_ITEM_TYPES = {"float": (numbers.Real, "numbers"), "int": (int, "integers"), "str": (str, "strings")}


def check_lists(config: Any, allow_empty: tuple[str, ...] = ()) -> None:
    """Check every ``list[...]`` field of a dataclass: a list (not a scalar, e.g. ``noise: coste`` in YAML), not
    empty (unless named in ``allow_empty``), and holding items of the declared type (never bools)."""
    for f in dataclasses.fields(config):
        kind = str(f.type).replace(" ", "")
        if not kind.startswith("list["):
            continue
        value = getattr(config, f.name)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{f.name} must be a list (YAML: [a, b] or one '- item' per line), got {value!r}")
        if not value and f.name not in allow_empty:
            raise ValueError(f"{f.name} must list at least one value, got []")
        item = _ITEM_TYPES.get(kind[5:-1])
        if item is None:
            continue
        for v in value:
            if isinstance(v, bool) or not isinstance(v, item[0]):
                raise ValueError(f"{f.name} must hold {item[1]}, got {v!r} in {list(value)!r}")


def to_dict(config: Any) -> dict:
    """A dataclass (or a tuple of them) as a plain JSON/YAML-friendly dict."""
    if isinstance(config, tuple | list):
        out: dict = {}
        for part in config:
            out.update(to_dict(part))
        return out
    return dataclasses.asdict(config)


def parse_config(*dataclass_types):
    """Parse ``--config file.yaml`` plus CLI overrides into the given dataclasses, as trl's example scripts do.

    Returns:
        One instance per dataclass type (a single instance when one type is given).
    """
    from trl import TrlParser

    parser = TrlParser(dataclass_types)
    parsed = parser.parse_args_and_config()
    return parsed[0] if len(dataclass_types) == 1 else tuple(parsed)
