"""Rebuild a run's figures from its ``results.json`` alone: ``python -m rlnoise.plotting RUN_DIR [RUN_DIR ...]``."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

# recipe (results.json "recipe") -> "module:function" that draws its figures; imported only when used
PLOTTERS = {
    "train_rms": "rlnoise.overoptimization.plots:plot_rm_accuracy",
    "bon": "rlnoise.overoptimization.plots:plot_bon",
    "rl": "rlnoise.overoptimization.plots:plot_rl",
    "dpo": "rlnoise.overoptimization.plots:plot_rl",  # the same curves: gold and the implicit reward vs sqrt(KL)
    "tint": "rlnoise.tint.plots:plot_tint",
    "elicitation": "rlnoise.elicitation.plots:plot_elicitation",
    "nmtune": "rlnoise.adapters.plots:plot_nmtune",
}


def _results(run_dir: Path) -> dict:
    path = run_dir / "results.json"
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such folder (pass a run folder such as runs/overoptimization/bon_quick)")
    if not path.is_file():
        raise ValueError(f"{run_dir} has no results.json: the run has not finished (or this is not a run folder)")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None
    if results.get("recipe") not in PLOTTERS:
        raise ValueError(f"{path}: recipe {results.get('recipe')!r} has no plotter; known: {sorted(PLOTTERS)}")
    return results


def replot(run_dir: str | Path) -> list[Path]:
    """Rebuild every figure of a run from its ``results.json``; returns the files written."""
    run_dir = Path(run_dir)
    results = _results(run_dir)
    module, function = PLOTTERS[results["recipe"]].split(":")
    return getattr(importlib.import_module(module), function)(results, run_dir)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rlnoise.plotting",
        description="Redraw the figures (PNG and SVG) of finished runs from their results.json, without rerunning "
        "anything. Use it after changing a plot, or on results copied from another machine.",
        epilog="example: python -m rlnoise.plotting runs/overoptimization/bon_quick runs/tint/tint_quick",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s) holding results.json")
    args = parser.parse_args(argv)
    for run_dir in args.runs:
        try:
            paths = replot(run_dir)
        except ValueError as err:
            parser.exit(2, f"error: {err}\n")
        for path in paths:
            print(path)


if __name__ == "__main__":
    main()
