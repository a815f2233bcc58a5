"""Each ensemble kind trains on tiny models (parameters change, loss falls) and scores with shape [K, B]."""

import json

import numpy as np
import pytest
import torch
from helpers import reorder_tolerance

from rlnoise.overoptimization.ensemble import (
    EnsembleConfig,
    RewardEnsemble,
    layer_stack,
    pair_accuracy,
    train_ensemble,
)
from rlnoise.overoptimization.objectives import OBJECTIVES
from rlnoise.overoptimization.preferences import label_pairs

GOOD, BAD = ["great", "good", "nice", "lovely"], ["awful", "bad", "poor", "nasty"]


def toy_pairs(n=96, seed=0, noise="none"):
    """Responses made of sentiment words; gold = number of positive words. Learnable by a tiny model."""
    rng = np.random.default_rng(seed)
    words = GOOD + BAD

    def response():
        return " ".join(rng.choice(words, 6))

    a, b = [response() for _ in range(n)], [response() for _ in range(n)]
    gold = lambda s: sum(w in GOOD for w in s.split())  # noqa: E731
    return label_pairs(
        [f"q{i}" for i in range(n)],
        a,
        b,
        np.array([gold(x) for x in a]),
        np.array([gold(x) for x in b]) + 0.5 * rng.random(n),
        noise,
        seed,
    )


@pytest.mark.equivalence
@pytest.mark.parametrize("kind", ["independent", "multihead", "lora"])
def test_ensemble_trains_and_scores(kind, tmp_path):
    data = toy_pairs()
    config = EnsembleConfig(
        kind=kind,
        k=3,
        backbone="tiny-bert",
        rm_epochs=4,
        rm_batch_size=8,
        rm_learning_rate=2e-3,
        rm_lora_learning_rate=5e-3,
    )
    from rlnoise.core.models import load_model

    initial, _ = load_model("tiny-bert", "reward_model", seed=0)
    ensemble, logs = train_ensemble(data, config, tmp_path / "train")
    for curve in logs["loss"]:
        assert np.mean(curve[-2:]) < np.mean(curve[:2]) - 0.01, curve
    trained = ensemble.models[0]
    if kind == "lora":
        trained = trained.get_base_model()
        assert torch.equal(
            trained.bert.embeddings.word_embeddings.weight, initial.bert.embeddings.word_embeddings.weight
        )  # the base stays frozen
    else:
        assert not torch.equal(
            trained.bert.encoder.layer[0].attention.self.query.weight,
            initial.bert.encoder.layer[0].attention.self.query.weight,
        )
    scores = ensemble.score(["q0", "q1"], ["great good nice", "awful bad poor"])
    assert scores.shape == (3, 2)
    assert (scores[:, 0] > scores[:, 1]).all()
    assert not torch.allclose(scores[0], scores[1])  # members differ
    held_out = toy_pairs(64, seed=9)
    acc = pair_accuracy(ensemble, held_out, {"mean": OBJECTIVES["mean"]})
    assert min(acc["members"]["true"]) > 0.75 and acc["objectives"]["mean"]["true"] > 0.75
    ensemble.save(tmp_path / "saved")
    reloaded = RewardEnsemble.load(tmp_path / "saved")
    # safetensors keep every weight bit, but a model rebuilt by from_pretrained (the independent members) may run
    # other kernels than the trained one (attention implementation, fused paths): summation order only
    again = reloaded.score(["q0", "q1"], ["great good nice", "awful bad poor"])
    assert torch.allclose(again, scores, rtol=0, atol=reorder_tolerance(scores, terms=64, layers=11))
    # an ensemble saved before report_to left its config (cached stages of earlier versions) still loads
    meta_file = tmp_path / "saved" / "ensemble.json"
    meta = json.loads(meta_file.read_text())
    meta["config"]["report_to"] = "none"
    meta_file.write_text(json.dumps(meta))
    assert RewardEnsemble.load(tmp_path / "saved").config == ensemble.config


@pytest.mark.equivalence
def test_lora_mixed_batch_equals_one_adapter_at_a_time(tmp_path):
    """The single mixed-adapter forward gives each member exactly its own adapter's scores."""
    config = EnsembleConfig(
        kind="lora", k=2, backbone="tiny-bert", rm_epochs=1, rm_batch_size=8, rm_lora_learning_rate=2e-2
    )
    ensemble, _ = train_ensemble(toy_pairs(32), config, tmp_path)
    texts = ["q\n\ngreat good[SEP]", "q\n\nawful bad nasty[SEP]"]
    mixed = ensemble.score_texts(texts)
    model = ensemble.models[0]
    enc = ensemble.tokenizer(texts, padding=True, return_tensors="pt")
    for i, name in enumerate(ensemble.adapter_names):
        model.set_adapter(name)
        with torch.no_grad():
            # one adapter at a time multiplies other batch shapes than the mixed forward: summation order only
            # (tiny-bert: inner dimensions <= 64, 2 layers x 5 matrix products plus the head)
            tol = reorder_tolerance(mixed[i], terms=64, layers=11)
            assert torch.allclose(model(**enc).logits[:, 0], mixed[i], rtol=0, atol=tol)


def test_accuracy_on_true_labels_reverses_flips(tmp_path):
    noisy = toy_pairs(64, seed=3, noise="symmetric:p=0.5")
    config = EnsembleConfig(
        kind="multihead", k=2, backbone="tiny-bert", rm_epochs=4, rm_batch_size=8, rm_learning_rate=2e-3
    )
    ensemble, _ = train_ensemble(toy_pairs(96), config, tmp_path)
    acc = pair_accuracy(ensemble, noisy)
    flip_rate = np.mean(noisy["flipped"])
    for noisy_acc, true_acc in zip(acc["members"]["noisy"], acc["members"]["true"]):
        # agreement with noisy labels = agreement with truth on unflipped rows + disagreement on flipped ones
        assert abs(noisy_acc - true_acc) <= flip_rate + 1e-9


def test_config_validation():
    with pytest.raises(ValueError, match="kind must be one of"):
        EnsembleConfig(kind="bagging")
    with pytest.raises(ValueError, match="k must be an integer > 0"):
        EnsembleConfig(k=0)


@pytest.mark.equivalence
@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-llama"])
def test_lora_top_layers_share_the_frozen_trunk(backbone, tmp_path):
    """With lora_layers=1 only the top layer is adapted, and replaying the frozen trunk gives identical scores."""
    config = EnsembleConfig(
        kind="lora", k=3, backbone=backbone, lora_layers=1, rm_epochs=1, rm_batch_size=8, rm_lora_learning_rate=5e-3
    )
    ensemble, _ = train_ensemble(toy_pairs(32), config, tmp_path)
    model = ensemble.models[0]
    adapted = {n.split(".lora_A")[0] for n, _ in model.named_parameters() if ".lora_A.member0" in n}
    assert adapted and all(".1." in n for n in adapted)  # layer index 1 of 2 only
    texts = ["q\n\ngreat good", "q\n\nawful bad nasty and more words"]
    shared = ensemble.score_texts(texts)
    ensemble.config.lora_layers = 0  # score again running every layer for every member
    # the replayed trunk is the same computation on another batch layout: summation order only (as above)
    assert torch.allclose(shared, ensemble.score_texts(texts), rtol=0, atol=reorder_tolerance(shared, 64, 11))
    assert not any(type(layer).__name__ == "_Replay" for layer in layer_stack(model))  # real layers restored
    with pytest.raises(ValueError, match="lora_layers must be <="):
        train_ensemble(toy_pairs(8), EnsembleConfig(kind="lora", k=1, backbone=backbone, lora_layers=5), tmp_path)


def test_forward_by_length_returns_outputs_in_text_order():
    from rlnoise.core.models import forward_by_length, load_tokenizer

    tokenizer = load_tokenizer("tiny-bert")
    texts = ["a b c d e f g", "a", "a b c", "", "a b c d e f g h i j k", "a b"]
    lengths = forward_by_length(lambda enc: enc["attention_mask"].sum(1), tokenizer, texts, batch_size=4)
    assert lengths.tolist() == [len(tokenizer(t)["input_ids"]) for t in texts]
    columns = forward_by_length(
        lambda enc: enc["attention_mask"].sum(1)[None].repeat(2, 1), tokenizer, texts, 4, dim=1
    )
    assert torch.equal(columns, lengths[None].repeat(2, 1))
    assert forward_by_length(lambda enc: enc, tokenizer, [], batch_size=4) is None


@pytest.mark.equivalence
@pytest.mark.parametrize("kind", ["multihead", "independent"])
def test_length_sorted_scoring_equals_scoring_one_text_at_a_time(kind):
    """Batches are formed by length; a text's score must not depend on which texts share its batch."""
    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.gold import SentenceEncoder

    k = 3 if kind == "multihead" else 1
    models = [load_model("tiny-bert", "reward_model", num_labels=k, seed=s)[0] for s in range(4 - k)]
    tokenizer = load_model("tiny-bert", "reward_model", num_labels=k, seed=0)[1]
    ensemble = RewardEnsemble(kind, models, tokenizer, 3)
    texts = [" ".join(["word"] * n) + f" {n}" for n in (40, 3, 17, 1, 60, 8, 25)]
    batched = ensemble.score_texts(texts, batch_size=3)
    alone = torch.cat([ensemble.score_texts([t], batch_size=1) for t in texts], dim=1)
    # padded batches of 3 and single texts multiply other shapes: summation order only (padding is masked out)
    tol = reorder_tolerance(batched, terms=64, layers=11)
    assert batched.shape == (3, len(texts)) and torch.allclose(batched, alone, rtol=0, atol=tol)
    encoder = SentenceEncoder("tiny-bert", batch_size=3)
    encoded = encoder.encode(texts)
    alone = torch.cat([encoder.encode([t]) for t in texts])
    assert torch.allclose(encoded, alone, rtol=0, atol=reorder_tolerance(encoded, terms=64, layers=10))


@pytest.mark.parametrize("loss", ["cbt:0.2", "rbt:0.2", "rbt:measured"])
def test_noisy_label_reward_losses_replace_only_the_bradley_terry_term(loss, tmp_path):
    """trl's RewardTrainer with ``rm_loss``: its loss on a batch is the corrected formula on the model's own margins
    (eps measured: the pairs' flip rate), and training with it runs."""
    from trl import RewardConfig

    from rlnoise.core.distributed import process_state
    from rlnoise.core.models import load_model
    from rlnoise.overoptimization.ensemble import reward_trainer
    from rlnoise.overoptimization.preference_losses import RM_LOSSES, bradley_terry_loss, parse_loss

    process_state()
    data = toy_pairs(noise="symmetric:p=0.25")
    assert 0 < sum(data["flipped"]) < len(data)
    spec = parse_loss(loss, "rm_loss", RM_LOSSES)
    eps = spec.resolve(sum(data["flipped"]) / len(data))
    model, tokenizer = load_model("tiny-bert", "reward_model", seed=0)
    args = RewardConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, bf16=False, max_steps=2,
                        per_device_train_batch_size=4, accelerator_config={"use_configured_state": True})  # fmt: skip
    trainer = reward_trainer(model, tokenizer, data.select_columns(["prompt", "chosen", "rejected"]), args,
                             (spec.name, eps))  # fmt: skip
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    value, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
    chosen, rejected = outputs.logits.squeeze(-1).chunk(2)
    assert value.item() == pytest.approx(bradley_terry_loss(chosen - rejected, spec.name, eps).mean().item())
    assert value.item() != pytest.approx(bradley_terry_loss(chosen - rejected, "bt").mean().item())
    trainer.train()
    assert trainer.state.global_step == 2


def test_the_ensemble_key_changes_with_a_corrected_loss_only():
    from dataclasses import asdict

    from rlnoise.overoptimization.pipeline import ensemble_settings

    default = EnsembleConfig()
    # report_to left the ensemble config for the run settings; the key keeps it as "none", as before
    expected = {k: v for k, v in asdict(default).items() if k != "rm_loss"}
    assert ensemble_settings(default) == dict(expected, report_to="none")
    assert ensemble_settings(EnsembleConfig(rm_loss="rbt:0.1"))["rm_loss"] == "rbt:0.1"


def test_a_reward_trainer_logs_to_the_runs_tensorboard(tmp_path):
    """``report_to: tensorboard`` reaches a trl trainer built inside a stage: its losses go to event files under
    the run folder's ``tracking/`` (not the trainer's scratch folder), named after the trainer."""
    from trl import RewardConfig

    from rlnoise.core.distributed import process_state
    from rlnoise.core.models import load_model
    from rlnoise.core.tracking import event_scalars, start_tracking, stop_tracking
    from rlnoise.overoptimization.ensemble import reward_trainer

    process_state()
    model, tokenizer = load_model("tiny-bert", "reward_model", seed=0)
    args = RewardConfig(output_dir=str(tmp_path / "scratch" / "member0"), report_to="none", use_cpu=True, bf16=False,
                        max_steps=2, logging_steps=1, per_device_train_batch_size=4,
                        accelerator_config={"use_configured_state": True})  # fmt: skip
    start_tracking("tensorboard", tmp_path / "run", "demo")
    try:
        trainer = reward_trainer(model, tokenizer, toy_pairs().select_columns(["prompt", "chosen", "rejected"]), args)
        trainer.train()
    finally:
        stop_tracking()
    scalars = event_scalars(tmp_path / "run" / "tracking" / "reward_model-member0")
    assert [step for step, _ in scalars["train/loss"]] == [1, 2]
