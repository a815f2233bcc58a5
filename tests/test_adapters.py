"""Black-box adapters: loss terms against their formulas, spectrum metrics on known spectra, NMTune vs the residual
MLP baseline, learning a separable task, clear errors."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.adapters import (
    ADAPTERS,
    AdapterConfig,
    accuracy,
    apply_adapter,
    lsvr,
    normalize_features,
    sve,
    train_adapter,
)
from rlnoise.adapters.losses import (
    consistency_loss,
    covariance_loss,
    nmtune_loss,
    relational_kl,
    top_singular_share,
    variance_loss,
)

Z = torch.tensor([[1.0, 2.0], [3.0, 0.0], [2.0, 4.0]])
F0 = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 2.0]])


def test_consistency_loss_matches_its_formula():
    zn = Z / Z.norm(dim=1, keepdim=True)
    fn = F0 / F0.norm(dim=1, keepdim=True)
    expected = ((zn - fn) ** 2).sum() / Z.numel()
    assert consistency_loss(Z, F0).item() == pytest.approx(expected.item())
    assert consistency_loss(2 * F0, F0).item() == pytest.approx(0.0, abs=1e-7)  # scale-free


def test_covariance_loss_matches_its_formula():
    # columns (1, 3, 2) and (2, 0, 4): means 2 and 2; cov_01 = ((-1)(0) + (1)(-2) + (0)(2)) / 2 = -1
    assert covariance_loss(Z).item() == pytest.approx(2 * (-1.0) ** 2 / 2)
    assert covariance_loss(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])).item() == 0.0


def test_top_singular_share_on_a_known_spectrum():
    z = torch.diag(torch.tensor([6.0, 3.0, 1.0]))
    assert top_singular_share(z, k=1).item() == pytest.approx(0.6)
    assert top_singular_share(z, k=2).item() == pytest.approx((0.6 + 0.3) / 2)
    assert top_singular_share(z, k=10).item() == pytest.approx(1 / 3)  # k beyond the rank: all values


def test_nmtune_loss_combines_its_terms_and_is_cross_entropy_at_zero_weights():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    ce = F.cross_entropy(logits, labels)
    total, terms = nmtune_loss(logits, labels, Z, F0, consistency=0.5, covariance=0.04, singular=0.1, k=1)
    expected = ce + 0.5 * consistency_loss(Z, F0) + 0.04 * covariance_loss(Z) - 0.1 * top_singular_share(Z, 1)
    assert total.item() == pytest.approx(expected.item())
    assert set(terms) == {"ce", "consistency", "covariance", "singular"}
    zero, terms = nmtune_loss(logits, labels, Z, F0, consistency=0, covariance=0, singular=0)
    assert zero.item() == ce.item() and set(terms) == {"ce"}


def test_variance_and_relational_kl_terms():
    assert variance_loss(torch.tensor([[0.0, 5.0], [0.0, -5.0]])).item() == pytest.approx(0.5)  # dim 0 is dead
    assert relational_kl(F0, F0).item() == pytest.approx(0.0, abs=1e-6)
    assert relational_kl(2 * F0, F0).item() == pytest.approx(0.0, abs=1e-6)  # cosine similarities: scale-free
    assert relational_kl(Z, F0).item() > 0


def test_sve_and_lsvr_on_known_spectra():
    d = np.diag([3.0, 1.0])
    assert sve(d) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert lsvr(d) == pytest.approx(0.75)
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    assert sve(rank_one) == pytest.approx(0.0, abs=1e-9) and lsvr(rank_one) == pytest.approx(1.0)
    assert sve(5 * np.eye(4)) == pytest.approx(math.log(4)) and lsvr(np.eye(4)) == pytest.approx(0.25)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(2, 8), st.floats(0.1, 10), st.integers(0, 10_000))
def test_spectrum_metrics_are_bounded_and_invariant_to_scale_and_rotation(n, d, scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    assert 0 <= sve(x) <= math.log(min(n, d)) + 1e-9 and 1 / min(n, d) - 1e-9 <= lsvr(x) <= 1
    assert sve(scale * x @ q) == pytest.approx(sve(x), abs=1e-9)
    assert lsvr(scale * x @ q) == pytest.approx(lsvr(x), abs=1e-9)


def test_normalisation_is_a_separate_explicit_step():
    x = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 12.0]])
    assert np.allclose(normalize_features(x, "center").mean(0), 0)
    assert np.allclose(np.linalg.norm(normalize_features(x, "l2"), axis=1), 1)
    assert np.allclose(normalize_features(x, "standardize").std(0), 1)
    assert sve(x) != pytest.approx(sve(normalize_features(x, "center")))  # centring changes the spectrum
    # reference: unit rows, then each row's own mean removed; row [3, 4] -> [0.6, 0.8] -> [-0.1, 0.1]
    ref = normalize_features(np.array([[3.0, 4.0], [1.0, 0.0]]), "reference")
    assert np.allclose(ref, [[-0.1, 0.1], [0.5, -0.5]])
    assert np.allclose(normalize_features(x, "reference").mean(1), 0)
    with pytest.raises(ValueError, match="how must be"):
        normalize_features(x, "whiten")


def _blobs(n=400, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    centres = rng.normal(size=(2, dim)) * 2
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_nmtune_with_zero_weights_trains_exactly_like_the_residual_mlp():
    x, y = _blobs()
    zero = dict(consistency=0.0, covariance=0.0, singular=0.0, epochs=3, batch_size=64)
    a, _ = train_adapter(x, y, AdapterConfig(adapter="nmtune", **zero))
    b, _ = train_adapter(x, y, AdapterConfig(adapter="residual_mlp", **zero))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    c, _ = train_adapter(x, y, AdapterConfig(adapter="nmtune", epochs=3, batch_size=64))  # default weights differ
    assert not torch.equal(c.state_dict()["mlp.0.weight"], a.state_dict()["mlp.0.weight"])


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_learns_a_separable_task(name):
    x, y = _blobs()
    model, history = train_adapter(x[:300], y[:300], AdapterConfig(adapter=name, epochs=15, batch_size=32, hidden=64))
    assert history[-1]["ce"] < history[0]["ce"]
    assert accuracy(model, x[300:], y[300:]) > 0.95
    logits, z = apply_adapter(model, x[300:])
    assert logits.shape == (100, 2) and z.shape == (100, 16)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: train_adapter(np.zeros(5), np.zeros(5), AdapterConfig()), "matrix"),
        (lambda: train_adapter(np.zeros((5, 3)), np.zeros(4), AdapterConfig()), "labels must be a vector of 5"),
        (lambda: train_adapter(np.full((5, 3), np.nan), np.zeros(5), AdapterConfig()), "finite"),
        (lambda: train_adapter(np.zeros((5, 3)), np.array([0, 1, 2, 0, 1]), AdapterConfig(), num_classes=2), "num_c"),
        (lambda: consistency_loss(torch.zeros(3, 2), torch.zeros(3, 4)), "same shape"),
        (lambda: covariance_loss(torch.zeros(3)), "matrix"),
        (lambda: sve(np.zeros((0, 3))), "non-empty"),
        (lambda: lsvr(np.zeros((3, 3))), "all zero"),
        (lambda: AdapterConfig(adapter="lora"), "adapter must be one of"),
        (lambda: AdapterConfig(batch_size=1), "batch_size"),
        (lambda: AdapterConfig(covariance=-1.0), "covariance"),
    ],
)
def test_bad_shapes_and_settings_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- study: features, pairs, simulation, recipe -------------------------------------------------------------------


def test_load_features_from_npy_and_parquet(tmp_path):
    import pandas as pd

    from rlnoise.core.features import load_features

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "f.npy", x)
    assert np.array_equal(load_features(tmp_path / "f.npy"), x)
    pd.DataFrame({"id": ["a", "b", "c", "d"], "embedding": list(x)}).to_parquet(tmp_path / "e.parquet")
    assert np.array_equal(load_features(tmp_path / "e.parquet"), x)
    pd.DataFrame(x, columns=["d0", "d1", "d2"]).to_parquet(tmp_path / "wide.parquet")
    assert np.array_equal(load_features(tmp_path / "wide.parquet"), x)
    with pytest.raises(ValueError, match="column 'vec'"):
        load_features(tmp_path / "e.parquet", column="vec")
    with pytest.raises(ValueError, match=".npy or .parquet"):
        load_features(tmp_path / "f.csv")
    np.save(tmp_path / "flat.npy", np.zeros(3))
    with pytest.raises(ValueError, match="matrix"):
        load_features(tmp_path / "flat.npy")


def test_pair_data_splits_the_id_task_and_tests_on_all_of_the_ood_task(tmp_path):
    from rlnoise.adapters.data import FeatureSpec, pair_data
    from rlnoise.core.tasks import binary_task

    for task in ("commonsenseqa", "openbookqa"):  # precomputed features: row i = row i of binary_task
        n = len(binary_task(task))
        np.save(tmp_path / f"{task}.npy", np.arange(n, dtype=np.float32)[:, None].repeat(2, 1))
    data = pair_data("csqa->obqa", FeatureSpec(model=f"file:{tmp_path}/{{task}}.npy"), test_share=0.25)
    train_rows, test_rows = set(data.train[0][:, 0].tolist()), set(data.id_test[0][:, 0].tolist())
    assert not train_rows & test_rows and len(train_rows) + len(test_rows) == len(binary_task("commonsenseqa"))
    assert abs(len(test_rows) - 0.25 * len(binary_task("commonsenseqa"))) <= 1
    assert len(data.ood_test[1]) == len(binary_task("openbookqa")) and data.ood_test[1].mean() == 0.5
    with pytest.raises(ValueError, match="pair must be one of"):
        pair_data("boolq->mars", FeatureSpec())
    with pytest.raises(ValueError, match="feature mode"):
        FeatureSpec(mode="stacked")


def test_simulation_rows_and_noise_rates():
    from rlnoise.adapters.simulation import SimulationConfig, simulate

    rows = simulate(
        SimulationConfig(noise_rates=(0.0, 0.3), n_pretrain=600, n_downstream=200, pretrain_epochs=2),
        AdapterConfig(epochs=2, batch_size=64, hidden=32),
    )
    assert [(r["noise_rate"], r["adapter"]) for r in rows] == [
        (0.0, "linear"),
        (0.0, "nmtune"),
        (0.3, "linear"),
        (0.3, "nmtune"),
    ]
    assert rows[0]["flipped"] == 0 and 0.25 < rows[2]["flipped"] < 0.35
    assert all(0 < r["sve"] and 0 < r["lsvr"] <= 1 and 0 <= r["ood_accuracy"] <= 1 for r in rows)


def test_nmtune_recipe_end_to_end_and_resume(tmp_path):
    import json

    from helpers import run_recipe

    proc = run_recipe("recipes/nmtune/tune.py", "recipes/nmtune/configs/tiny.yaml", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "nmtune" / "nmtune_tiny"
    results = json.loads((out / "results.json").read_text())
    assert {(p["pair"], p["adapter"]) for p in results["pairs"]} == {
        ("csqa->obqa", "linear"),
        ("csqa->obqa", "nmtune"),
    }
    assert len(results["simulation"]) == 4 and (out / "nmtune.png").exists()
    nmtune = next(p for p in results["pairs"] if p["adapter"] == "nmtune")
    assert {"id_accuracy_test_interval", "ood_accuracy_seed_interval", "ood_vs_linear"} <= set(nmtune)
    assert len(results["claims"]) == 2 and "## Claims" in (out / "results.md").read_text()
    from rlnoise.core.power import plan_run

    cost, plans = plan_run(results)  # the planner prices the claims by the fits' recorded seconds
    fits = [s for s in results["stages"] if s["scales"] == "seeds"]
    assert len(fits) == 2 and cost.per_seed == pytest.approx(sum(s["seconds"] for s in fits))  # one seed
    assert all(p.units == nmtune["n_ood_test"] or p.units == nmtune["n_id_test"] for p in plans)
    lines = (out / "cells.jsonl").read_text().splitlines()
    (out / "cells.jsonl").write_text("\n".join(lines[:1]) + "\n")  # as if interrupted after the first row
    again = run_recipe("recipes/nmtune/tune.py", "recipes/nmtune/configs/tiny.yaml", tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((out / "results.json").read_text())
    assert rerun["pairs"] == results["pairs"] and rerun["simulation"] == results["simulation"]
    assert (out / "cells.jsonl").read_text().splitlines()[0] == lines[0]
    other = run_recipe(
        "recipes/nmtune/tune.py", "recipes/nmtune/configs/tiny.yaml", tmp_path, "--label_noise", "coste"
    )
    assert other.returncode != 0 and "label_noise: 'none' -> 'coste'" in other.stderr


@pytest.mark.parametrize(
    "config",
    sorted((Path(__file__).parents[1] / "recipes" / "nmtune" / "configs").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_nmtune_yaml_parses(config, monkeypatch):
    import sys

    from rlnoise.adapters.study import NMTuneStudyConfig
    from rlnoise.core.cli import parse_config

    monkeypatch.setattr(sys, "argv", ["tune.py", "--config", str(config)])
    study, adapter_config = parse_config(NMTuneStudyConfig, AdapterConfig)
    assert study.pairs and adapter_config.epochs > 0


def test_study_with_noisy_downstream_labels_flips_only_training_labels(tmp_path):
    from rlnoise.adapters.study import NMTuneStudyConfig, run_study
    from rlnoise.core.tasks import binary_task

    for task in ("commonsenseqa", "openbookqa"):  # precomputed features that encode the label: a clean head is perfect
        y = np.asarray(binary_task(task)["label"], dtype=np.float32)
        rng = np.random.default_rng(0)
        np.save(tmp_path / f"{task}.npy", np.stack([y * 2 - 1, rng.normal(size=len(y))], 1).astype(np.float32))
    adapter_config = AdapterConfig(epochs=10, batch_size=64, hidden=16, learning_rate=0.05)
    rows = {}
    for noise in ("none", "symmetric:p=0.3"):
        study = NMTuneStudyConfig(
            run_name=noise.replace(":", "_"),
            output_root=str(tmp_path),
            pairs=["csqa->obqa"],
            feature_model=f"file:{tmp_path}/{{task}}.npy",
            adapters=["linear"],
            seeds=[0],
            label_noise=noise,
            simulation=False,
        )
        (row,) = run_study(study, adapter_config)
        rows[noise] = row
    assert rows["none"]["train_flipped"] == 0 and 0.25 < rows["symmetric:p=0.3"]["train_flipped"] < 0.35
    assert rows["none"]["id_accuracy"] == 1.0 and rows["none"]["ood_accuracy"] == 1.0  # test labels stay clean
    with pytest.raises(ValueError, match="noise model"):
        NMTuneStudyConfig(label_noise="gaussian")


def test_summary_compares_each_adapter_with_the_probe_example_by_example_and_pools_seeds():
    """On 200 test examples the probe is right on 140; the MLP on the same 140 plus 10 more (+0.05) in every seed.
    Paired over examples the gain holds; the same accuracies without per-example results (Newcombe, unpaired) leave
    it unresolved: a 5-point gap on 200 examples is within the test set's noise unless the errors pair up."""
    import math

    from rlnoise.adapters.study import results_table, summarize
    from rlnoise.core.variance import table_interval

    def row(adapter, seed, right, ood_acc, keep_examples=True):
        spectrum = dict(sve=1.0, lsvr=0.5)
        correct = "".join("1" if i < right else "0" for i in range(200))
        out = dict(kind="pair", pair="a->b", adapter=adapter, seed=seed, id_accuracy=right / 200,
                   ood_accuracy=ood_acc, n_id_test=200, n_ood_test=100, before=spectrum, after=spectrum)  # fmt: skip
        return dict(out, id_correct=correct) if keep_examples else out

    probe = [row("linear", s, 140 + 10 * s, 0.60 + 0.1 * s) for s in range(3)]  # seeds differ a lot...
    mlp = [row("mlp", s, 150 + 10 * s, 0.59 + 0.1 * s + 0.001 * s) for s in range(3)]  # ...the gap does not
    summary = summarize(probe + mlp)
    entry = next(e for e in summary["pairs"] if e["adapter"] == "mlp")
    right = lambda r: np.array([int(c) for c in r["id_correct"]])  # noqa: E731
    expected = table_interval(np.column_stack([right(a) - right(b) for a, b in zip(mlp, probe)]))
    assert entry["id_vs_linear"]["estimate"] == pytest.approx(0.05)
    assert (entry["id_vs_linear"]["low"], entry["id_vs_linear"]["high"]) == pytest.approx(
        (expected.low, expected.high)
    )
    assert summary["claims"][0]["verdict"] == "holds" and entry["id_vs_linear"]["low"] > 0.01
    assert summary["claims"][1]["verdict"] == "unresolved"  # OOD: -0.008 on 100 examples, accuracies only
    unpaired = summarize([{k: v for k, v in r.items() if k != "id_correct"} for r in probe + mlp])
    assert unpaired["claims"][0]["verdict"] == "unresolved"
    wilson = entry["id_accuracy_test_interval"]
    assert wilson["low"] < entry["id_accuracy"] < wilson["high"] and wilson["estimate"] == pytest.approx(0.80)
    seeds = entry["id_accuracy_seed_interval"]
    assert seeds["high"] - seeds["low"] == pytest.approx(2 * 4.302652729911275 * 0.05 / math.sqrt(3))
    assert "id_vs_linear" not in next(e for e in summary["pairs"] if e["adapter"] == "linear")
    table = results_table(summary)
    assert table.startswith("## Claims") and "| a->b | mlp | 3 | 0.80 [" in table


@pytest.mark.slow  # 32 s of the default suite's 4 minutes (Amazon's texts through the encoders)
def test_nmtune_on_a_sentiment_pair_with_noisily_fine_tuned_encoders(tmp_path):
    """amazon->rt on tiny-bert features, plus the encoder fine-tuned on Amazon's ID training labels with 0% and 30%
    of them flipped: adapters run on each encoder's features, and the noise claims compare the two probes."""
    import json

    from helpers import run_recipe

    from rlnoise.adapters.config import NMTuneStudyConfig

    extra = ("--pairs", "amazon->rt", "--feature_mode", "text", "--encoder_noise_rates", "0", "0.3")
    proc = run_recipe(
        "recipes/nmtune/tune.py", "recipes/nmtune/configs/tiny.yaml", tmp_path, *extra, "--simulation", "false"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("fine-tuned on its 1726 ID training labels") == 2
    results = json.loads((tmp_path / "nmtune" / "nmtune_tiny" / "results.json").read_text())
    encoder = {(e["encoder_noise"], e["adapter"]): e for e in results["encoder"]}
    assert set(encoder) == {(r, a) for r in (0.0, 0.3) for a in ("linear", "nmtune")}
    assert encoder[0.0, "linear"]["sve_before"] != encoder[0.3, "linear"]["sve_before"]  # other encoders
    assert encoder[0.0, "linear"]["n_ood_test"] == 10_768 and "ood_vs_linear" in encoder[0.3, "nmtune"]
    noise_claims = [c for c in results["claims"] if "30% pre-training label noise" in c["statement"]]
    assert len(noise_claims) == 2 and len(results["claims"]) == 2 + 2 * 2 + 2
    out = tmp_path / "nmtune" / "nmtune_tiny"
    assert "| amazon->rt | 0.3 | nmtune | 1 |" in (out / "results.md").read_text()
    assert (out / "nmtune_encoder.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="use feature_mode text"):
        NMTuneStudyConfig(pairs=["amazon->rt"], feature_mode="pair")
    # encoder_adapters narrows what runs on the noisy encoders (an axis: the finished rows are reused)
    narrow = run_recipe("recipes/nmtune/tune.py", "recipes/nmtune/configs/tiny.yaml", tmp_path, *extra,
                        "--simulation", "false", "--encoder_adapters", "linear")  # fmt: skip
    assert narrow.returncode == 0, narrow.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert {(e["encoder_noise"], e["adapter"]) for e in results["encoder"]} == {(0.0, "linear"), (0.3, "linear")}
    assert {p["adapter"] for p in results["pairs"]} == {"linear", "nmtune"}
    with pytest.raises(ValueError, match="encoder_adapters \\['nmtune'\\] must include linear"):
        NMTuneStudyConfig(encoder_adapters=["nmtune"])
