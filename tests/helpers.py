"""Helpers shared by tests."""

import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def assert_same(a, b, tol: float = 0.0, path: str = "") -> None:
    """Deep equality of JSON-like values; floats within ``tol`` (absolute), NaN equal to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_same(a[key], b[key], tol, f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, tol, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= tol
        assert same, f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def without(d: dict, *keys: str) -> dict:
    """``d`` without ``keys`` at any depth (e.g. wall-clock timings)."""
    if isinstance(d, dict):
        return {k: without(v, *keys) for k, v in d.items() if k not in keys}
    if isinstance(d, list):
        return [without(v, *keys) for v in d]
    return d


def run_recipe(script: str, config: str, output_root, *extra: str, launcher: list[str] | None = None, env=None):
    """Run a recipe in a subprocess from the repository root; returns the CompletedProcess."""
    env = dict(env or os.environ, PYTHONPATH=str(ROOT))
    cmd = [*(launcher or [sys.executable]), script, "--config", config, "--output_root", str(output_root), *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
