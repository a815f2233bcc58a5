"""Black-box adapters for noisily pre-trained LMs (NMTune, Chen et al. 2024): light heads on frozen features.

ID/OOD task pairs -> frozen features (cached) -> linear probe, MLP, residual MLP, NMTune and an FGS-style variant,
per seed (optionally with noisy downstream labels) -> ID and OOD accuracy, SVE / LSVR of the features before and
after each adapter; plus the simulation (encoders pre-trained with 0-30% label noise) -> cells.jsonl (finished rows
are skipped on rerun), results.json, results.md, nmtune.png.

    python recipes/nmtune/tune.py --config recipes/nmtune/configs/quick.yaml
    python recipes/nmtune/tune.py --config recipes/nmtune/configs/quick.yaml --label_noise symmetric:p=0.2
"""

from __future__ import annotations

from rlnoise.adapters.heads import AdapterConfig
from rlnoise.adapters.study import NMTuneStudyConfig, run_nmtune_study
from rlnoise.core.config import parse_config
from rlnoise.core.distributed import process_state


def main():
    study, adapter = parse_config(NMTuneStudyConfig, AdapterConfig)
    if process_state().num_processes > 1:
        raise SystemExit("recipes/nmtune/tune.py trains small heads in one process; launch it without --num_processes")
    run_nmtune_study(study, adapter)


if __name__ == "__main__":
    main()
