"""What a run prints: numbered stages with timings, progress that suits the terminal, and quiet libraries.

Library warnings known to be harmless here and trainers' per-step log dicts are hidden unless ``--verbose``
(:func:`set_verbose`); real errors always show.
"""

from __future__ import annotations

_verbose = False


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = bool(on)


def verbose() -> bool:
    return _verbose
