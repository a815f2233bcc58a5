"""Inputs that used to give a silent wrong answer or an error from deep inside: ensemble objectives and the
standardiser (non-finite scores, empty reference), adapters (float labels, one example, label count and feature width
mismatches), TInt operands, and the label budget split (spend the whole budget)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.adapters.heads import AdapterConfig
from rlnoise.adapters.train import accuracy, apply_adapter, train_adapter
from rlnoise.elicitation.cost import Spend, split_budget
from rlnoise.overoptimization.objectives import OBJECTIVES, Standardizer, apply_objective, uwo
from rlnoise.overoptimization.rl_math import masked_whiten
from rlnoise.tint import run_task

NAN, INF = float("nan"), float("inf")

# --- objectives and Standardizer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_objectives_reject_non_finite_scores_naming_member_and_item(name, bad):
    """A NaN at member 2, item 1 (the first non-finite one in member-major order) is reported, not propagated."""
    scores = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, bad, bad]])
    with pytest.raises(ValueError, match=rf"scores must be finite, got {bad} at member 2, item 1 \(2 non-finite"):
        apply_objective(name, scores, lam=0.5)


def test_uwo_used_to_turn_inf_into_nan():
    """The bug: mean inf minus lam * variance nan gave nan; now it is an error at the inf."""
    scores = torch.tensor([[INF, 1.0], [0.0, 1.0]])
    assert torch.isnan(scores.mean(0)[0] - scores.var(0, correction=0)[0])
    with pytest.raises(ValueError, match=r"scores must be finite, got inf at member 0, item 0"):
        uwo(scores, lam=1.0)


def test_objective_maths_unchanged_on_finite_scores():
    """UWO still uses the population variance and lam = 0 is exactly the mean."""
    scores = torch.tensor([[1.0, 3.0], [2.0, 3.0], [6.0, 0.0]])  # column 0: mean 3, population variance 14/3
    torch.testing.assert_close(uwo(scores, lam=1.0), torch.tensor([3.0 - 14 / 3, 2.0 - 2.0]))
    assert torch.equal(uwo(scores, lam=0.0), scores.mean(0))


@pytest.mark.parametrize("reference", [torch.zeros(3, 0), torch.zeros(1, 0)])
def test_standardizer_rejects_an_empty_reference(reference):
    """An empty reference used to give mean NaN and every standardised score NaN."""
    with pytest.raises(ValueError, match=r"reference_scores must hold at least 1 item per member.*\((3|1), 0\)"):
        Standardizer(reference)


def test_standardizer_rejects_a_non_finite_reference_and_non_finite_scores():
    with pytest.raises(ValueError, match=r"reference_scores must be finite, got nan at member 1, item 0"):
        Standardizer(torch.tensor([[1.0, 2.0], [NAN, 0.0]]))
    std = Standardizer(torch.tensor([[1.0, 3.0], [0.0, 4.0]]))
    with pytest.raises(ValueError, match=r"scores must be finite, got -inf at member 0, item 1"):
        std(torch.tensor([[0.0, -INF], [1.0, 1.0]]))


def test_standardizer_single_item_reference_is_finite():
    """One reference item: std 0 is clamped, so the result is finite (an offset only)."""
    z = Standardizer(torch.tensor([[2.0], [5.0]]))(torch.tensor([[2.0, 3.0], [5.0, 5.0]]))
    assert torch.isfinite(z).all() and z[:, 0].tolist() == [0.0, 0.0]


# --- adapters -------------------------------------------------------------------------------------------------------

LINEAR = AdapterConfig(adapter="linear", epochs=2, batch_size=4)
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]], dtype=np.float32)
Y = np.array([0, 1, 0, 1])


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        ([0.0, 0.7, 1.0, 0.0], r"0\.7 at index 1"),
        ([0, 1, NAN, 1], r"nan at index 2"),
        ([0, -1, 1, 0], "-1 at index 1"),
    ],
)
def test_train_adapter_rejects_non_class_index_labels(labels, shown):
    """0.7 used to be truncated to class 0 without a word."""
    with pytest.raises(ValueError, match=r"labels must be integer class indices in \[0, num_classes\), got " + shown):
        train_adapter(X, np.array(labels), LINEAR)


def test_train_adapter_rejects_labels_at_or_above_num_classes_and_strings():
    with pytest.raises(ValueError, match=r"labels .* \[0, num_classes=2\), got 2 at index 3"):
        train_adapter(X, np.array([0, 1, 1, 2]), LINEAR, num_classes=2)
    with pytest.raises(ValueError, match=r"labels must be integer class indices.*dtype <U1"):
        train_adapter(X, np.array(["a", "b", "a", "b"]), LINEAR)


def test_train_adapter_accepts_whole_number_float_and_bool_labels():
    """Whole-number floats (1.0) and bools are class ids as in rlnoise.core.noise; they train like the ints."""
    ints, _ = train_adapter(X, Y, LINEAR)
    floats, _ = train_adapter(X, Y.astype(np.float64), LINEAR)
    bools, _ = train_adapter(X, Y.astype(bool), LINEAR)
    for model in (floats, bools):
        for p, q in zip(ints.parameters(), model.parameters()):
            assert torch.equal(p, q)


def test_train_adapter_needs_two_examples():
    """One example used to return the untrained initialisation (every batch of 1 was skipped)."""
    with pytest.raises(ValueError, match=r"features must have at least 2 rows \(training examples.*got 1"):
        train_adapter(X[:1], Y[:1], LINEAR)


def test_accuracy_checks_label_count_values_and_feature_width():
    model, _ = train_adapter(X, Y, LINEAR)
    assert accuracy(model, X, Y) in (0.0, 0.25, 0.5, 0.75, 1.0)
    with pytest.raises(ValueError, match=r"labels must be a vector of 4 class ids \(one per row\), got shape \(1,\)"):
        accuracy(model, X, [1])  # used to broadcast one label against every prediction
    with pytest.raises(ValueError, match=r"labels must be integer class indices in \[0, num_classes=2\), got 0\.5"):
        accuracy(model, X, [0, 0.5, 1, 1])
    with pytest.raises(ValueError, match=r"features must have 2 columns \(the model's input width\), got 3"):
        accuracy(model, np.zeros((4, 3)), Y)  # used to be a torch matmul shape error
    with pytest.raises(ValueError, match=r"features must have 2 columns"):
        apply_adapter(model, np.zeros((4, 5)))


def test_feature_width_check_covers_the_mlp_adapters():
    model, _ = train_adapter(X, Y, AdapterConfig(adapter="nmtune", epochs=1, batch_size=4, hidden=8))
    logits, z = apply_adapter(model, X)
    assert logits.shape == (4, 2) and z.shape == (4, 2)
    with pytest.raises(ValueError, match=r"features must have 2 columns \(the model's input width\), got 4"):
        apply_adapter(model, np.zeros((3, 4)))


# --- TInt operands --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "args", "expected"),
    [
        ("add", 5, r"args: task 'add' takes two ints \(not bools\).*got 5"),
        ("add", (True, True), r"args: task 'add' takes two ints \(not bools\).*got \(True, True\)"),
        ("mul", (3, False), r"takes two ints.*got \(3, False\)"),
        ("sub", (1, 2.0), r"takes two ints.*got \(1, 2\.0\)"),
        ("add", (1, 2, 3), r"takes two ints.*got \(1, 2, 3\)"),
        ("add", "12", r"takes two ints.*got '12'"),
        ("div", (7, 0), r"args: task 'div': the divisor must not be 0, got \(7, 0\)"),
        ("mod", (7, np.int64(0)), r"divisor must not be 0"),
        ("sum", 5, r"args: task 'sum' takes one non-empty list of ints \(not bools\).*got 5"),
        ("sort", ([3, True],), r"task 'sort' takes one non-empty list of ints.*got \(\[3, True\],\)"),
        ("median", ([],), r"non-empty list.*got \(\[\],\)"),
        ("gcd", [[1, 2], [3]], r"task 'gcd' takes one non-empty list of ints"),
    ],
)
def test_run_task_rejects_bad_operands(task, args, expected):
    with pytest.raises(ValueError, match=expected):
        run_task(task, args)


def test_run_task_still_accepts_ints_numpy_ints_negatives_and_flat_lists():
    assert run_task("add", (np.int64(3), 4)).answer == 7
    assert run_task("sub", (-5, 12)).answer == -17
    assert run_task("div", [-7, 2]).answer == -4
    assert run_task("sort", [3, -1, 2]).answer == [-1, 2, 3]
    assert run_task("median", ([5],)).answer == 5


# --- split_budget ---------------------------------------------------------------------------------------------------


def test_split_budget_spends_what_the_gold_labels_leave_on_weak_labels():
    """Weak cost 0.1, budget 16, a weak fraction asking for 32 weak labels: 12 gold labels, and the 4.0 they leave
    buys 40 weak labels (cost 16.0), where the old split stopped at 32 weak + 12 gold = 15.2."""
    s = split_budget(16.0, 0.2, 0.1)
    assert s == Spend(40, 12, 0, 0)
    assert s.cost(0.1) == pytest.approx(16.0)
    assert split_budget(16.0, 0.2, 0.1, n_val=2, n_fewshot=1) == Spend(30, 10, 2, 1)  # 13 left: 10 gold, 3.0 weak


def test_split_budget_endpoints_and_float_rounding():
    assert split_budget(10.5, 0.0, 0.1) == Spend(0, 10, 0, 0)  # weak_fraction 0 buys no weak labels
    assert split_budget(10.5, 1.0, 0.1) == Spend(105, 0, 0, 0)
    assert split_budget(0.3, 1.0, 0.1) == Spend(3, 0, 0, 0)  # 3 * 0.1 = 0.30000000000000004 is not an overspend
    assert split_budget(100, 0.3, 0.1) == Spend(300, 70, 0, 0)


@settings(max_examples=300, deadline=None)
@given(
    budget=st.floats(0.01, 1e5),
    f=st.floats(0, 1),
    wmc=st.floats(1e-3, 1),
    n_val=st.integers(0, 20),
    k=st.integers(0, 8),
)
def test_split_budget_never_overspends_and_leaves_less_than_one_more_label(budget, f, wmc, n_val, k):
    if n_val + k > budget:
        with pytest.raises(ValueError, match="budget"):
            split_budget(budget, f, wmc, n_val=n_val, n_fewshot=k)
        return
    s = split_budget(budget, f, wmc, n_val=n_val, n_fewshot=k)
    assert (s.n_val, s.n_fewshot) == (n_val, k)  # validation and few-shot labels are charged as given
    rounding = 1e-9 * budget
    cost = s.cost(wmc)
    assert cost <= budget + rounding
    left = budget - cost
    if f > 0:
        assert left < wmc + rounding  # not enough left for one more weak label
    else:
        assert s.n_weak == 0 and left < 1 + rounding  # not enough left for one more gold label
    # the gold count is fixed by the weak share, so the weak labels get at least what weak_fraction asks (to one)
    assert s.n_weak * wmc > f * (budget - n_val - k) - wmc - rounding
    assert s.n_gold <= math.floor(budget - n_val - k + rounding)


# --- masked_whiten (docstring fix: behaviour unchanged) -------------------------------------------------------------


def test_masked_whiten_uses_the_unbiased_variance_as_documented():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    w = masked_whiten(x, torch.ones(1, 4), eps=0.0)
    expected = (x - 2.5) / math.sqrt(5 / 3)  # sum of squares 5, divisor n - 1 = 3 (population would be 4)
    torch.testing.assert_close(w, expected)


# --------------------------------------------------------------------------- configs and noise specs, before any model


@pytest.mark.parametrize(
    "spec, match",
    [
        ("coste:frac=0.5", r"'coste' takes parameters \['fraction'\], got 'frac'"),
        ("symmetric:p=2", r"symmetric:p=2.*p must be a probability in \[0, 1\], got 2"),
        ("symmetric", r"missing 1 required keyword-only argument: 'p'"),
        ("gaussian:p=0.1", "noise model must be one of"),
        (["coste"], "a noise spec must be a string"),
    ],
)
def test_bad_noise_specs_fail_at_parse_time(spec, match):
    from rlnoise.core.noise import parse_noise_spec

    with pytest.raises(ValueError, match=match):
        parse_noise_spec(spec)


def test_noise_models_that_need_data_a_study_lacks_are_refused():
    from rlnoise.adapters.study import NMTuneStudyConfig
    from rlnoise.core.noise import parse_noise_spec

    assert parse_noise_spec("bradley_terry:temperature=2") == ("bradley_terry", {"temperature": 2})  # pairs: margins
    with pytest.raises(ValueError, match=r"label_noise|'bradley_terry' needs \['margins'\]"):
        NMTuneStudyConfig(label_noise="bradley_terry")


@pytest.mark.parametrize("labels, match", [(["a", "b"], "integer class labels"), ([1e20, 0.0], "below 2\\*\\*31")])
def test_apply_noise_rejects_labels_that_are_not_class_indices(labels, match):
    from rlnoise.core.noise import apply_noise

    with pytest.raises(ValueError, match=match):
        apply_noise("symmetric", labels, seed=0, p=0.1)


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(noise="coste"), r"noise must be a list .*got 'coste'"),
        (dict(noise=[]), r"noise must list at least one value"),
        (dict(prompt_sources=["siqa", 3]), r"prompt_sources must hold strings, got 3"),
    ],
)
def test_overoptimization_configs_check_lists(changes, match):
    from rlnoise.overoptimization.config import BonStudyConfig

    with pytest.raises(ValueError, match=match):
        BonStudyConfig(**changes)


def test_tint_config_checks_lists():
    from rlnoise.tint.sweep import TIntSweepConfig

    with pytest.raises(ValueError, match=r"contaminations must be a list .*got 0.5"):
        TIntSweepConfig(contaminations=0.5)


def test_sweep_seeds_must_be_integers():
    from rlnoise.adapters.study import NMTuneStudyConfig
    from rlnoise.elicitation.sweep import SweepConfig

    with pytest.raises(ValueError, match=r"seeds must hold integers, got 'a'"):
        SweepConfig(seeds=["a"])
    with pytest.raises(ValueError, match=r"seeds must hold integers, got True"):
        NMTuneStudyConfig(seeds=[True])


def test_rl_study_refuses_a_kl_coef_it_would_ignore(tmp_path):
    from rlnoise.core.config import SamplingConfig
    from rlnoise.overoptimization.config import RLStudyConfig
    from rlnoise.overoptimization.ensemble import EnsembleConfig
    from rlnoise.overoptimization.gold import GoldConfig
    from rlnoise.overoptimization.ppo import PPOConfig
    from rlnoise.overoptimization.rl_study import run_rl_study

    study = RLStudyConfig(output_root=str(tmp_path))
    with pytest.raises(ValueError, match=r"kl_coef \(0.5\) is not used.*kl_coefs"):
        run_rl_study(study, PPOConfig(kl_coef=0.5), SamplingConfig(), GoldConfig(), EnsembleConfig())
    assert not (tmp_path / "overoptimization").exists()  # refused before the run folder was touched


def test_binary_tasks_are_shipped_tasks():
    from rlnoise.core.tasks import BINARY_TASKS, SENTIMENT, SHIPPED

    assert set(BINARY_TASKS) <= set(SHIPPED) | set(SENTIMENT)


def test_nmtune_refuses_adapter_settings_it_would_overwrite(tmp_path):
    from rlnoise.adapters.heads import AdapterConfig
    from rlnoise.adapters.study import NMTuneStudyConfig, run_study

    study = NMTuneStudyConfig(output_root=str(tmp_path), simulation=False)
    for changes, axis in ((dict(adapter="mlp"), "adapters"), (dict(seed=3), "seeds")):
        with pytest.raises(ValueError, match=f"not used by the NMTune study: set {axis} instead"):
            run_study(study, AdapterConfig(**changes))
    assert not (tmp_path / "nmtune").exists()
