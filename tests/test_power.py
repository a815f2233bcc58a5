"""The power planner on hand-built results: exact predictions, the cheapest allocation by brute force, the cost
model, the reasons it gives, and the command."""

import itertools
import json
import math

import numpy as np
import pytest
from scipy.stats import t

from rlnoise.core.power import CostModel, cheapest_allocation, plan_claim, smallest_units
from rlnoise.core.stats import Claim, Interval, pool_seed_claims
from rlnoise.core.variance import VarianceComponents, table_interval
from rlnoise.power import main


def test_predicted_half_width_by_hand():
    """unit 2, seed 1, interaction 4 at 10 units x 4 seeds: expected mean squares 4 + 4 * 2 = 12 (units, 9 df),
    4 + 10 * 1 = 14 (seeds, 3 df), 4 (residual, 27 df); both components on, so the residual enters with -1."""
    c = VarianceComponents(unit=2.0, seed=1.0, interaction=4.0)
    q = lambda df: t.ppf(0.975, df) ** 2  # noqa: E731
    expected = math.sqrt((12 * q(9) + 14 * q(3) - 4 * q(27)) / 40)
    assert c.half_width(10, 4) == pytest.approx(expected)
    # a component at 0 is off: the seed part drops and the residual's weight is 1 - 1 = 0
    no_seed = VarianceComponents(unit=2.0, seed=0.0, interaction=4.0)
    assert no_seed.half_width(10, 4) == pytest.approx(math.sqrt(12 * q(9) / 40))


def test_half_width_falls_with_units():
    c = VarianceComponents(unit=0.3, seed=0.2, interaction=2.0)
    for seeds in (1, 2, 3, 7):
        widths = [c.half_width(u, seeds) if seeds > 1 else c.half_width(u, 1) for u in range(2, 300)]
        assert all(a >= b for a, b in zip(widths, widths[1:]))


def test_smallest_units_is_the_first_below_the_target():
    c = VarianceComponents(unit=0.5, seed=0.1, interaction=1.0)
    units = smallest_units(c, 10, 0.35, 10_000)
    assert c.half_width(units, 10) <= 0.35 < c.half_width(units - 1, 10)
    # with 4 seeds the seed part alone keeps it wider: t(3) sqrt(0.1 / 4) = 0.50
    assert smallest_units(c, 4, 0.35, 10_000) is None


@pytest.mark.parametrize("components", [(0.5, 0.1, 1.0), (0.05, 0.4, 0.5), (0.2, 0.0, 3.0)])
def test_cheapest_allocation_matches_brute_force(components):
    c = VarianceComponents(*components)
    cost = CostModel(fixed=10.0, per_unit=0.7, per_seed=30.0, per_unit_seed=0.2)
    target = 0.4
    grid = [
        (cost.seconds(u, s), u, s)
        for u, s in itertools.product(range(2, 200), range(3, 26))
        if c.half_width(u, s) <= target
    ]
    best = min(grid)
    found = cheapest_allocation(c, target, cost, max_units=199, max_seeds=25)
    assert found is not None and cost.seconds(*found) == pytest.approx(best[0])


def test_cost_model_from_stage_timings():
    results = dict(
        seconds=100.0,
        stages=[
            dict(stage="pool", key="a", seconds=32.0, scales="units", cached=False),
            dict(stage="pairs", key="b", seconds=10.0, scales="fixed", cached=True),  # built by an earlier run
            dict(stage="ensemble", key="c", seconds=12.0, scales="seeds", cached=False),
            dict(stage="ensemble", key="d", seconds=14.0, scales="seeds", cached=False),
            dict(stage="pairs", key="b", seconds=10.0, scales="fixed", cached=True),  # asked for again: counted once
            dict(stage="proxy", key="e", seconds=6.4, scales="units x seeds", cached=False),
        ],
    )
    cost = CostModel.from_results(results, units=16, seeds=2)
    # outside the stages: 100 - (32 + 12 + 14 + 6.4) = 35.6 s, fixed; plus the cached pairs' 10 s
    assert cost.fixed == pytest.approx(45.6)
    assert (cost.per_unit, cost.per_seed, cost.per_unit_seed) == pytest.approx((2.0, 13.0, 0.2))
    assert cost.seconds(16, 2) == pytest.approx(110.0)  # the run itself, with its cached stage rebuilt
    results["stages"][0]["seconds"] = None  # a stage built before timings were recorded
    assert CostModel.from_results(results, 16, 2) is None


def _claim(table, statement="x"):
    return Claim(statement, table_interval(table), table=np.asarray(table))


def test_plan_at_the_run_size_predicts_its_own_interval():
    rng = np.random.default_rng(1)
    table = rng.normal(0.3, 1.0, (20, 3)) + rng.normal(0, 0.3, (1, 3))
    claim = _claim(table)
    plan = plan_claim(claim, target=claim.interval.high - claim.interval.estimate)
    assert (plan.units, plan.seeds) == (20, 3)
    assert plan.allocation["half_width"] <= plan.target
    assert plan.half_width == pytest.approx(plan.target)
    # the allocation's width is the components' prediction
    c = VarianceComponents.from_table(table)
    assert plan.allocation["half_width"] == c.half_width(plan.allocation["units"], plan.allocation["seeds"])


def test_plan_reasons():
    zeros = _claim(np.zeros((8, 3)))
    zeros = Claim(zeros.statement, zeros.interval, table=zeros.table, note="a larger n would")
    plan = plan_claim(zeros)
    assert plan.allocation is None and "cannot move it" in plan.reason and "a larger n would" in plan.reason
    assert "no per-unit values" in plan_claim(Claim("y", Interval(1.0, 0.0, 2.0))).reason
    one_seed = plan_claim(_claim(np.random.default_rng(0).normal(1.0, 1.0, (10, 1))))
    assert one_seed.allocation["seeds"] == 1 and "one seed" in one_seed.reason
    cost = CostModel(fixed=0.0, per_unit=3600.0, per_seed=0.0, per_unit_seed=0.0)
    slow = plan_claim(_claim(np.random.default_rng(0).normal(0.2, 1.0, (10, 3))), cost, hours=1.0)
    assert slow.reason.startswith("not decidable within 1 h")
    # every reason that applies is given: a one-seed run that would also take too long says both
    slow_one_seed = plan_claim(_claim(np.random.default_rng(0).normal(0.2, 1.0, (10, 1))), cost, hours=1.0)
    assert slow_one_seed.reason.startswith("not decidable within 1 h") and "; one seed:" in slow_one_seed.reason


def test_a_fixed_test_set_caps_the_units_a_plan_may_ask_for():
    """Units that are a fixed task's test examples cannot grow past the task: with a unit-dominated claim the
    uncapped plan asks for more examples than exist, the capped one buys seeds or says it cannot be done; the cap
    survives results.json and pooling over seeds."""
    rng = np.random.default_rng(3)
    table = rng.normal(0.05, 1.0, (200, 3))  # unit variance only: more examples is the cheap lever
    cost = CostModel(fixed=0.0, per_unit=0.0, per_seed=1000.0, per_unit_seed=0.01)  # seeds are the dear part
    free = plan_claim(_claim(table), cost)
    assert free.allocation["units"] > 100 and free.allocation["seeds"] == 3
    capped_claim = Claim("x", table_interval(table), table=table, max_units=100)
    capped = plan_claim(capped_claim, cost)
    assert capped.allocation["units"] <= 100 and capped.allocation["seeds"] > 3
    hopeless = plan_claim(Claim("x", table_interval(table), table=table, max_units=10), cost, target=1e-3)
    assert hopeless.allocation is None and "the 10 units its data holds" in hopeless.reason
    assert Claim.from_dict(capped_claim.as_dict()).max_units == 100
    (pooled,) = pool_seed_claims([[capped_claim], [capped_claim]])
    assert pooled.max_units == 100


def test_command_table_json_and_comparison(tmp_path, capsys):
    rng = np.random.default_rng(2)
    small, large = tmp_path / "small", tmp_path / "large"
    for folder, (units, seeds) in ((small, (16, 2)), (large, (32, 3))):
        folder.mkdir()
        table = rng.normal(0.5, 1.0, (units, 1)) + rng.normal(0, 0.2, (1, seeds)) + rng.normal(0, 1, (units, seeds))
        claims = [_claim(table, "effect").as_dict()]
        (folder / "results.json").write_text(json.dumps(dict(claims=claims, seconds=10.0)))
    assert main([str(small)]) == 0
    out = capsys.readouterr().out
    assert "| effect |" in out and "no stage timings" in out
    assert main([str(small), "--json"]) == 0
    plans = json.loads(capsys.readouterr().out)["plans"]
    assert plans[0]["units"] == 16 and plans[0]["allocation"]["seeds"] >= 3
    assert main([str(small), "--at", "32x3"]) == 0
    assert "predicted +- at 32 x 3" in capsys.readouterr().out
    timed = json.loads((small / "results.json").read_text())
    timed["stages"] = [dict(stage="pool", key="a", seconds=8.0, scales="units", cached=False)]  # 0.5 s a unit
    (small / "results.json").write_text(json.dumps(timed))
    assert main([str(small), "--at", "32x3"]) == 0
    assert "Predicted time at 32 x 3: 18 s" in capsys.readouterr().out  # 2 s fixed + 32 x 0.5 s
    with pytest.raises(SystemExit):
        main([str(small), "--at", "32 by 3"])
    assert "--at must be UNITSxSEEDS" in capsys.readouterr().err
    assert main([str(small), "--compare", str(large)]) == 0
    assert "| effect | 16 x 2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(small), "--claim", "nothing like it"])
    assert "matches no claim" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
