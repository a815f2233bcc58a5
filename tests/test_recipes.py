"""Every recipe YAML parses into its dataclasses; the RM recipe runs end to end on tiny models."""

import json
import shutil
import sys

import numpy as np
import pytest
import yaml
from helpers import BON, ROOT, assert_same, run_recipe, without

from rlnoise.core.stages import cache_root

OVEROPT_CONFIGS = sorted((ROOT / "recipes" / "overoptimization" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", OVEROPT_CONFIGS, ids=lambda p: p.name)
def test_overoptimization_yaml_parses(config, monkeypatch):
    from rlnoise.core.cli import parse_config
    from rlnoise.core.config import SamplingConfig
    from rlnoise.overoptimization.config import BonStudyConfig, RLStudyConfig, RMStudyConfig, TrlRLConfig
    from rlnoise.overoptimization.dpo_config import DPOConfig, DPOStudyConfig
    from rlnoise.overoptimization.ensemble import EnsembleConfig
    from rlnoise.overoptimization.gold import GoldConfig
    from rlnoise.overoptimization.ppo import PPOConfig

    study_classes = {
        "dpo": (DPOStudyConfig, DPOConfig),
        "bon": (BonStudyConfig,),
        "ppo": (RLStudyConfig, PPOConfig),
        "grpo": (RLStudyConfig, TrlRLConfig),
        "rm": (RMStudyConfig,),
    }
    classes = study_classes[config.name.split("_")[0]]
    monkeypatch.setattr(sys, "argv", ["recipe.py", "--config", str(config)])
    study, *_, sampling, gold, ensemble = parse_config(*classes, SamplingConfig, GoldConfig, EnsembleConfig)
    assert study.noise and ensemble.k >= 1 and sampling.max_new_tokens > 0 and gold.target_words > 0


def test_bad_config_value_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "recipes/overoptimization/configs/rm_tiny.yaml").read_text() + "\ntop_p: 1.5\n")
    proc = run_recipe("recipes/overoptimization/train_rms.py", str(bad), tmp_path)
    assert proc.returncode != 0
    assert "top_p must be a probability in [0, 1], got 1.5" in proc.stderr


def test_rm_recipe_end_to_end(tmp_path):
    args = ("recipes/overoptimization/train_rms.py", "recipes/overoptimization/configs/rm_tiny.yaml", tmp_path)
    proc = run_recipe(*args)
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
    again = run_recipe(*args)
    assert again.returncode == 0 and "sampling" not in again.stderr


def test_bon_recipe_end_to_end(tmp_path):
    proc = run_recipe(*BON, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "overoptimization" / "bon_tiny"
    results = json.loads((out / "results.json").read_text())
    assert results["recipe"] == "bon" and results["ns"][0] == 1 and results["ns"][-1] == 12
    assert results["pool"]["prompts"] == 5 and results["pool"]["size"] == 12
    for setting in results["settings"].values():
        assert set(setting["selectors"]) == {"member0", "member1", "member2", "mean", "wco", "uwo", "lcb"}
        for curve in setting["selectors"].values():
            assert curve["gold"][0] == 0.0 and curve["proxy"][0] == 0.0 and len(curve["gold"]) == len(results["ns"])
            assert curve["proxy"] == sorted(curve["proxy"])  # best-of-n never lowers the selecting score
            assert {"alpha", "beta", "d_peak", "kl_peak"} <= set(curve)
            low, high = curve["gold_band"]
            assert all(lo <= g <= hi for lo, g, hi in zip(low, curve["gold"], high))  # intervals travel with results
            assert {"d_peak_interval", "gold_at_max_n_interval", "drop"} <= set(curve)
        assert "single" in setting and "vs_single" in setting["selectors"]["wco"]
    # per noise: single RMs overoptimize, their proxy outruns gold, each objective vs single; noise vs clean once
    assert len(results["claims"]) == 2 * (2 + 4) + 1
    assert {c["verdict"] for c in results["claims"]} <= {"holds", "does not hold", "unresolved"}
    report = (out / "results.md").read_text()
    assert "## Claims (95% intervals" in report and report.count("-> **") == len(results["claims"])
    assert "| single (average) |" in report
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 * 2
    for sample in samples:  # every selector's pick is listed exactly once at each shown n
        for n in (1, 4, 12):
            chosen = [name for p in sample["picks"] if p["n"] == n for name in p["picked_by"]]
            assert sorted(chosen) == sorted(setting["selectors"]), (n, chosen)
    markdown = (out / "samples.md").read_text()
    assert markdown.startswith("# Samples of bon_tiny") and markdown.count("| n | gold | index | picked_by |") == 4
    assert (out / "bon.png").stat().st_size > 20_000
    # an interrupted run resumes from its cached stages and gives the same results
    (out / "results.json").unlink()
    again = run_recipe(*BON, tmp_path)
    assert again.returncode == 0 and "sampling" not in again.stderr and "scoring" not in again.stderr
    assert_same(
        without(json.loads((out / "results.json").read_text()), "seconds", "metadata", "stages"),
        without(results, "seconds", "metadata", "stages"),
    )
    # a damaged cached stage (right shape, wrong numbers) is named and rebuilt, never used
    proxy = sorted(cache_root().glob("stages/pool_proxy-*"))[0]  # one of this run's two (one per noise setting)
    np.save(proxy / "scores.npy", np.load(proxy / "scores.npy") + 1.0)
    repaired = run_recipe(*BON, tmp_path)
    assert repaired.returncode == 0 and f"stage 'pool_proxy' ({proxy.name})" in repaired.stdout
    assert "scores.npy does not match" in repaired.stdout
    assert_same(
        without(json.loads((out / "results.json").read_text()), "seconds", "metadata", "stages"),
        without(results, "seconds", "metadata", "stages"),
    )
    # replicate seeds share the pool and pairs, redraw noise and proxies, and pool into one result; seed 0 is the
    # study above
    replicated = run_recipe(*BON, tmp_path, "--seeds", "0", "1")
    assert replicated.returncode == 0, replicated.stderr[-3000:]
    assert "sampling" not in replicated.stderr and "replicate seed 1" in replicated.stdout
    pooled = json.loads((out / "results.json").read_text())
    assert pooled["seeds"] == [0, 1] and set(pooled["by_seed"]) == {"0", "1"}
    assert_same(
        without(pooled["by_seed"]["0"], "seconds"), without(results, "seconds", "metadata", "stages")["settings"]
    )
    for spec, setting in pooled["settings"].items():
        seeds = [pooled["by_seed"][s][spec]["selectors"]["mean"] for s in ("0", "1")]
        assert seeds[0]["gold"] != seeds[1]["gold"]  # other proxies pick other samples
        pooled_mean = setting["selectors"]["mean"]
        assert pooled_mean["gold"] == pytest.approx(np.mean([c["gold"] for c in seeds], axis=0).tolist())
        low, high = pooled_mean["gold_band"]
        assert all(lo <= g <= hi for lo, g, hi in zip(low, pooled_mean["gold"], high))
    assert (
        len(pooled["claims"]) == len(results["claims"])
        and "pooled over 2 replicate seeds" in (out / "results.md").read_text()
    )
    # regression: other gold weights relabel the pairs and retrain the proxies; the pool's proxy scores must follow
    reweighted = run_recipe(*BON, tmp_path, "--w_length", "3.0")
    assert reweighted.returncode == 0, reweighted.stderr[-3000:]
    changed = json.loads((out / "results.json").read_text())
    proxies = lambda r: [c["proxy"] for s in r["settings"].values() for c in s["selectors"].values()]  # noqa: E731
    assert proxies(changed) != proxies(results)
    assert yaml.safe_load((out / "config.yaml").read_text())["w_length"] == 3.0


PPO = ("recipes/overoptimization/ppo.py", "recipes/overoptimization/configs/ppo_tiny.yaml")


@pytest.mark.equivalence
def test_ppo_recipe_end_to_end_and_resume(tmp_path):
    proc = run_recipe(*PPO, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "overoptimization" / "ppo_tiny"
    results = json.loads((out / "results.json").read_text())
    assert results["recipe"] == "rl" and len(results["runs"]) == 4  # 2 noise settings x 2 objectives x 1 beta
    for run in results["runs"].values():
        assert run["step"] == [0, 2, 4] and run["kl"][0] == pytest.approx(0, abs=1e-9) and run["gold"][0] == 0.0
        assert run["kl"][-1] > 0 and {"alpha", "beta_fit", "d_peak", "r2"} <= set(run)
        low, high = run["gold_band"]  # 4 prompts x 2 samples, resampled by prompt
        assert low[0] == high[0] == 0.0 and all(lo <= g <= hi for lo, g, hi in zip(low, run["gold"], high))
        assert {"last_gold_gain", "last_proxy_gain", "drop", "d_peak_interval", "fit_resolved"} <= set(run)
    assert len(results["claims"]) == 2 * 3  # per noise: single's proxy rises, its gold falls, mean vs single
    assert (out / "results.md").read_text().startswith("# Online RL (PPO)")
    assert (out / "ppo.png").stat().st_size > 20_000 and (out / "samples.jsonl").read_text().strip()
    # kill after step 2: drop the last checkpoints and results; the rerun resumes at step 2 and ends the same
    for ckpt in out.glob("checkpoints/*/step-000004"):
        shutil.rmtree(ckpt)
    (out / "results.json").unlink()
    again = run_recipe(*PPO, tmp_path, "--report_to", "tensorboard")  # tracking is no part of the run's key
    assert again.returncode == 0 and again.stdout.count("resumed from step-000002") == 4
    # each resumed run logged its PPO steps and evaluations to TensorBoard, under its own name
    from rlnoise.core.tracking import event_scalars

    tracked = sorted(p.name for p in (out / "tracking").iterdir())
    assert len(tracked) == 4 and all("single" in name or "mean" in name for name in tracked), tracked
    scalars = event_scalars(out / "tracking" / tracked[0])
    assert [step for step, _ in scalars["ppo/kl"]] == [3, 4] and {"ppo/policy_loss", "ppo/score"} <= set(scalars)
    assert [step for step, _ in scalars["eval/gold"]] == [4] and "eval/kl" in scalars
    # the resumed runs load the step-2 weights, optimizer and random states bit for bit and repeat the same
    # computation in the same process, with the same threads: equal exactly, on any CPU
    assert_same(json.loads((out / "results.json").read_text())["runs"], results["runs"], tol=0)
    # another training config never resumes these checkpoints: it stops before any work, naming the fields
    other = run_recipe(*PPO, tmp_path, "--ppo_learning_rate", "0.5", "--ppo_epochs", "1")
    assert other.returncode != 0 and "ppo_learning_rate: 0.02 -> 0.5" in other.stderr
    assert "ppo_epochs" in other.stderr and "--overwrite" in other.stderr and "resumed" not in other.stdout


@pytest.mark.slow  # a second PPO run; kept out of the default suite's 4 minutes
def test_ppo_recipe_sweeps_beta(tmp_path):
    extra = ("--noise", "none", "--objectives", "single", "--kl_coefs", "0", "0.2", "--total_steps", "2")
    proc = run_recipe(*PPO, tmp_path, *extra, "--run_name", "beta_sweep")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads((tmp_path / "overoptimization" / "beta_sweep" / "results.json").read_text())["runs"]
    assert sorted(r["beta"] for r in runs.values()) == [0.0, 0.2]
    no_penalty, penalised = sorted(runs.values(), key=lambda r: r["beta"])
    assert no_penalty["step"] == penalised["step"] == [0, 2] and no_penalty["gold"][0] == penalised["gold"][0]


@pytest.mark.equivalence
@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_trl_rl_recipe_end_to_end(tmp_path, algorithm):
    args = ("recipes/overoptimization/grpo.py", "recipes/overoptimization/configs/grpo_tiny.yaml", tmp_path)
    proc = run_recipe(*args, "--algorithm", algorithm)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "overoptimization" / "grpo_tiny"
    results = json.loads((out / "results.json").read_text())
    assert results["algorithm"] == algorithm and len(results["runs"]) == 1
    (run,) = results["runs"].values()
    assert run["step"] == [0, 2, 4] and run["kl"][-1] > 0 and run["beta"] == 0.01
    assert (out / f"{algorithm}.png").stat().st_size > 20_000
    assert sorted(p.name for p in out.glob("checkpoints/*/checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    # kill after step 2: drop the last checkpoint and results; the rerun resumes from trl's step-2 checkpoint
    for ckpt in out.glob("checkpoints/*/checkpoint-4"):
        shutil.rmtree(ckpt)
    (out / "results.json").unlink()
    again = run_recipe(*args, "--algorithm", algorithm, "--report_to", "tensorboard")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("resuming from") == 1 and "checkpoint-2" in again.stdout
    # the resumed run logged trl's training statistics and its evaluation to TensorBoard
    from rlnoise.core.tracking import event_scalars

    (tracked,) = (out / "tracking").iterdir()
    scalars = event_scalars(tracked)
    assert [step for step, _ in scalars["eval/gold"]] == [4] and scalars["train/loss"][0][0] == 3
    # trl's checkpoint holds the weights, optimizer and random states bit for bit: the same computation, equal exactly
    assert_same(json.loads((out / "results.json").read_text())["runs"], results["runs"], tol=0)


def test_a_tracker_that_is_not_installed_is_refused_in_one_line(tmp_path):
    """--report_to names a tracker whose package is missing (wandb here): one line before any work, from every
    study's config (each runs the run settings' checks)."""
    import importlib.util

    from rlnoise.adapters.config import NMTuneStudyConfig
    from rlnoise.elicitation.config import SweepConfig
    from rlnoise.overoptimization.config import BonStudyConfig, RLStudyConfig, RMStudyConfig
    from rlnoise.overoptimization.dpo_config import DPOStudyConfig
    from rlnoise.tint.config import TIntSweepConfig

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    message = "report_to: 'wandb' needs the wandb package, which is not installed"
    for config in (TIntSweepConfig, SweepConfig, NMTuneStudyConfig, RMStudyConfig, BonStudyConfig, RLStudyConfig,
                   DPOStudyConfig):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            config(report_to="wandb")
    proc = run_recipe(*PPO, tmp_path, "--report_to", "wandb")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and message in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing ran
