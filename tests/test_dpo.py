"""The DPO study: each loss as trl computes it equals its paper's formula on hand-built reference log-probs, the
robust losses are unbiased under label flips (exact enumeration), loss names and bad input, and ``dpo_tiny.yaml``
end to end (metrics, claims, plot, resume after a kill, a changed setting refused)."""

import itertools
import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from helpers import ROOT, assert_same, run_recipe
from hypothesis import given, settings
from hypothesis import strategies as st

from rlnoise.overoptimization.preference_losses import (
    LossSpec,
    bradley_terry_loss,
    parse_loss,
    trl_loss_settings,
)

DPO = ("recipes/overoptimization/dpo.py", "recipes/overoptimization/configs/dpo_tiny.yaml")


def nll(m):  # the DPO / Bradley-Terry per-pair loss -log sigmoid(m)
    return -F.logsigmoid(torch.as_tensor(m, dtype=torch.float64))


@pytest.fixture(scope="module")
def one_pair(tmp_path_factory):
    """A tiny LoRA policy and one preference pair, as trl's DPOTrainer collates them."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from rlnoise.core.distributed import process_state
    from rlnoise.core.models import load_model
    from rlnoise.core.precision import trainer_precision

    process_state()  # the process's accelerate state, as the recipes configure it
    pair = dict(prompt=[[{"role": "user", "content": "Which is right?"}]],
                chosen=[[{"role": "assistant", "content": "The first answer."}]],
                rejected=[[{"role": "assistant", "content": "Some other, longer answer."}]])  # fmt: skip
    swapped = dict(pair, chosen=pair["rejected"], rejected=pair["chosen"])
    folder = tmp_path_factory.mktemp("dpo")

    def loss(spec: str, beta: float, ref: tuple[float, float], flip: bool = False):
        """trl's loss of ``spec`` at ``beta`` with hand-built reference log-probs ``ref`` (chosen, rejected) for the
        pair (``flip``: labels swapped), and the policy's own log-probs and completion lengths it used."""
        policy, tokenizer = load_model("tiny-llama", "causal_lm")
        args = DPOConfig(output_dir=str(folder), beta=beta, report_to="none", **trainer_precision("float32"),
                         accelerator_config={"use_configured_state": True},
                         **trl_loss_settings(parse_loss(spec), parse_loss(spec).resolve(None)))  # fmt: skip
        data = Dataset.from_dict(swapped if flip else pair)
        trainer = DPOTrainer(model=policy, args=args, train_dataset=data, processing_class=tokenizer,
                             peft_config=LoraConfig(r=2, target_modules="all-linear"))  # fmt: skip
        trainer.precompute_ref_logps = True  # the loss reads the reference log-probs from the batch
        batch = trainer.data_collator([trainer.train_dataset[0]])
        batch["ref_chosen_logps"], batch["ref_rejected_logps"] = (torch.tensor([x]) for x in ref)
        value = trainer.compute_loss(trainer.model, batch).item()
        metrics = trainer._metrics["train"]
        lengths = batch["completion_mask"].sum(1).tolist()
        return value, (metrics["logps/chosen"][-1], metrics["logps/rejected"][-1]), lengths

    return loss


REFS = [(-40.0, -50.0), (-60.0, -35.0)]  # the policy's log-ratio difference is positive, then negative


@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize("spec", ["dpo", "cdpo:0.2", "rdpo:0.2", "rdpo:0", "ipo", "slic"])
def test_each_loss_is_its_papers_formula_as_trl_computes_it(one_pair, spec, ref):
    beta = 0.1
    value, (pc, pr), (nc, nr) = one_pair(spec, beta, ref)
    h = (pc - ref[0]) - (pr - ref[1])  # log-ratio of chosen minus log-ratio of rejected
    m, eps = beta * h, parse_loss(spec).eps
    expected = {
        "dpo": nll(m),  # Rafailov et al. 2023
        "cdpo:0.2": 0.8 * nll(m) + 0.2 * nll(-m),  # Mitchell 2023: labels smoothed at eps
        "rdpo:0.2": (0.8 * nll(m) - 0.2 * nll(-m)) / (1 - 0.4),  # Chowdhury et al. 2024, eq. (4)
        "rdpo:0": nll(m),
        "ipo": ((pc - ref[0]) / nc - (pr - ref[1]) / nr - 1 / (2 * beta)) ** 2,  # Azar et al.; trl: per token
        "slic": max(0.0, 1 - m),  # the hinge of Zhao et al. on the reference-normalised margin
    }[spec]
    assert value == pytest.approx(float(expected), rel=1e-5, abs=1e-6), (spec, eps)


def test_rdpo_is_unbiased_over_label_flips_as_trl_computes_it(one_pair):
    """E over a flip at rate eps of trl's robust loss (pair as labelled, or swapped) equals clean DPO exactly."""
    eps, beta, ref = 0.3, 0.1, REFS[0]
    kept, (pc, pr), _ = one_pair(f"rdpo:{eps}", beta, ref)
    flipped, _, _ = one_pair(f"rdpo:{eps}", beta, ref[::-1], flip=True)
    clean = nll(beta * ((pc - ref[0]) - (pr - ref[1])))
    assert (1 - eps) * kept + eps * flipped == pytest.approx(float(clean), rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    margins=st.lists(st.floats(-8, 8, allow_nan=False), min_size=1, max_size=5),
    eps=st.floats(0.0, 0.45),
)
def test_robust_bradley_terry_is_unbiased_by_enumeration(margins, eps):
    """Every flip pattern of n pairs, weighted by its probability at rate eps: the expected robust loss is the clean
    loss; the label-smoothed one is not."""
    m = torch.tensor(margins, dtype=torch.float64)
    robust = smoothed = 0.0
    for flips in itertools.product([False, True], repeat=len(margins)):
        weight = math.prod(eps if f else 1 - eps for f in flips)
        observed = torch.where(torch.tensor(flips), -m, m)  # a flipped label swaps chosen and rejected
        robust += weight * bradley_terry_loss(observed, "rbt", eps).mean().item()
        smoothed += weight * bradley_terry_loss(observed, "cbt", eps).mean().item()
    clean = bradley_terry_loss(m, "bt").mean().item()
    assert robust == pytest.approx(clean, rel=1e-9, abs=1e-9)
    # -log sigmoid(-m) = -log sigmoid(m) + m, so E[cBT] = clean + 2 eps (1 - eps) mean(m): biased unless eps = 0
    assert smoothed == pytest.approx(clean + 2 * eps * (1 - eps) * m.mean().item(), rel=1e-9, abs=1e-9)


def test_shared_reference_logps_are_trls_own_and_serve_swapped_labels(tmp_path):
    """Reference log-probs looked up in the study's shared dict equal the ones trl computes inline for a training
    batch; a run whose labels swap a pair reuses them (no new sequence), swapped, and still equals trl."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig

    from rlnoise.core.distributed import process_state
    from rlnoise.core.models import load_model
    from rlnoise.core.precision import trainer_precision
    from rlnoise.overoptimization.dpo_reference import SharedReferenceDPOTrainer

    process_state()
    pairs = dict(prompt=["Which is right?", "Name a colour.", "Two plus two?"],
                 chosen=[" The first.", " Blue, like the sky.", " Four."],
                 rejected=[" Some other, longer answer.", " Seven.", " Five, I think."])  # fmt: skip
    swapped = dict(pairs, chosen=[pairs["rejected"][0], *pairs["chosen"][1:]],
                   rejected=[pairs["chosen"][0], *pairs["rejected"][1:]])  # fmt: skip
    shared: dict = {}

    def trainer(data: dict, precompute: bool):
        policy, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
        args = DPOConfig(
            output_dir=str(tmp_path),
            report_to="none",
            precompute_ref_log_probs=precompute,
            accelerator_config={"use_configured_state": True},
            **trainer_precision("float32"),
        )
        lora = LoraConfig(r=2, target_modules="all-linear")
        return SharedReferenceDPOTrainer(
            model=policy,
            args=args,
            train_dataset=Dataset.from_dict(data),
            processing_class=tokenizer,
            peft_config=lora,
            reference_logps=shared,
        )

    def inline(t):  # trl's own reference pass on the collated training rows
        return t.compute_ref_log_probs(t.model, t.data_collator([t.train_dataset[i] for i in range(3)]))

    first = trainer(pairs, precompute=True)
    assert len(shared) == 6  # 3 pairs x 2 responses, each once
    for column, expected in zip(("ref_chosen_logps", "ref_rejected_logps"), inline(trainer(pairs, precompute=False))):
        assert first.train_dataset[column] == pytest.approx(expected.tolist(), abs=1e-4)
    second = trainer(swapped, precompute=True)
    assert len(shared) == 6  # nothing new to compute
    assert second.train_dataset["ref_chosen_logps"][0] == first.train_dataset["ref_rejected_logps"][0]
    for column, expected in zip(("ref_chosen_logps", "ref_rejected_logps"), inline(trainer(swapped, False))):
        assert second.train_dataset[column] == pytest.approx(expected.tolist(), abs=1e-4)


def test_held_out_accuracy_reuses_the_reference_across_swapped_labels():
    """The held-out accuracy's cached reference serves a run whose noise swapped some pairs exactly as a fresh
    reference pass would, and the accuracy against the true labels does not depend on the noise."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model

    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.dpo_reference import SeedReference
    from rlnoise.overoptimization.dpo_study import implicit_accuracy

    base, tokenizer = load_model("tiny-llama", "causal_lm", seed=0)
    policy = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear"))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)  # a trained policy: the implicit reward is not 0
    prompts = [f"Question {i}?" for i in range(6)]
    good = [f" answer {i} is right" for i in range(6)]
    bad = [f" no {i}" for i in range(6)]
    clean = Dataset.from_dict(dict(raw_prompt=prompts, chosen=good, rejected=bad, flipped=[False] * 6))
    flips = [True, False, True, False, False, True]
    noisy = Dataset.from_dict(dict(raw_prompt=prompts, flipped=flips,
                                   chosen=[b if f else g for g, b, f in zip(good, bad, flips)],
                                   rejected=[g if f else b for g, b, f in zip(good, bad, flips)]))  # fmt: skip
    shared = SeedReference()
    on_clean = implicit_accuracy(policy, tokenizer, clean, shared, batch_size=4)
    cached = len(shared.held_out)
    reused = implicit_accuracy(policy, tokenizer, noisy, shared, batch_size=4)
    assert len(shared.held_out) == cached == 12  # nothing new: the same responses
    fresh = SeedReference()
    assert reused == implicit_accuracy(policy, tokenizer, noisy, fresh, batch_size=4)
    for key, value in fresh.held_out.items():  # each response's reference, whichever side the noise put it on
        assert shared.held_out[key] == pytest.approx(value, abs=1e-4)
    assert reused["accuracy_true"] == on_clean["accuracy_true"]


@pytest.mark.parametrize("n_pairs, per_step, steps", [(10, 4, 2), (10, 4, 3), (10, 5, 2)])
def test_pairs_seen_is_a_seeded_subset_or_every_pair(n_pairs, per_step, steps):
    from rlnoise.overoptimization.dpo_reference import pairs_seen

    rows = pairs_seen(n_pairs, per_step, steps, seed=3)
    assert len(rows) == min(n_pairs, per_step * steps) and len(set(rows.tolist())) == len(rows)
    assert rows.tolist() == pairs_seen(n_pairs, per_step, steps, seed=3).tolist()
    if per_step * steps < n_pairs:
        assert rows.tolist() != pairs_seen(n_pairs, per_step, steps, seed=4).tolist()


def test_loss_names_and_eps():
    assert parse_loss("rdpo:measured*0.5") == LossSpec("rdpo:measured*0.5", "rdpo", None, 0.5)
    assert parse_loss("rdpo:measured").resolve(0.2) == 0.2 and parse_loss("rdpo:measured*2").resolve(0.2) == 0.4
    assert parse_loss("cdpo:0.1").resolve(0.3) == 0.1 and parse_loss("dpo").resolve(0.3) == 0.0
    for bad, message in [
        ("rdpo:0.5", "eps must lie in \\[0, 0.5\\), got 0.5"),
        ("rdpo:-0.1", "eps must lie in \\[0, 0.5\\)"),
        ("kto", "unknown loss 'kto'; allowed: dpo, cdpo, rdpo, ipo, slic"),
        ("rdpo", "rdpo needs the assumed flip rate"),
        ("dpo:0.1", "dpo takes no eps"),
        ("rdpo:measured*0", "measured\\*F with F > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_loss(bad)
    with pytest.raises(ValueError, match="gives eps = 0.600 at a flip rate of 0.300"):
        parse_loss("rdpo:measured*2").resolve(0.3)


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--losses", "rdpo:0.7"), "losses: 'rdpo:0.7': eps must lie in [0, 0.5), got 0.7"),
        (("--losses", "dpo", "orpo"), "losses: unknown loss 'orpo'"),
        (("--noise", "none"), "take eps from the measured flip rate, but noise ['none'] has no noisy setting"),
        (("--betas", "0.1", "0"), "betas: 0.0 is not allowed: every beta must be a number > 0"),
    ],
)
def test_bad_input_is_one_clear_line_before_any_model_loads(tmp_path, extra, message):
    proc = run_recipe(*DPO, tmp_path, *extra)
    assert proc.returncode != 0 and message in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "overoptimization").exists()


def _run_tiny(tmp_path):
    proc = run_recipe(*DPO, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "overoptimization" / "dpo_tiny"
    return proc, out, json.loads((out / "results.json").read_text())


def test_dpo_tiny_end_to_end_and_a_changed_setting_refused(tmp_path):
    _, out, results = _run_tiny(tmp_path)
    # clean: dpo (rdpo at the measured rate is DPO itself there); coste: dpo and rdpo; x 2 betas
    assert results["algorithm"] == "dpo" and len(results["runs"]) == 6
    assert results["eps"]["coste|rdpo:measured|beta=0.1"] == results["flip_rate"]["coste"]["0"] > 0
    for run in results["runs"].values():
        assert run["step"] == [0, 2, 4] and run["kl"][0] == pytest.approx(0, abs=1e-9) and run["kl"][-1] > 0
        assert run["accuracy_true"][0] == run["accuracy_noisy"][0] == 0.5  # step 0: pi is pi_ref, every margin ties
        assert {"gold_band", "proxy_band", "drop", "last_gold_gain"} <= set(run)
    statements = [c["statement"] for c in results["claims"]]
    for expected in [
        "noise coste, beta 0.1: DPO's gold falls from its best evaluation to step 4",
        "beta 0.1: label noise (coste) costs DPO gold at matched KL (clean minus noisy)",
        "noise coste, beta 0.1: rdpo:measured keeps more gold than DPO at matched KL",
        "noise coste, dpo: beta 0.1 reaches a higher KL at the last step than beta 0.5",
        "noise coste, dpo: beta 0.1 falls further from its best gold than beta 0.5",
    ]:
        assert expected in statements
    assert all(c["verdict"] in ("holds", "does not hold", "unresolved") for c in results["claims"])
    assert (out / "results.md").read_text().startswith("# Direct alignment under label noise")
    assert (out / "dpo.png").stat().st_size > 20_000 and (out / "samples.jsonl").read_text().strip()
    from rlnoise.core.power import CostModel

    # the planner's cost model sees every run's training (grows with seeds) and evaluations (prompts x seeds)
    logged = [s["stage"] for s in results["stages"] if s["stage"].startswith(("none|", "coste|"))]
    assert len(logged) == 2 * 6 and all(s["seconds"] >= 0 for s in results["stages"])
    assert CostModel.from_results(results, units=4, seeds=1).per_seed > 0
    from rlnoise.plotting import replot

    assert [p.name for p in replot(out)] == ["dpo.png", "dpo.svg"]  # python -m rlnoise.plotting rebuilds it
    # a finished study reruns from its rows alone; another training setting stops before any work, naming it
    assert run_recipe(*DPO, tmp_path).stdout.count("finished in an earlier run, skipped") == 6
    other = run_recipe(*DPO, tmp_path, "--dpo_learning_rate", "0.5")
    assert other.returncode != 0 and "dpo_learning_rate: 0.01 -> 0.5" in other.stderr


@pytest.mark.slow
def test_dpo_tiny_resumes_after_a_kill(tmp_path):
    _, out, results = _run_tiny(tmp_path)
    # kill after step 2: drop the last checkpoints, their evaluations and the results; the rerun resumes from step 2
    for ckpt in out.glob("checkpoints/*/checkpoint-4"):
        shutil.rmtree(ckpt)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["step"] < 4))
    (out / "results.json").unlink()
    again, _, resumed = _run_tiny(tmp_path)
    assert again.stdout.count("resuming from") == 6 and "checkpoint-2" in again.stdout
    # trl's checkpoint holds the weights, optimizer and random states: the same computation in the same process
    assert_same(resumed["runs"], results["runs"], tol=1e-6)


def test_a_bad_reward_model_loss_is_one_clear_line(tmp_path):
    bon = ("recipes/overoptimization/bon.py", "recipes/overoptimization/configs/bon_tiny.yaml")
    proc = run_recipe(*bon, tmp_path, "--rm_loss", "rbt:0.6")
    assert proc.returncode != 0 and "rm_loss: 'rbt:0.6': eps must lie in [0, 0.5), got 0.6" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dpo_presets_parse():
    from rlnoise.estimate import load_preset

    for name in ("dpo_tiny", "dpo_quick", "dpo_paper"):
        study, *_, dpo = load_preset("dpo", ROOT / f"recipes/overoptimization/configs/{name}.yaml")
        assert study.losses and all(b > 0 for b in study.betas) and dpo.dpo_batch_size > 0
