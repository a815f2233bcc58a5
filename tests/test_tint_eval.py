"""TInt evaluation (scoring, few-shot prompts), fine-tuning and the sweep recipe on tiny models."""

import json
import sys

import numpy as np
import pytest
import yaml
from datasets import Dataset
from helpers import ROOT, assert_same, run_recipe

from rlnoise.core.power import plan_run
from rlnoise.tint.evaluate import draw_exemplars, few_shot_prompt, score_completions
from rlnoise.tint.sweep import TIntSweepConfig, cell_datasets, sweep_cells
from rlnoise.tint.train import FinetuneConfig

TINY = ("recipes/tint/sweep.py", "recipes/tint/configs/tiny.yaml")


@pytest.mark.parametrize(
    "config", sorted((ROOT / "recipes" / "tint" / "configs").glob("*.yaml")), ids=lambda p: p.name
)
def test_tint_yaml_parses(config, monkeypatch):
    from rlnoise.core.cli import parse_config

    monkeypatch.setattr(sys, "argv", ["sweep.py", "--config", str(config)])
    sweep, finetune = parse_config(TIntSweepConfig, FinetuneConfig)
    assert sweep.tasks and sweep_cells(sweep) and finetune.sft_batch_size > 0
    if config.name != "tiny.yaml":  # every preset that measures the paper's question uses the paper's noise
        assert sweep.noise_semantics == "reference"


def test_score_completions_on_hand_built_outputs():
    outputs = [
        "4 + 7 + 0 = 1 1\n8 + 9 + 1 = 1 8\n1 8 1",  # right answer, both steps consistent
        "4 + 7 + 0 = 1 2\n8 + 9 + 1 = 1 8\n1 8 2",  # wrong answer, one bad step
        "4 + 7 + 0 = 1 1\nthe answer is eleven",  # unparseable last line
        "",  # nothing
    ]
    metrics, rows = score_completions(outputs, ["1 8 1", "1 8 1", "1 1", "5"])
    assert [r["correct"] for r in rows] == [True, False, False, False]
    assert [r["parsed"] for r in rows] == [True, True, False, False]
    assert metrics["exact_match"] == 0.25 and metrics["parse_failure"] == 0.5
    assert metrics["step_accuracy"] == pytest.approx(4 / 5)  # 2 + 1 + 1 consistent of 2 + 2 + 1 steps


def test_few_shot_prompt_and_exemplars():
    train = Dataset.from_dict(
        {"prompt": [f"{i} + 1" for i in range(10)], "completion": [str(i + 1) for i in range(10)]}
    )
    shots = draw_exemplars(train, 3, 4, seed=0)
    assert len(shots) == 4 and all(len(s) == 3 and len({e["prompt"] for e in s}) == 3 for s in shots)
    assert shots == draw_exemplars(train, 3, 4, seed=0)
    text = few_shot_prompt([{"prompt": "1 + 1", "completion": "2"}], "3 + 4")
    assert text == "1 + 1\n2\n\n3 + 4\n"
    with pytest.raises(ValueError, match="k \\(few-shot exemplars\\) must be in \\[0, 10\\]"):
        draw_exemplars(train, 11, 1, seed=0)


def test_finetune_lowers_the_loss_on_traces(tmp_path):
    from rlnoise.tint import make_dataset
    from rlnoise.tint.train import finetune

    train = make_dataset("add", 16, min_digits=1, max_digits=1, seed=0)
    config = FinetuneConfig(model="tiny-llama", sft_learning_rate=3e-3, sft_epochs=2, sft_batch_size=4, max_length=64)
    model, _, log = finetune(train, config, tmp_path / "out")
    losses = [row["loss"] for row in log["loss"]]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.5  # from ~10.8 (uniform over 49k tokens)


def test_sweep_grid_and_bad_config():
    config = TIntSweepConfig(
        tasks=["add", "sort"], contaminations=[0.0, 0.5], static_intensities=[0.2], dynamic_intensities=[0.1, 0.3]
    )
    cells = sweep_cells(config)
    assert [c.id for c in cells] == [
        "add|none|c=0|p=0",
        "add|static|c=0.5|p=0.2",
        "add|dynamic|c=0.5|p=0.1",
        "add|dynamic|c=0.5|p=0.3",
        "sort|none|c=0|p=0",
        "sort|static|c=0.5|p=0.2",
        "sort|dynamic|c=0.5|p=0.1",
        "sort|dynamic|c=0.5|p=0.3",
    ]
    with pytest.raises(ValueError, match="tasks must be one of"):
        TIntSweepConfig(tasks=["pow"])
    with pytest.raises(ValueError, match="static_intensities must be a probability"):
        TIntSweepConfig(static_intensities=[1.5])
    with pytest.raises(ValueError, match="few_shot_k \\(9\\) must be <= n_train \\(4\\)"):
        TIntSweepConfig(n_train=4, few_shot_k=9)
    with pytest.raises(ValueError, match="sft_learning_rate must be a number > 0"):
        FinetuneConfig(sft_learning_rate=0)
    with pytest.raises(ValueError, match="task_digits: 'mul=2-' must read TASK=LO-HI"):
        TIntSweepConfig(tasks=["mul"], task_digits=["mul=2-"])
    with pytest.raises(ValueError, match="task_digits: 'sub=2-3' .* for a task in tasks"):
        TIntSweepConfig(tasks=["add"], task_digits=["sub=2-3"])
    with pytest.raises(ValueError, match="min_digits \\(4\\) must be <= max_digits \\(2\\)"):
        TIntSweepConfig(tasks=["add"], task_digits=["add=4-2"])
    with pytest.raises(ValueError, match="match must be one of"):
        TIntSweepConfig(match="answers")


def test_task_digits_give_each_task_its_own_range():
    config = TIntSweepConfig(tasks=["add", "mul"], min_digits=5, max_digits=8, task_digits=["mul=2-3"], n_train=40)
    assert config.digit_ranges() == {
        "add": {"min_digits": 5, "max_digits": 8},
        "mul": {"min_digits": 2, "max_digits": 3},
    }
    cells = sweep_cells(config)
    for cell in (cells[0], next(c for c in cells if c.task == "mul")):
        train, test = cell_datasets(config, cell)
        prompts = list(train["prompt"]) + list(test["prompt"])
        numbers = [p.split(" + " if cell.task == "add" else " * ") for p in prompts]
        lengths = {len(x.replace(" ", "")) for pair in numbers for x in pair}
        assert lengths <= ({5, 6, 7, 8} if cell.task == "add" else {2, 3}) and len(lengths) > 1


def test_matched_sweep_finds_each_noise_types_intensity_for_the_same_damage():
    """match: the static and dynamic cells of a target do (about) that damage to their own training sets, at very
    different nominal intensities; an unreachable target is a clear error naming the field."""
    from rlnoise.tint.dataset import train_damage

    config = TIntSweepConfig(tasks=["add"], min_digits=5, max_digits=6, n_train=2000, match="line_rate",
                             match_targets=[0.2, 0.4])  # fmt: skip
    cells = [c for c in sweep_cells(config) if c.noise != "none"]
    assert [(c.noise, c.target) for c in cells] == [
        ("static", 0.2),
        ("static", 0.4),
        ("dynamic", 0.2),
        ("dynamic", 0.4),
    ]
    for cell in cells:
        rate = train_damage(cell_datasets(config, cell)[0])["line_rate"]
        assert rate == pytest.approx(cell.target, abs=0.03)  # calibrated on 1,000 problems, checked on 2,000 others
    # equal line damage, unequal answers: static noise spares the answer line, dynamic noise propagates into it
    static, dynamic = (train_damage(cell_datasets(config, c)[0]) for c in (cells[0], cells[2]))
    assert static["wrong_answer_rate"] == 0 and dynamic["wrong_answer_rate"] > 0.1
    with pytest.raises(ValueError, match="match_targets: static noise reaches wrong_answer_rate 0.000 at most"):
        sweep_cells(TIntSweepConfig(tasks=["add"], match="wrong_answer_rate", match_targets=[0.2]))


@pytest.mark.equivalence
def test_tint_sweep_end_to_end_and_resume(tmp_path):
    proc = run_recipe(*TINY, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "tint" / "tint_tiny"
    results = json.loads((out / "results.json").read_text())
    cells = results["cells"]
    assert len(cells) == 6  # (clean, static 0.5, dynamic 0.2) x (finetune, few_shot)
    assert {(c["noise"], c["method"]) for c in cells} == {
        (n, m) for n in ("none", "static", "dynamic") for m in ("finetune", "few_shot")
    }
    for c in cells:
        assert 0 <= c["exact_match"] <= 1 and c["n"] == 6
        assert c["train_noised"] == (0.0 if c["noise"] == "none" else 1.0)
        assert (c["final_train_loss"] is None) == (c["method"] == "few_shot")
    dynamic = next(c for c in cells if c["noise"] == "dynamic")
    assert dynamic["train_answer_wrong"] > 0  # dynamic noise reaches the answers; static noise does not
    assert next(c for c in cells if c["noise"] == "static")["train_answer_wrong"] == 0
    assert (out / "tint.png").stat().st_size > 20_000 and "| add | none |" in (out / "results.md").read_text()
    for c in cells:  # Wilson intervals over the 6 test problems
        em = c["exact_match_interval"]
        assert em["low"] <= c["exact_match"] <= em["high"] and em["high"] - em["low"] > 0.3
    # (static, dynamic) x (finetune, few_shot) exact-match claims against their clean cells, and 2 parse-failure
    # claims of the prompted cells
    assert len(results["claims"]) == 6
    assert sum("raises parse failures" in c["statement"] for c in results["claims"]) == 2
    assert (out / "results.md").read_text().startswith("## Claims")
    # an interrupted sweep: drop the last finished job; the rerun trains only that one and keeps the rest
    lines = (out / "cells.jsonl").read_text().splitlines()
    (out / "cells.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    again = run_recipe(*TINY, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("finished in an earlier run, skipped") == 2 and again.stdout.count(": exact match") == 1
    rerun = json.loads((out / "results.json").read_text())["cells"]
    # the retrained job repeats the same seeded computation in the same process: equal exactly (timings aside)
    timings = ("seconds", "evaluation_seconds")
    assert_same(
        [{k: v for k, v in c.items() if k not in timings} for c in rerun],
        [{k: v for k, v in c.items() if k not in timings} for c in cells],
    )
    # replicate seeds: seed 0's jobs are those above; seed 1 draws its own training problems and noise, and the
    # results pool both (means; intervals from the test set and the spread between seeds)
    replicated = run_recipe(*TINY, tmp_path, "--seeds", "0", "1")
    assert replicated.returncode == 0, replicated.stderr[-3000:]
    assert replicated.stdout.count("finished in an earlier run, skipped") == 3
    assert replicated.stdout.count(": exact match") == 6
    pooled = json.loads((out / "results.json").read_text())
    assert pooled["seeds"] == [0, 1] and len(pooled["by_seed"]) == 12 and len(pooled["claims"]) == 6
    for c in pooled["cells"]:
        runs = [r for r in pooled["by_seed"] if r["cell"] == c["cell"] and r["method"] == c["method"]]
        assert sorted(r["seed"] for r in runs) == [0, 1] and c["seeds"] == [0, 1]
        assert c["exact_match"] == pytest.approx(np.mean([r["exact_match"] for r in runs]))
        em = c["exact_match_interval"]
        assert em["low"] <= c["exact_match"] <= em["high"]
    config = TIntSweepConfig(**{k: v for k, v in yaml.safe_load((ROOT / TINY[1]).read_text()).items() if k in
                                 TIntSweepConfig.__dataclass_fields__})  # fmt: skip
    (train0, test0), (train1, test1) = (cell_datasets(config, sweep_cells(config)[1], r) for r in (0, 1))
    assert test0["prompt"] == test1["prompt"] and train0["prompt"] != train1["prompt"]
    assert "pooled over 2 replicate seeds" in (out / "results.md").read_text()
    # the power planner reads each claim's problems x seeds table and prices plans by the jobs' own timings (each
    # job logs its training and its evaluation; the 6 jobs of seed 0 finished in the earlier run)
    jobs = [s for s in pooled["stages"] if s["stage"].endswith(("(training)", "(evaluation)"))]
    assert sorted(s["cached"] for s in jobs) == [False] * 12 + [True] * 12
    cost, plans = plan_run(pooled)
    assert cost.per_seed > 0 and cost.per_unit_seed > 0
    exact_match = [p for p in plans if "lowers exact match" in p.statement]  # paired per problem: tables
    assert exact_match and all((p.units, p.seeds) == (config.n_test, 2) for p in exact_match)
    # a rerun with other training settings never reports the old cells: it stops, naming the fields
    other = run_recipe(*TINY, tmp_path, "--n_train", "8", "--seed", "5")
    assert other.returncode != 0 and "n_train" in other.stderr and "seed: 0 -> 5" in other.stderr
    assert "finished in an earlier run, skipped" not in other.stdout


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


def test_tint_claims_compare_each_noisy_cell_with_its_clean_cell():
    from rlnoise.tint.sweep import tint_claims

    def row(noise, intensity, em, method="finetune"):
        return dict(task="add", method=method, noise=noise, intensity=intensity, contamination=1.0, exact_match=em,
                    n=100, parse_failure=0.0, step_accuracy=em)  # fmt: skip

    rows = [row("none", 0, 0.95), row("static", 0.7, 0.50), row("dynamic", 0.2, 0.93), row("static", 0.3, 0.9, "x")]
    claims = tint_claims(rows)
    assert [c.verdict for c in claims] == ["holds", "unresolved"]  # the "x" method has no clean cell: no claim
    assert claims[0].interval.estimate == pytest.approx(0.45) and "static noise, intensity 0.7" in claims[0].statement


def test_tint_claims_pair_cells_over_the_shared_test_problems():
    """Rows that kept their per-problem results are compared problem by problem (the claim keeps the differences,
    so seeds pool on the problems x seeds table); the paired interval is narrower than Newcombe's when the two
    cells fail on the same problems."""
    from rlnoise.tint.sweep import tint_claims

    def row(noise, correct):
        rate = correct.count("1") / len(correct)
        return dict(task="add", method="finetune", noise=noise, intensity=0.5, contamination=1.0, n=len(correct),
                    exact_match=rate, parse_failure=0.0, test_correct=correct)  # fmt: skip

    clean, noisy = "1" * 30 + "0" * 10, "1" * 24 + "0" * 16  # the noisy cell loses 6 problems the clean one solved
    (paired,) = tint_claims([row("none", clean), row("static", noisy)])
    assert (
        paired.interval.estimate == pytest.approx(6 / 40)
        and paired.table[:, 0].tolist() == [0] * 24 + [1] * 6 + [0] * 10
    )
    unpaired = tint_claims(
        [{k: v for k, v in r.items() if k != "test_correct"} for r in (row("none", clean), row("static", noisy))]
    )[0]
    assert paired.verdict == "holds" and unpaired.verdict == "unresolved"


def test_tint_claims_contrast_static_and_dynamic_noise_at_matched_damage():
    """The paper's ordering: cells matched to the same damage and contamination give one claim, static minus
    dynamic exact match paired per test problem; unmatched cells (no target) give none."""
    from rlnoise.tint.sweep import tint_claims

    def row(noise, correct, target=0.4):
        return dict(task="add", method="finetune", noise=noise, intensity=0.1, contamination=1.0, n=len(correct),
                    exact_match=correct.count("1") / len(correct), parse_failure=0.0, test_correct=correct,
                    match_target=target)  # fmt: skip

    clean, static, dynamic = "1" * 40, "1" * 38 + "0" * 2, "1" * 20 + "0" * 20
    claims = tint_claims([row("none", clean, None), row("static", static), row("dynamic", dynamic)])
    (contrast,) = [c for c in claims if "more than static" in c.statement]
    assert contrast.interval.estimate == pytest.approx(18 / 40) and contrast.verdict == "holds"
    assert contrast.table[:, 0].tolist() == [0] * 20 + [1] * 18 + [0] * 2
    unmatched = tint_claims([row("none", clean, None), row("static", static, None), row("dynamic", dynamic, None)])
    assert not [c for c in unmatched if "more than static" in c.statement]


def test_tint_claims_of_prompted_cells_also_compare_parse_failures():
    from rlnoise.tint.sweep import tint_claims

    def row(noise, em, parse_failure):
        return dict(task="add", method="few_shot", noise=noise, intensity=0.3, contamination=1.0, exact_match=em,
                    n=200, parse_failure=parse_failure, step_accuracy=em)  # fmt: skip

    claims = tint_claims([row("none", 0.15, 0.10), row("static", 0.10, 0.40)])
    assert [c.statement.split(": ", 1)[1] for c in claims] == [
        "static noise, intensity 0.3, contamination 1 lowers exact match (clean minus noisy)",
        "static noise, intensity 0.3, contamination 1 raises parse failures (noisy minus clean)",
    ]
    assert claims[1].interval.estimate == pytest.approx(0.30) and claims[1].verdict == "holds"
    assert claims[0].verdict == "unresolved"  # 0.05 on 200 problems each


def test_converge_trains_the_clean_cell_to_target_and_gives_noisy_cells_its_steps(tmp_path):
    """converge: the clean cell trains until held-out exact match reaches the target or the step cap (checked every
    converge_every steps, recorded); each noisy cell then trains exactly the clean cell's steps; every fine-tuned
    row records its loss curve. A resumed sweep reads the clean cell's steps from its row."""
    flags = ("--converge", "0.99", "--converge_max_steps", "6", "--converge_every", "3", "--methods", "finetune",
             "--converge_problems", "4")  # fmt: skip
    proc = run_recipe(*TINY, tmp_path, *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "tint" / "tint_tiny"
    rows = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    clean = next(r for r in rows if r["noise"] == "none")
    assert clean["converged"] is False and clean["steps"] == 6  # a tiny random model never reaches 0.99
    assert [step for step, _ in clean["convergence_checks"]] == [3, 6]
    for r in rows:
        assert r["steps"] == 6 and r["loss_curve"] and r["loss_curve"][0][0] <= r["loss_curve"][-1][0] <= 6
        assert (r["converged"] is None) == (r["noise"] != "none")
    lines = (out / "cells.jsonl").read_text().splitlines()  # drop a noisy cell; the rerun trains it 6 steps again
    (out / "cells.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    again = run_recipe(*TINY, tmp_path, *flags)
    assert again.returncode == 0, again.stderr[-3000:]
    redone = json.loads((out / "cells.jsonl").read_text().splitlines()[-1])
    assert redone["steps"] == 6 and redone["cell"] == json.loads(lines[-1])["cell"]
