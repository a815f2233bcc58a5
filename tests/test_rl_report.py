"""Online-RL results from evaluation rows (rlnoise.overoptimization.rl_study.rl_results): intervals, claims, and
replicate seeds pooled into one result."""

import numpy as np
import pytest

from rlnoise.core.stats import FAILS, HOLDS, Interval, pool_seeds
from rlnoise.core.variance import table_interval
from rlnoise.overoptimization.rl_study import rl_results, run_label

STEPS = (0, 2, 4)
PROMPTS = 40


def rows_of(objective: str, seed: int, gold_path, proxy_path, rng) -> list[dict]:
    """A run's evaluation rows: per-prompt gold/proxy/KL around the given mean paths (noise sd 0.3)."""
    rows = []
    for step, gold, proxy in zip(STEPS, gold_path, proxy_path):
        by_prompt = {
            "gold": (gold + rng.normal(0, 0.3, PROMPTS)).tolist(),
            "proxy": (proxy + rng.normal(0, 0.3, PROMPTS)).tolist(),
            "kl": np.full(PROMPTS, float(step)).tolist(),
        }
        run = dict(noise="coste", objective=objective, beta=0.01, seed=seed)
        means = {key: float(np.mean(values)) for key, values in by_prompt.items()}
        rows.append(
            dict(
                run=run_label(run),
                **run,
                step=step,
                ensemble_variance=0.0,
                **means,
                **{f"{k}_by_prompt": v for k, v in by_prompt.items()},
            )  # fmt: skip
        )
    return rows


def test_claims_follow_the_curves_of_one_seed():
    """The single proxy's score rises while its gold rises then falls by 1; mean keeps 1 more gold at matched KL."""
    rng = np.random.default_rng(0)
    rows = rows_of("single", 0, [0, 1, 0], [0, 1, 2], rng) + rows_of("mean", 0, [0, 1, 1], [0, 1, 1.5], rng)
    results = rl_results(rows)
    assert set(results["runs"]) == {"coste|single|beta=0.01", "coste|mean|beta=0.01"} and "by_seed" not in results
    single = results["runs"]["coste|single|beta=0.01"]
    assert single["gold"][0] == 0.0 and single["drop"]["step_index"] == 1
    verdicts = {c["statement"].split(": ", 1)[1]: c["verdict"] for c in results["claims"]}
    assert verdicts == {
        "the single proxy's score rises by step 4": HOLDS,
        "the single proxy's gold falls from its best evaluation to step 4": HOLDS,
        "mean keeps more gold than the single proxy at matched KL": HOLDS,
    }
    worse = rl_results(rows_of("single", 0, [0, 1, 1], [0, 1, 2], rng) + rows_of("mean", 0, [0, 0, 0], [0, 1, 1], rng))
    assert worse["claims"][1]["verdict"] == FAILS and worse["claims"][2]["verdict"] == FAILS


def test_replicate_seeds_pool_into_one_run_with_the_spread_between_seeds():
    """Two seeds of the same runs: the pooled curve is the mean of the seeds' curves, intervals without per-prompt
    values come from :func:`pool_seeds`, claims from the two-way model on their prompts x seeds table, and a seed
    that did not finish every evaluation is left out of the pooled runs."""
    rng = np.random.default_rng(1)
    seed0 = rows_of("single", 0, [0, 1, 0.5], [0, 1, 2], rng)
    seed1 = rows_of("single", 1, [0, 0.6, 0.1], [0, 1.2, 2.2], rng)
    alone = [rl_results(seed0), rl_results([dict(r, seed=0) for r in seed1])]
    pooled = rl_results(seed0 + seed1)
    run = pooled["runs"]["coste|single|beta=0.01"]
    assert set(pooled["by_seed"]) == {0, 1}
    seed_runs = [a["runs"]["coste|single|beta=0.01"] for a in alone]
    assert run["gold"] == pytest.approx(np.mean([r["gold"] for r in seed_runs], axis=0))
    expected = pool_seeds([Interval.from_dict(r["last_gold_gain"]) for r in seed_runs])
    assert Interval.from_dict(run["last_gold_gain"]) == pytest.approx(expected)
    assert [c["statement"] for c in pooled["claims"]] == [c["statement"] for c in alone[0]["claims"]]
    rises = np.column_stack([a["claims"][0]["units_by_seeds"] for a in alone])
    assert pooled["claims"][0]["units_by_seeds"] == rises.tolist()
    assert Interval.from_dict(pooled["claims"][0]) == pytest.approx(table_interval(rises))
    unfinished = rl_results(seed0 + rows_of("single", 1, [0, 1], [0, 1], rng))  # seed 1 stopped at step 2
    assert unfinished["runs"] == {} and unfinished["claims"] == []


def test_interpolation_weights_give_the_mean_curves_gold_at_kl():
    """Matched-KL claims keep per-prompt values: each prompt's gold weighted by where the mean KL curve meets the
    target, so their mean is exactly the interpolated mean curve."""
    from rlnoise.overoptimization.rl_report import interpolation_weights

    kl = np.array([0.0, 0.5, 0.4, 2.0])  # dips: the running maximum is used
    gold = np.random.default_rng(0).normal(size=(4, 7))
    for target in (0.0, 0.3, 0.5, 1.2, 2.0, 3.0):
        per_prompt = interpolation_weights(kl, target) @ gold
        assert per_prompt.mean() == pytest.approx(np.interp(target, np.maximum.accumulate(kl), gold.mean(axis=1)))


def test_run_costs_count_a_redone_evaluation_once(tmp_path):
    """A killed run's step-0 evaluation is redone when it restarts: the cost model counts the last one only, and
    the rest of the recorded wall time is training."""
    from types import SimpleNamespace

    from rlnoise.core.files import append_jsonl
    from rlnoise.core.stages import STAGE_LOG
    from rlnoise.overoptimization.rl_study import log_run_costs

    ctx = SimpleNamespace(out=tmp_path, config_key="k")
    rows = [
        dict(run="a", step=0, seconds=600.0),
        dict(run="a", step=0, seconds=100.0),
        dict(run="a", step=4, seconds=50.0),
    ]
    append_jsonl(tmp_path / "run_costs.jsonl", dict(run="a", seconds=400.0, config_key="k"))
    logged = len(STAGE_LOG)
    log_run_costs(ctx, ["a"], rows)
    assert [(s["stage"], s["seconds"]) for s in STAGE_LOG[logged:]] == [
        ("a (training)", 250.0),
        ("a (evaluation)", 150.0),
    ]


def test_the_plot_is_scaled_to_the_curves_not_to_a_wild_fit(tmp_path, monkeypatch):
    from rlnoise.overoptimization import plots

    figures = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig) or real(fig, path))
    run = dict(noise="none", objective="single", beta=0.0, kl=[0.0, 1.0, 4.0], gold=[0.0, 0.2, -0.1])
    run.update(proxy=[0.0, 0.3, 0.5], alpha=1000.0, beta_fit=1000.0)  # a fit through 3 points peaking near 740
    paths = plots.plot_rl(dict(runs={"r": run}, algorithm="ppo"), tmp_path)
    assert all(p.exists() for p in paths)
    gold_axis = figures[0].axes[0]
    assert len(gold_axis.lines) >= 2  # the curve and its fit are both drawn
    low, high = gold_axis.get_ylim()
    assert -1 < low < -0.1 and 0.2 < high < 1  # the gold curve's range, with matplotlib's margin
