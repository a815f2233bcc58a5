"""Label-budget planning: cost model, frontier, regimes, losses, binary tasks and splits, planner (pure parts)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.core.tasks import load_task, stratified_order
from rlnoise.elicitation import (
    BINARY_TASKS,
    Spend,
    binary_task,
    label_cost,
    make_splits,
    pareto_frontier,
    plan,
    regime,
    split_budget,
)
from rlnoise.elicitation.analysis import rescore, summarize
from rlnoise.elicitation.losses import log_confidence_loss, most_uncertain, soft_cross_entropy
from rlnoise.elicitation.methods import METHODS
from rlnoise.elicitation.weak import fit_logistic, weak_labels

# --- cost model -------------------------------------------------------------------------------------------------


def test_label_cost_and_spend_charge_validation_and_fewshot_labels():
    assert label_cost(100, 20, 0.1) == pytest.approx(30.0)
    assert label_cost(0, 0, 0.5) == 0
    spend = Spend(n_weak=100, n_gold=20, n_val=8, n_fewshot=4)
    assert spend.cost(0.1) == pytest.approx(100 * 0.1 + 20 + 8 + 4)
    assert spend.cost(1.0) == 132


def test_split_budget_on_hand_built_cases():
    assert split_budget(100, 0.3, 0.1) == Spend(300, 70, 0, 0)  # 30 -> 300 weak labels, 70 gold
    assert split_budget(100, 0.0, 0.1, n_val=10, n_fewshot=5) == Spend(0, 85, 10, 5)
    assert split_budget(100, 1.0, 0.25, n_val=10) == Spend(360, 0, 10, 0)
    assert split_budget(10, 0.5, 0.3) == Spend(16, 5, 0, 0)  # 5 / 0.3 = 16.67 -> 16 weak (4.8), 5.2 -> 5 gold


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1, 1e5),
    st.floats(0, 1),
    st.floats(1e-3, 1),
    st.integers(0, 50),
    st.integers(0, 50),
)
def test_split_budget_never_overspends_and_wastes_less_than_a_weak_label(budget, f, wmc, n_val, k):
    if n_val + k > budget:
        with pytest.raises(ValueError, match="budget"):
            split_budget(budget, f, wmc, n_val=n_val, n_fewshot=k)
        return
    s = split_budget(budget, f, wmc, n_val=n_val, n_fewshot=k)
    cost = s.cost(wmc)
    assert cost <= budget * (1 + 1e-9)
    # What is left buys no further weak label (no further gold label at f = 0, which buys no weak labels). This
    # used to allow 1 + wmc: weak labels were floored first and never topped up, so up to a gold label's worth of
    # budget went unspent (budget 16, wmc 0.1: 32 weak + 12 gold = 15.2 where 40 weak + 12 gold = 16 fits).
    assert budget - cost < (wmc if f > 0 else 1.0) + 1e-9 * budget
    assert s.n_weak * wmc > f * (budget - n_val - k) - wmc - 1e-9 * budget  # at least the weak share, to one label
    assert f > 0 or s.n_weak == 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: label_cost(-1, 0, 0.1), "n_weak"),
        (lambda: label_cost(1, 2.5, 0.1), "n_gold"),
        (lambda: label_cost(1, 1, 0), "weak_marginal_cost"),
        (lambda: label_cost(1, 1, 1.5), "weak_marginal_cost"),
        (lambda: split_budget(0, 0.5, 0.1), "budget"),
        (lambda: split_budget(float("inf"), 0.5, 0.1), "budget"),
        (lambda: split_budget(10, 1.2, 0.1), "weak_fraction"),
        (lambda: split_budget(10, -0.1, 0.1), "weak_fraction"),
        (lambda: split_budget(10, 0.5, 0.1, n_val=8, n_fewshot=4), "validation"),
    ],
)
def test_bad_costs_budgets_and_fractions_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- frontier and regimes ---------------------------------------------------------------------------------------


def test_frontier_on_hand_built_points():
    costs = [10, 20, 30, 40, 50]
    accs = [0.60, 0.55, 0.70, 0.70, 0.80]
    assert pareto_frontier(costs, accs, cost_rtol=0, perf_atol=0) == [0, 2, 4]  # 1 dominated, 3 ties 2 at more cost
    # unsorted input: indices refer to the input, output in increasing cost
    assert pareto_frontier([50, 10, 30], [0.8, 0.6, 0.7], cost_rtol=0, perf_atol=0) == [1, 2, 0]


def test_frontier_ties_keep_the_first_of_equal_points():
    assert pareto_frontier([5, 5, 5], [0.7, 0.7, 0.6], cost_rtol=0, perf_atol=0) == [0]
    assert pareto_frontier([5, 5], [0.6, 0.7], cost_rtol=0, perf_atol=0) == [1]  # same cost: the better one


def test_frontier_tolerances():
    # perf_atol: a dearer point must gain more than the tolerance
    assert pareto_frontier([10, 20], [0.700, 0.701], cost_rtol=0, perf_atol=0.002) == [0]
    assert pareto_frontier([10, 20], [0.700, 0.703], cost_rtol=0, perf_atol=0.002) == [0, 1]
    # cost_rtol: costs within 5% count as equal, so the cheaper-but-worse point leaves the frontier
    assert pareto_frontier([100, 104], [0.70, 0.75], cost_rtol=0.05, perf_atol=0) == [1]
    assert pareto_frontier([100, 106], [0.70, 0.75], cost_rtol=0.05, perf_atol=0) == [0, 1]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 20)), min_size=1, max_size=25))
def test_frontier_properties(points):
    costs = [float(c) for c, _ in points]
    accs = [a / 20 for _, a in points]
    front = pareto_frontier(costs, accs, cost_rtol=0, perf_atol=0)
    fc, fa = [costs[i] for i in front], [accs[i] for i in front]
    assert fc == sorted(fc) and all(b > a for a, b in zip(fa, fa[1:]))  # cheapest first, strictly improving
    for i in range(len(points)):  # every point is matched by a frontier point at most as expensive
        assert any(costs[j] <= costs[i] and accs[j] >= accs[i] for j in front)


def test_frontier_bad_input():
    with pytest.raises(ValueError, match="same length"):
        pareto_frontier([1, 2], [0.5])
    with pytest.raises(ValueError, match="costs must be >= 0"):
        pareto_frontier([-1], [0.5])
    with pytest.raises(ValueError, match="finite"):
        pareto_frontier([1], [float("nan")])


def test_regime_detection():
    assert regime([0, 0.5, 1], [0.8, 0.7, 0.6]) == "quality-dominant"
    assert regime([0, 0.5, 1], [0.6, 0.7, 0.8]) == "quantity-dominant"
    assert regime([0, 0.5, 0.9, 1], [0.6, 0.8, 0.7, 0.6]) == "mixed"
    assert regime([0, 0.5, 1], [0.7, 0.7, 0.7]) == "quality-dominant"  # ties go to the smaller fraction
    assert regime([0.5, 1], [0.6, 0.6]) == "mixed"
    with pytest.raises(ValueError, match="weak_fractions"):
        regime([0, 1.5], [0.5, 0.6])


# --- losses -----------------------------------------------------------------------------------------------------


def test_soft_cross_entropy_matches_its_formula_and_hard_labels():
    logits = torch.tensor([[0.0, math.log(3.0)], [2.0, 0.0]])  # p1 = 0.75 and 1 / (1 + e^2)
    targets = torch.tensor([0.8, 0.0])
    p1 = torch.tensor([0.75, 1 / (1 + math.e**2)])
    expected = -(0.8 * torch.log(p1[0]) + 0.2 * torch.log(1 - p1[0]) + torch.log(1 - p1[1])) / 2
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    hard = torch.tensor([1.0, 0.0])
    assert soft_cross_entropy(logits, hard).item() == pytest.approx(F.cross_entropy(logits, hard.long()).item())


def test_log_confidence_loss_mixes_targets_with_hardened_predictions():
    logits = torch.tensor([[0.0, 2.0], [0.0, 1.0], [0.0, -1.0], [0.0, -3.0]])  # p1 ranks 0 > 1 > 2 > 3
    targets = torch.tensor([0.2, 0.4, 0.6, 0.8])  # weak labels that disagree with the model
    hardened = torch.tensor([1.0, 1.0, 0.0, 0.0])  # above / below the median of p1
    assert log_confidence_loss(logits, targets, 0.0).item() == pytest.approx(
        soft_cross_entropy(logits, targets).item()
    )
    assert log_confidence_loss(logits, targets, 1.0).item() == pytest.approx(
        soft_cross_entropy(logits, hardened).item()
    )
    mixed = 0.7 * soft_cross_entropy(logits, targets) + 0.3 * soft_cross_entropy(logits, hardened)
    assert log_confidence_loss(logits, targets, 0.3).item() == pytest.approx(mixed.item())
    with pytest.raises(ValueError, match="logits must have shape"):
        soft_cross_entropy(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="alpha"):
        log_confidence_loss(logits, targets, 1.5)


def test_most_uncertain_picks_probabilities_nearest_one_half():
    assert most_uncertain([0.9, 0.52, 0.1, 0.45, 0.5], 3) == [4, 1, 3]
    assert most_uncertain([0.6, 0.4], 2) == [0, 1]  # tie: lower index first
    with pytest.raises(ValueError, match="n must be"):
        most_uncertain([0.5], 2)


# --- tasks and splits -------------------------------------------------------------------------------------------


# MultiEmo needs `make multiemo`; its loader is tested on a BIG-bench-shaped archive in test_sentiment.py
@pytest.mark.parametrize("task", [t for t in BINARY_TASKS if not t.startswith("multiemo")])
def test_binary_tasks_are_balanced_and_deterministic(task):
    data = binary_task(task, seed=3)
    labels = data["label"]
    assert sum(labels) * 2 == len(labels) and len(labels) > 400
    assert binary_task(task, seed=3)["text"] == data["text"]
    assert binary_task(task, seed=4)["label"] != labels or task == "boolq"


def test_multiple_choice_conversion_shows_the_correct_answer_exactly_for_positives():
    source = load_task("openbookqa")
    data = binary_task("openbookqa", seed=0)
    for row in data:
        i = int(row["id"].split("-")[-1])
        options, gold = source[i]["options"], source[i]["label"]
        shown = row["text"].rsplit("Answer: ", 1)[1]
        assert (shown == options[gold].strip()) == (row["label"] == 1)
        assert shown in [o.strip() for o in options]


def test_splits_are_disjoint_balanced_and_cover_the_task():
    data = binary_task("piqa")
    s = make_splits(data, n_test=200, n_weak_train=100, seed=1)
    parts = [s.test, s.weak_train, s.weak_pool, s.gold_pool]
    flat = [i for p in parts for i in p]
    assert len(flat) == len(set(flat)) == len(data)
    labels = data["label"]
    for part in parts:
        assert abs(2 * sum(labels[i] for i in part) - len(part)) <= 1
    assert make_splits(data, n_test=200, n_weak_train=100, seed=1).test == s.test
    with pytest.raises(ValueError, match="n_test"):
        make_splits(data, n_test=0, n_weak_train=10)
    with pytest.raises(ValueError, match="leaves no pool"):
        make_splits(data, n_test=1000, n_weak_train=600)


def test_stratified_order_prefixes_are_balanced():
    labels = [1] * 30 + [0] * 50
    order = stratified_order(labels, "x")
    assert sorted(order) == list(range(80))
    for n in range(1, 61):
        assert abs(2 * sum(labels[i] for i in order[:n]) - n) <= 1


def test_weak_labeler_refuses_to_label_its_own_training_rows():
    data = binary_task("openbookqa")
    s = make_splits(data, n_test=100, n_weak_train=100)
    s.weak_pool = s.weak_pool + s.weak_train[:3]  # a leak, as in the reference code
    with pytest.raises(ValueError, match="overlap"):
        weak_labels(s, model="tiny-bert")


def test_logistic_weak_labeler_learns_a_separable_task():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    predict = fit_logistic(x[:150], y[:150])
    probs = predict(x[150:])
    assert np.mean((probs > 0.5) == y[150:]) > 0.9 and probs.min() >= 0 and probs.max() <= 1


# --- re-scoring and planning ------------------------------------------------------------------------------------


def _synthetic_rows():
    """A sweep of two methods at budgets 100 and 400 (wmc 0.1, n_val 10): gold-only and weak-then-gold at 0.5."""
    rows = []
    for budget, gold_acc, seq_acc in ((100, 0.60, 0.70), (400, 0.80, 0.75)):
        for seed, noise in ((0, -0.01), (1, 0.01)):
            g = split_budget(budget, 0.0, 0.1, n_val=10)
            q = split_budget(budget, 0.5, 0.1, n_val=10)
            rows.append(
                dict(
                    task="t",
                    method="sft_gold",
                    budget=budget,
                    weak_fraction=0.0,
                    seed=seed,
                    n_test=1000,
                    accuracy=gold_acc + noise,
                    **vars(g),
                )
            )
            rows.append(
                dict(
                    task="t",
                    method="sequential",
                    budget=budget,
                    weak_fraction=0.5,
                    seed=seed,
                    n_test=1000,
                    accuracy=seq_acc + noise,
                    **vars(q),
                )
            )
    return rows


def test_auroc_on_hand_built_scores():
    from rlnoise.elicitation.analysis import auroc

    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auroc([0.5, 0.5], [0, 1]) == 0.5  # a tie counts half
    assert auroc([9.0, 1.0, 2.0], [1, 0, 0]) == 1.0 and auroc([0, 1], [1, 0]) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        auroc([0.1, 0.2], [1, 1])


def test_rescore_recomputes_costs_without_retraining():
    rows = _synthetic_rows()
    seq = [r for r in rescore(rows, 0.05) if r["method"] == "sequential" and r["budget"] == 100][0]
    assert seq["cost"] == pytest.approx(450 * 0.05 + 45 + 10)  # 450 weak, 45 gold, 10 validation
    summary = summarize(rows, 0.1)
    assert {(s["method"], s["budget"]): s["accuracy"] for s in summary}[("sequential", 100)] == pytest.approx(0.70)
    assert all(s["seeds"] == 2 and s["cost"] <= s["budget"] + 1e-9 for s in summary)


def test_planner_on_a_synthetic_sweep():
    rows = _synthetic_rows()
    small = plan(rows, 100, 0.1, "t")
    assert small["method"] == "sequential" and small["regime"] == "mixed"
    assert (small["n_weak"], small["n_gold"], small["n_val"]) == (450, 45, 10)
    assert small["band"][0] < 0.70 < small["band"][1]
    large = plan(rows, 400, 0.1, "t")
    assert large["method"] == "sft_gold" and large["regime"] == "quality-dominant" and large["n_gold"] == 390
    mid = plan(rows, 200, 0.1, "t")  # log-cost interpolation: halfway in log between 100 and 400
    assert mid["interpolated_between"] == [100, 400]
    assert mid["expected_accuracy"] == pytest.approx(0.725)  # sequential: 0.70 -> 0.75; gold: 0.60 -> 0.80 = 0.70
    assert mid["method"] == "sequential" and mid["cost"] <= 200
    assert mid["n_weak"] == pytest.approx(450 + (1950 - 450) / 3, abs=1)  # labels linear in cost: 1/3 of the way
    beyond = plan(rows, 1000, 0.1, "t")
    assert beyond["cost"] == 400 and beyond["notes"]  # read at the largest swept budget, says it leaves budget
    with pytest.raises(ValueError, match="below the cheapest"):
        plan(rows, 20, 0.1, "t")
    with pytest.raises(ValueError, match="not in this sweep"):
        plan(rows, 100, 0.1, "other")
    with pytest.raises(ValueError, match="budget"):
        plan(rows, -5, 0.1, "t")


def test_method_registry_fractions_and_spends():
    swept = [0.0, 0.25, 0.5, 1.0]
    assert METHODS["sft_gold"].fractions(swept) == [0.0]
    assert METHODS["sft_weak"].fractions(swept) == [1.0]
    assert METHODS["sequential"].fractions(swept) == [0.25, 0.5]
    assert METHODS["fewshot_prompt"].spend(500, 0.0, 0.1, n_val=16, k=4) == Spend(0, 0, 0, 4)
    assert METHODS["fewshot_sft"].spend(100, 0.5, 0.1, n_val=16, k=4) == Spend(400, 40, 16, 4)
    assert METHODS["sft_weak"].spend(100, 1.0, 0.5, n_val=10, k=4) == Spend(180, 0, 10, 0)


def test_regime_is_called_only_beyond_the_intervals():
    from rlnoise.elicitation.frontier import decided_regime

    fractions, accs = [0, 0.5, 1], [0.60, 0.70, 0.80]
    called, margins = decided_regime(fractions, accs, [0.01, 0.01, 0.01])
    assert called == "quantity-dominant"
    assert margins["0.5"]["estimate"] == pytest.approx(0.1)
    assert margins["0.5"]["low"] == pytest.approx(0.1 - 1.959963984540054 * math.sqrt(2) * 0.01)
    assert decided_regime(fractions, accs, [0.05, 0.05, 0.05])[0] == "unresolved"  # a 0.1 lead within noise
    assert decided_regime([0, 1], [0.7, 0.7], [0.0, 0.0])[0] == "unresolved"  # a tie is never a regime
    with pytest.raises(ValueError, match="standard_errors"):
        decided_regime(fractions, accs, [0.01])


def test_method_effects_pair_each_seed_over_the_test_examples_then_pool_seeds():
    from rlnoise.core.stats import correctness_difference, paired_accuracy_difference
    from rlnoise.core.variance import table_interval
    from rlnoise.elicitation.analysis import method_effects

    def row(method, seed, correct, **extra):
        return dict(task="t", budget=24.0, weak_fraction=0.5, seed=seed, method=method, n_test=len(correct),
                    accuracy=correct.count("1") / len(correct), test_correct=correct, **extra)  # fmt: skip

    rows = [
        row("fewshot_sft", 0, "1111011110" * 4),
        row("sequential", 0, "1101011100" * 4),
        row("fewshot_sft", 1, "1111111110" * 4),
        row("sequential", 1, "1111011110" * 4),
        row("sft_gold", 0, "0000000000" * 4),  # another method: ignored
        row("fewshot_sft", 2, "1" * 40),  # no baseline at this seed: ignored
    ]
    (effect,) = method_effects(rows, "fewshot_sft", "sequential")
    assert effect["seeds"] == 2 and effect["difference"]["estimate"] == pytest.approx((0.2 + 0.1) / 2)
    # seeds pool on the examples x seeds table of per-example differences (the two-way model)
    table = np.column_stack([correctness_difference(rows[0]["test_correct"], rows[1]["test_correct"]),
                             correctness_difference(rows[2]["test_correct"], rows[3]["test_correct"])])  # fmt: skip
    want = table_interval(table)
    assert {k: effect["difference"][k] for k in ("estimate", "low", "high")} == pytest.approx(
        dict(estimate=want.estimate, low=want.low, high=want.high)
    )
    assert effect["difference"]["units_by_seeds"] == table.tolist()
    # rows from before per-example results were kept: an unpaired (wider) interval from the accuracies
    old = [{k: v for k, v in r.items() if k != "test_correct"} for r in rows[:2]]
    (unpaired,) = method_effects(old, "fewshot_sft", "sequential")
    width = unpaired["difference"]["high"] - unpaired["difference"]["low"]
    paired_width = paired_accuracy_difference(rows[0]["test_correct"], rows[1]["test_correct"]).high - (
        paired_accuracy_difference(rows[0]["test_correct"], rows[1]["test_correct"]).low
    )
    assert unpaired["difference"]["estimate"] == pytest.approx(0.2) and width > paired_width


def test_regime_leads_pair_each_seed_over_the_test_examples_and_keep_the_table():
    """With the cell rows, each fraction's lead is the best methods' per-example difference within a seed, pooled
    over seeds by the two-way model (the planner reads its table); the regime is called only if every lead's
    interval clears 0. Without per-example results the leads fall back to independent standard errors."""
    from rlnoise.core.stats import correctness_difference
    from rlnoise.core.variance import table_interval
    from rlnoise.elicitation.analysis import regimes, summarize
    from rlnoise.elicitation.report import elicitation_claims

    def row(method, f, seed, correct):
        n_weak = 0 if f == 0 else 10
        return dict(task="t", budget=24.0, weak_fraction=f, seed=seed, method=method, n_test=len(correct),
                    n_weak=n_weak, n_gold=10 - n_weak // 10, n_val=0, n_fewshot=0,
                    accuracy=correct.count("1") / len(correct), test_correct=correct)  # fmt: skip

    rows = [
        row("sft_gold", 0.0, 0, "1100110011" * 6),
        row("sft_gold", 0.0, 1, "1000110011" * 6),
        row("sequential", 0.5, 0, "1110111011" * 6),  # the best at 0.5: +0.2 and +0.3 over gold-only
        row("sequential", 0.5, 1, "1110111011" * 6),
        row("sft_weak", 0.5, 0, "0000000000" * 6),  # worse at the same fraction: not the one compared
        row("sft_weak", 0.5, 1, "0000000000" * 6),
    ]
    (r,) = regimes(summarize(rows, 0.1), rows)
    table = np.column_stack([correctness_difference(rows[2 + s]["test_correct"], rows[s]["test_correct"])
                             for s in (0, 1)])  # fmt: skip
    want = table_interval(table)
    lead = r["margins"]["0"]
    assert lead["estimate"] == pytest.approx(0.25) and lead["units_by_seeds"] == table.tolist()
    assert (lead["low"], lead["high"]) == pytest.approx((want.low, want.high))
    # two seeds that disagree by 0.1: one degree of freedom for the seed spread, so the lead is not decided
    assert r["best_fraction"] == 0.5 and r["leading_regime"] == "mixed" and want.low < 0
    assert r["regime"] == "unresolved"
    (claim,) = elicitation_claims({"regimes": [r]})
    assert claim.table.shape == (60, 2) and claim.interval.estimate == pytest.approx(0.25)
    # rows without per-example results: the leads from the accuracies' standard errors, as before
    old = [{k: v for k, v in x.items() if k != "test_correct"} for x in rows]
    (unpaired,) = regimes(summarize(old, 0.1), old)
    assert "units_by_seeds" not in unpaired["margins"]["0"]
    assert unpaired["margins"]["0"]["estimate"] == pytest.approx(0.25)
