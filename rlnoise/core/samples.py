"""``samples.md``: a run's samples (``samples.jsonl``) as a page a person reads without a script.

Each sample becomes a section: its short fields in the heading, its long texts (prompts, responses) as quotes, and
lists of records (e.g. each selector's best-of-n picks) as tables.
"""

from __future__ import annotations

import math
from typing import Any

LONG = 80  # strings longer than this are quoted on their own line rather than put in a heading or table cell
CELL = 240  # table cells are cut to this many characters
LEADING = ("n", "step")  # table columns shown first


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.3f}" for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_number(v)}" for k, v in value.items())
    return str(value)


def _cell(value: Any) -> str:
    text = " ".join(_number(value).split()).replace("|", "\\|")
    return text if len(text) <= CELL else text[: CELL - 3] + "..."


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.strip().splitlines()) or "> (empty)"


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(rows: list[dict], first: str | None = None) -> list[str]:
    """Markdown table of flat records; ``first`` names an extra leading column taken from ``row["_group"]``."""
    columns = list(dict.fromkeys(k for row in rows for k in row if k != "_group"))
    texts = {c for c in columns if any(isinstance(row.get(c), str) for row in rows)}
    columns.sort(key=lambda c: (c in texts, c not in LEADING))  # counts first, numbers, then texts (stable)
    head = ([first] if first else []) + columns
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = ([_cell(row["_group"])] if first else []) + [_cell(row.get(c, "")) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def samples_markdown(samples: list[dict], title: str = "Samples") -> str:
    """Render samples (dicts as written to ``samples.jsonl``) as markdown."""
    out = [f"# {title}", ""]
    for i, sample in enumerate(samples, 1):
        short = {k: v for k, v in sample.items() if not isinstance(v, dict | list) or _is_number_list(v)}
        short = {k: v for k, v in short.items() if not (isinstance(v, str) and len(v) > LONG)}
        heading = ", ".join(f"{k} {_number(v)}" for k, v in short.items())
        out += [f"## {i}. {heading}".rstrip(", ").rstrip(), ""]
        rest = sorted((k for k in sample if k not in short), key=lambda k: not isinstance(sample[k], str))
        for key in rest:  # texts (the prompt) before tables of records
            value = sample[key]
            if isinstance(value, str):
                out += [f"**{key}**", "", _quote(value), ""]
            elif _is_records(value):
                out += [f"**{key}**", "", *_table(value), ""]
            elif isinstance(value, dict) and all(_is_records(v) for v in value.values()):
                rows = [dict(r, _group=group) for group, records in value.items() for r in records]
                out += [f"**{key}**", "", *_table(rows, first="name"), ""]
            else:
                out += [f"**{key}**: {_cell(value)}", ""]
    return "\n".join(out).rstrip() + "\n"


def _is_number_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
