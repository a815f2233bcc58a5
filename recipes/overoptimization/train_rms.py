"""Proxy reward-model ensembles under label noise: the first half of the overoptimization pipeline.

gold reward -> policy samples two responses per prompt -> gold labels -> noise -> K proxy reward models ->
held-out accuracy of each member and each conservative objective, on noisy and on true labels.

    python recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
    accelerate launch recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.cli import parse_config, run_main
from rlnoise.core.config import SamplingConfig
from rlnoise.overoptimization.config import EnsembleConfig, GoldConfig, RMStudyConfig

PRESETS = sorted(Path(__file__).parent.glob("configs/rm_*.yaml"))


def main():
    configs = parse_config(RMStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.overoptimization.rm_study import run_rm_study  # after parsing: --help never loads torch

    run_rm_study(*configs)


if __name__ == "__main__":
    run_main(main)
