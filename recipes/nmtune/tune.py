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
from rlnoise.adapters.plots import plot_nmtune
from rlnoise.adapters.study import NMTuneStudyConfig, results_table, run_study, summarize
from rlnoise.core.config import parse_config, to_dict
from rlnoise.core.distributed import process_state
from rlnoise.core.files import write_json, write_text, write_yaml
from rlnoise.core.runs import run_dir, run_metadata


def main():
    study, adapter = parse_config(NMTuneStudyConfig, AdapterConfig)
    if process_state().num_processes > 1:
        raise SystemExit("recipes/nmtune/tune.py trains small heads in one process; launch it without --num_processes")
    out = run_dir("nmtune", study.run_name, study.output_root)
    write_yaml(out / "config.yaml", to_dict((study, adapter)))
    rows = run_study(study, adapter, out)
    summary = summarize(rows)
    results = {"recipe": "nmtune", "config": to_dict((study, adapter)), **summary, "metadata": run_metadata()}
    write_json(out / "results.json", results)
    table = results_table(summary)
    write_text(out / "results.md", table + "\n")
    plot_nmtune(results, out)
    print(table)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
