"""Helpers shared by tests."""

import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BON = ("recipes/overoptimization/bon.py", "recipes/overoptimization/configs/bon_tiny.yaml")
RM = ("recipes/overoptimization/train_rms.py", "recipes/overoptimization/configs/rm_tiny.yaml")


# float32's unit roundoff: a rounded sum or product is within a relative 2^-24 of the exact one
FLOAT32_UNIT_ROUNDOFF = 2.0**-24


def reorder_tolerance(reference, terms: int, layers: int = 1) -> float:
    """How far two float32 evaluations of ``reference`` may lie apart when only their summation order differs (other
    batch shapes or padding, another kernel, CPU or thread count), derived rather than fitted.

    Higham's bound for a dot product of ``terms`` products is n u sum |x_i y_i| (u the unit roundoff), whatever the
    order; each of ``layers`` matrix products in sequence adds such an error. The scale of sum |x_i y_i| is taken as
    the largest magnitude in ``reference``, at least 1 (the activations of the normalised networks used here).
    """
    import torch

    scale = max(1.0, float(torch.as_tensor(reference).abs().max()))
    return layers * terms * FLOAT32_UNIT_ROUNDOFF * scale


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
    """Run a recipe from the repository root as a user would (``python script --config ...``).

    Plain runs execute in this process (``runpy``, as ``__main__``), which saves the ~10 s interpreter and torch
    start-up per call; a ``launcher`` (e.g. ``accelerate launch``) or a custom ``env`` runs a real subprocess.
    Returns a ``subprocess.CompletedProcess`` either way (exit code, captured stdout and stderr).
    """
    args = [script, "--config", config, "--output_root", str(output_root), *extra]
    if launcher is not None or env is not None:
        env = dict(env or os.environ, PYTHONPATH=str(ROOT))
        return subprocess.run(
            [*(launcher or [sys.executable]), *args], cwd=ROOT, capture_output=True, text=True, env=env
        )
    return run_script(*args)


def run_script(*args: str) -> subprocess.CompletedProcess:
    """Run ``python *args`` from the repository root in this process; exit code and captured output."""
    import contextlib
    import io
    import runpy
    import traceback

    out, err, code = io.StringIO(), io.StringIO(), 0
    argv, cwd = sys.argv, os.getcwd()
    try:
        sys.argv = list(args)
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(args[0], run_name="__main__")
            except SystemExit as stop:
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
                code = stop.code if isinstance(stop.code, int) else 1
            except Exception:  # what a user would see as a traceback and exit code 1
                traceback.print_exc()
                code = 1
    finally:
        from rlnoise.core.tracking import stop_tracking

        stop_tracking()  # a run that stopped early must not send later tests' trainers to its tracker
        sys.argv = argv
        os.chdir(cwd)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
