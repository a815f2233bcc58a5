"""Proxy reward-model ensembles under label noise: the first half of the overoptimization pipeline.

gold reward -> policy samples two responses per prompt -> gold labels -> noise -> K proxy reward models ->
held-out accuracy of each member and each conservative objective, on noisy and on true labels.

    python recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
    accelerate launch recipes/overoptimization/train_rms.py --config recipes/overoptimization/configs/rm_quick.yaml
"""

from __future__ import annotations

from rlnoise.core.config import parse_config
from rlnoise.core.generation import SamplingConfig
from rlnoise.overoptimization.config import RMStudyConfig
from rlnoise.overoptimization.ensemble import EnsembleConfig
from rlnoise.overoptimization.gold import GoldConfig
from rlnoise.overoptimization.rm_study import run_rm_study


def main():
    run_rm_study(*parse_config(RMStudyConfig, SamplingConfig, GoldConfig, EnsembleConfig))


if __name__ == "__main__":
    main()
