"""Elicitation learner, sweep (resume, shards), recipes and planner CLI, on tiny models."""

import json
import sys

import numpy as np
import pytest
import torch
from helpers import ROOT, reorder_tolerance, run_recipe, run_script

from rlnoise.elicitation import sweep as sweep_module
from rlnoise.elicitation.learner import LearnerConfig, StrongLearner
from rlnoise.elicitation.planner import load_cells
from rlnoise.elicitation.sweep import SweepConfig, grid, run_sweep

TINY = ("recipes/elicitation/sweep.py", "recipes/elicitation/configs/tiny.yaml")


@pytest.mark.parametrize(
    "config", sorted((ROOT / "recipes" / "elicitation" / "configs").glob("*.yaml")), ids=lambda p: p.name
)
def test_elicitation_yaml_parses(config, monkeypatch):
    from rlnoise.core.cli import parse_config

    monkeypatch.setattr(sys, "argv", ["sweep.py", "--config", str(config)])
    sweep, learner = parse_config(SweepConfig, LearnerConfig)
    assert grid(sweep) and learner.batch_size > 0


@pytest.mark.parametrize("mode", ["full", "head"])
def test_strong_learner_learns_a_separable_text_task_from_soft_labels(mode):
    texts = [f"{w} {w} {w}" for w in ("great", "awful") for _ in range(40)]
    labels = [1.0] * 40 + [0.0] * 40
    learner = StrongLearner(
        LearnerConfig(
            strong_model="tiny-bert",
            mode=mode,
            learning_rate=3e-3 if mode == "full" else 3e-2,
            epochs=8,
            batch_size=8,
            patience=8,
        ),
        texts,
        list(range(80)),
    )
    model = learner.new_model(seed=0)
    rows = list(range(0, 80, 2))
    soft = [0.8 if labels[i] else 0.2 for i in rows]  # weak-style soft targets on the right side of 0.5
    before = learner.predict_proba(model, learner.dataset(list(range(1, 80, 2))))
    info = learner.fit(model, learner.dataset(rows, soft), learner.dataset([1, 41], [1.0, 0.0]), seed=0)
    after = learner.predict_proba(model, learner.dataset(list(range(1, 80, 2))))
    truth = np.array([labels[i] for i in range(1, 80, 2)]) > 0.5
    assert info["steps"] > 0 and not np.allclose(before, after)
    assert np.mean((after > 0.5) == truth) == 1.0


def _tiny_config(tmp_path, **overrides):
    base = dict(
        run_name="t",
        output_root=str(tmp_path),
        tasks=["openbookqa"],
        budgets=[12.0, 24.0],
        weak_fractions=[0.0, 0.5, 1.0],
        methods=["sft_gold", "sft_weak", "sequential", "fewshot_prompt"],
        weak_marginal_cost=0.25,
        n_val=4,
        few_shot_k=2,
        n_test=40,
        n_weak_train=40,
        weak_model="tiny-bert",
        prompt_model="tiny-llama",
    )
    return SweepConfig(**{**base, **overrides})


TINY_LEARNER = LearnerConfig(strong_model="tiny-bert", mode="head", pooling="mean", epochs=2, batch_size=8)


def test_sweep_resumes_skipping_finished_cells_and_shards_split_the_grid(tmp_path, monkeypatch):
    calls = []
    real = sweep_module.run_cell
    monkeypatch.setattr(sweep_module, "run_cell", lambda *a: calls.append(a[1:]) or real(*a))
    config = _tiny_config(tmp_path, shard="0/2")
    run_sweep(config, TINY_LEARNER)
    first = len(calls)
    rows = run_sweep(_tiny_config(tmp_path, shard="1/2"), TINY_LEARNER)
    points = grid(config)
    assert len(rows) == len(points) == 2 * 4  # 2 budgets x (gold, weak, sequential at 0.5, prompting)
    assert {(r["method"], r["budget"], r["weak_fraction"]) for r in rows} == {
        (p.method, p.budget, p.weak_fraction) for p in points
    }
    # prompting has the same spend (k exemplars) at every budget: trained / scored once, reused at the other
    assert len(calls) == len(points) - 1 and first > 0
    folder = tmp_path / "elicitation" / "t"
    assert sorted(p.name for p in folder.glob("cells*.jsonl")) == ["cells-0of2.jsonl", "cells-1of2.jsonl"]
    # drop one finished cell, as an interrupted run would; the rerun (one shard) trains only that one
    path = folder / "cells-1of2.jsonl"
    lines = path.read_text().splitlines()
    dropped = json.loads(lines[-1])
    path.write_text("\n".join(lines[:-1]) + "\n")
    calls.clear()
    rows = run_sweep(_tiny_config(tmp_path), TINY_LEARNER)
    assert len(calls) <= 1 and len(load_cells(folder)) == len(points)
    redone = [r for r in rows if (r["method"], r["budget"]) == (dropped["method"], dropped["budget"])]
    assert redone and redone[-1]["accuracy"] == dropped["accuracy"]  # deterministic by seed
    for r in rows:
        assert r["n_weak"] * 0.25 + r["n_gold"] + r["n_val"] + r["n_fewshot"] <= r["budget"] + 1e-9


def test_sweep_refuses_grids_the_pools_cannot_hold(tmp_path):
    config = _tiny_config(tmp_path, budgets=[400.0], weak_fractions=[1.0], methods=["sft_weak"])
    with pytest.raises(ValueError, match="pools hold"):
        run_sweep(config, TINY_LEARNER)
    config = _tiny_config(
        tmp_path, budgets=[12.0, 400.0], weak_fractions=[1.0], methods=["sft_weak"], skip_infeasible=True
    )
    rows = run_sweep(config, TINY_LEARNER)
    assert [r["budget"] for r in rows] == [12.0]


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(budgets=[-1.0]), "budget"),
        (dict(budgets=[3.0]), "n_val"),
        (dict(weak_fractions=[1.5]), "weak_fraction"),
        (dict(methods=["magic"]), "method"),
        (dict(tasks=["hellaswag"]), "tasks"),
        (dict(shard="3/2"), "shard"),
        (dict(weak_marginal_cost=0.0), "weak_marginal_cost"),
    ],
)
def test_bad_sweep_configs_raise_clear_errors(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        _tiny_config(tmp_path, **overrides)
    with pytest.raises(ValueError, match="mode"):
        LearnerConfig(mode="adapter")


def test_elicitation_recipe_and_planner_end_to_end(tmp_path):
    proc = run_recipe(*TINY, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "elicitation" / "elicitation_tiny"
    results = json.loads((out / "results.json").read_text())
    assert results["recipe"] == "elicitation" and results["regimes"] and results["frontier"]["openbookqa"]
    assert (out / "elicitation.png").exists() and "| regime (leader) |" in (out / "results.md").read_text()
    assert (out / "results.md").read_text().startswith("## Claims")
    effects = results["fewshot_effect"]  # fewshot_sft vs sequential wherever both ran
    assert {(e["budget"], e["weak_fraction"]) for e in effects} == {(12.0, 0.5), (24.0, 0.5)}
    assert "fewshot_sft beats sequential" in (out / "results.md").read_text()
    methods = {s["method"] for s in results["summary"]}
    assert methods == {
        "sft_gold",
        "sft_weak",
        "sequential",
        "sequential_logconf",
        "sequential_active",
        "fewshot_prompt",
        "fewshot_sft",
    }
    plan_args = ("recipes/elicitation/plan.py", "--run", str(out), "--weak-cost", "0.25", "--task", "openbookqa")
    plan = run_script(*plan_args, "--budget", "18", "--json")
    assert plan.returncode == 0, plan.stderr[-2000:]
    p = json.loads(plan.stdout)
    assert p["cost"] <= 18 and p["regime"] in ("quality-dominant", "mixed", "quantity-dominant", "unresolved")
    bad = run_script(*plan_args, "--budget", "1")
    assert bad.returncode != 0 and "below the cheapest" in bad.stderr
    # the power planner reads its claims: each regime's binding lead with its test examples x seeds table, priced
    # by the cells' and stages' recorded seconds
    from rlnoise.core.power import plan_run

    cost, plans = plan_run(results)
    regime_plans = [p for p in plans if "beats every other fraction" in p.statement]
    n_test = {json.loads(line)["n_test"] for line in (out / "cells-0of1.jsonl").read_text().splitlines()}
    assert len(regime_plans) == len(results["regimes"]) and {(p.units, p.seeds) for p in regime_plans} == {
        (*n_test, 1)  # one seed in the tiny preset
    }
    assert cost is not None and cost.per_seed > 0
    # a prompting cell's scores are a stage of their own: its cost is logged there, not again in the cell's
    rows = [json.loads(line) for line in (out / "cells-0of1.jsonl").read_text().splitlines()]
    prompting = next(r for r in rows if r["method"] == "fewshot_prompt")
    logged = {e["key"]: e for e in results["stages"]}
    net = prompting["seconds"] - prompting["stage_seconds"]
    assert logged[prompting["result_key"]]["seconds"] == pytest.approx(net)
    scored = [e for e in results["stages"] if e["stage"] == "fewshot_scores"]
    assert scored and all(e["scales"] == "units x seeds" for e in scored)
    # built now (an earlier test may have cached the same scores): then the cell's own cost leaves it out
    assert (prompting["stage_seconds"] > 0) == any(not e["cached"] for e in scored)
    # a rerun with another learner setting never mixes in the old cells: it stops, naming the field
    other = run_recipe(*TINY, tmp_path, "--epochs", "1", "--methods", "sft_gold", "sft_weak", "sequential")
    message = other.stderr.strip().splitlines()[-1]
    assert other.returncode != 0 and "epochs: 2 -> 1" in message and "methods" not in message
    fewer = run_recipe(*TINY, tmp_path, "--methods", "sft_gold", "sft_weak", "sequential")  # an axis may shrink
    assert fewer.returncode == 0, fewer.stderr[-2000:]
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert {s["method"] for s in summary} == {"sft_gold", "sft_weak", "sequential"}


def test_fewshot_scores_are_cached_by_model_prefix_and_texts(capsys):
    """Prompting a test set is computed once: the same model, prefix and texts load the cached scores; another
    prefix (other exemplars) computes anew."""
    from rlnoise.elicitation.fewshot import fewshot_prefix, fewshot_scores

    texts = ["a fine film", "a dull film", "great acting"]
    prefix = fewshot_prefix([("loved it", 1), ("hated it", 0)], "rotten_tomatoes")
    first = fewshot_scores("tiny-llama", prefix, texts)
    assert "fewshot_scores: computing" in capsys.readouterr().out
    again = fewshot_scores("tiny-llama", prefix, texts)
    assert "fewshot_scores: cached" in capsys.readouterr().out and (again == first).all()
    fewshot_scores("tiny-llama", fewshot_prefix([("hated it", 0)], "rotten_tomatoes"), texts)
    assert "fewshot_scores: computing" in capsys.readouterr().out


@pytest.mark.equivalence
def test_fewshot_scores_read_each_query_at_its_own_last_token():
    """Batched with right padding and the vocabulary projected at each row's last token only, a query scores as it
    does alone: logit("1") - logit("0") at its last position of the full logits (float32; padding after a causal
    row's end changes nothing before it, so only summation order differs)."""
    from rlnoise.core.models import load_model
    from rlnoise.elicitation.fewshot import _label_token, _scores, fewshot_prefix, fewshot_query

    texts = ["ok", "a fine film with a long and winding plot", "dull", "great acting, a weak ending"]
    prefix = fewshot_prefix([("loved it", 1), ("hated it", 0)], "rotten_tomatoes")
    batched = _scores("tiny-llama", prefix, texts, batch_size=4, max_length=64)
    model, tokenizer = load_model("tiny-llama", "causal_lm")
    one, zero = _label_token(tokenizer, "1"), _label_token(tokenizer, "0")
    with torch.no_grad():
        for text, score in zip(texts, batched):
            ids = tokenizer(prefix + fewshot_query(text), return_tensors="pt")
            logits = model(**ids).logits[0, -1]
            # tiny-llama: inner dimensions <= 64 or the sequence, 2 layers x 9 products and the output layer; the
            # difference of two logits carries both their errors
            tol = 2 * reorder_tolerance(logits, terms=max(64, ids["input_ids"].shape[1]), layers=19)
            assert score == pytest.approx((logits[one] - logits[zero]).item(), abs=tol)
    assert len(set(batched.round(4))) == len(texts)  # distinct queries, distinct scores: rows were not mixed up


@pytest.mark.equivalence
def test_head_mode_reads_fewshot_inputs_after_the_exemplars():
    """``fewshot_sft`` in head mode: a causal strong model's features of each text read after the prefix, computed
    once per row, standardised by their own statistics; the plain features are untouched."""
    from rlnoise.core.features import extract_features
    from rlnoise.elicitation.fewshot import fewshot_prefix

    texts = [f"{w} film number {i}" for i in range(12) for w in ("great", "awful")]
    config = LearnerConfig(strong_model="tiny-llama", mode="head", pooling="last", max_length=32)
    learner = StrongLearner(config, texts, list(range(24)))
    prefix = fewshot_prefix([("loved it", 1), ("hated it", 0)], "rotten_tomatoes")
    rows = [3, 5, 7]
    data = learner.dataset(rows, [1.0, 1.0, 0.0], prefix)
    want = extract_features("tiny-llama", [texts[i] for i in rows], pooling="last", max_length=32, prefix=prefix)
    np.testing.assert_array_equal(data[:]["features"].numpy(), want)  # the same cached computation
    assert not np.allclose(learner.dataset(rows)[:]["features"].numpy(), want)
    plain, prompted = learner.new_model(0), learner.new_model(0, prefix)
    scaled_rows = learner._features(list(range(24)), prefix)  # PREFIX_SCALE_ROWS covers all 24 fit rows here
    # a mean over the same 24 rows summed in another order: Higham's bound for 24 terms
    tol = reorder_tolerance(scaled_rows, terms=24)
    np.testing.assert_allclose(prompted.mean.numpy(), scaled_rows.mean(0), rtol=0, atol=tol)
    assert not np.allclose(plain.mean.numpy(), prompted.mean.numpy())


def test_fewshot_sft_in_head_mode_runs_with_a_causal_model_and_is_refused_with_an_encoder(tmp_path):
    methods = ["sequential", "fewshot_sft"]
    causal = LearnerConfig(strong_model="tiny-llama", mode="head", pooling="last", epochs=2, batch_size=8)
    rows = run_sweep(_tiny_config(tmp_path, methods=methods, budgets=[24.0]), causal)
    by_method = {r["method"]: r for r in rows}
    assert by_method["fewshot_sft"]["n_fewshot"] == 2 and by_method["sequential"]["n_fewshot"] == 0
    assert 0.0 <= by_method["fewshot_sft"]["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="needs a causal LM as strong_model.*'tiny-bert' \\(bert\\)"):
        run_sweep(_tiny_config(tmp_path, run_name="u", methods=methods), TINY_LEARNER)
