"""Rebuild a run's figures from its ``results.json`` alone: ``python -m rlnoise.plotting RUN_DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rlnoise.adapters.plots import plot_nmtune
from rlnoise.elicitation.plots import plot_elicitation
from rlnoise.overoptimization.plots import plot_bon, plot_rl, plot_rm_accuracy
from rlnoise.tint.plots import plot_tint

PLOTTERS = {
    "train_rms": plot_rm_accuracy,
    "bon": plot_bon,
    "rl": plot_rl,
    "tint": plot_tint,
    "elicitation": plot_elicitation,
    "nmtune": plot_nmtune,
}


def replot(run_dir: str | Path) -> list[Path]:
    """Rebuild every figure of a run from its ``results.json``."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    return PLOTTERS[results["recipe"]](results, run_dir)


if __name__ == "__main__":
    for path in replot(sys.argv[1]):
        print(path)
