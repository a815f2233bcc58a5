"""Black-box adapters for noisily pre-trained LMs (NMTune, Chen et al. 2024): light heads on frozen features.

ID/OOD task pairs -> frozen features (cached) -> linear probe, MLP, residual MLP, NMTune and an FGS-style variant,
per seed (optionally with noisy downstream labels) -> ID and OOD accuracy, SVE / LSVR of the features before and
after each adapter; plus the simulation (encoders pre-trained with 0-30% label noise) -> cells.jsonl (finished rows
are skipped on rerun), results.json, results.md, nmtune.png.

    python recipes/nmtune/tune.py --config recipes/nmtune/configs/quick.yaml
    python recipes/nmtune/tune.py --config recipes/nmtune/configs/quick.yaml --label_noise symmetric:p=0.2
"""

from __future__ import annotations

from pathlib import Path

from rlnoise.adapters.config import AdapterConfig, NMTuneStudyConfig
from rlnoise.core.cli import parse_config, run_main

PRESETS = sorted(Path(__file__).parent.glob("configs/*.yaml"))


def main():
    study, adapter = parse_config(NMTuneStudyConfig, AdapterConfig, doc=__doc__, presets=PRESETS)
    from rlnoise.adapters.study import run_nmtune_study  # after parsing: --help never loads torch
    from rlnoise.core.distributed import process_state

    if process_state().num_processes > 1:
        raise SystemExit("recipes/nmtune/tune.py trains small heads in one process; launch it without --num_processes")
    run_nmtune_study(study, adapter)


if __name__ == "__main__":
    run_main(main)
