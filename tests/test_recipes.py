"""Every recipe YAML parses into its dataclasses; the RM recipe runs end to end on tiny models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RM_CONFIGS = sorted((ROOT / "recipes" / "overoptimization" / "configs").glob("rm_*.yaml"))


@pytest.mark.parametrize("config", RM_CONFIGS, ids=lambda p: p.name)
def test_rm_yaml_parses(config, monkeypatch):
    sys.path.insert(0, str(ROOT / "recipes" / "overoptimization"))
    try:
        from train_rms import StudyConfig

        from rlnoise.config import parse_config
        from rlnoise.optimize.sampling import SamplingConfig
        from rlnoise.rewards.ensemble import EnsembleConfig
        from rlnoise.rewards.gold import GoldConfig

        monkeypatch.setattr(sys, "argv", ["train_rms.py", "--config", str(config)])
        study, sampling, gold, ensemble = parse_config(StudyConfig, SamplingConfig, GoldConfig, EnsembleConfig)
    finally:
        sys.path.pop(0)
    assert study.noise and ensemble.k >= 1 and sampling.max_new_tokens > 0 and gold.target_words > 0


def test_bad_config_value_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "recipes/overoptimization/configs/rm_tiny.yaml").read_text() + "\ntop_p: 1.5\n")
    proc = subprocess.run(
        [sys.executable, "recipes/overoptimization/train_rms.py", "--config", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "top_p must be a probability in [0, 1], got 1.5" in proc.stderr


def test_rm_recipe_end_to_end(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "recipes/overoptimization/train_rms.py",
        "--config",
        "recipes/overoptimization/configs/rm_tiny.yaml",
        "--output_root",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "overoptimization" / "rm_tiny"
    results = json.loads((out / "results.json").read_text())
    assert set(results["settings"]) == {"none", "coste"}
    assert results["settings"]["none"]["flip_rate"] == 0.0
    assert 0.0 < results["settings"]["coste"]["flip_rate"] < 0.6
    for setting in results["settings"].values():
        assert len(setting["accuracy"]["members"]["true"]) == 3
        assert set(setting["accuracy"]["objectives"]) == {"mean", "wco", "uwo", "lcb"}
    assert (out / "rm_accuracy.png").stat().st_size > 10_000
    assert (out / "config.yaml").exists() and (out / "samples.jsonl").read_text().strip()
    # a rerun reuses the cached pairs and ensembles
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert again.returncode == 0 and "sampling" not in again.stderr
