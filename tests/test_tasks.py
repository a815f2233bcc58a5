"""Shipped task loaders and the RLHF prompt set."""

import pytest

from rlnoise.core.tasks import SHIPPED, load_prompts, load_task


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_tasks_have_uniform_columns(name):
    ds = load_task(name)
    assert set(ds.column_names) == {"source", "question", "context", "options", "label"}
    assert len(ds) > 400
    for row in ds.select(range(0, len(ds), max(1, len(ds) // 50))):
        assert row["question"]
        assert 0 <= row["label"] < len(row["options"])
        assert all(o and not o.startswith(("A. ", "B. ")) for o in row["options"])


def test_known_rows():
    """Spot checks against the raw files: option prefixes stripped, answer letter mapped to its index."""
    obqa = load_task("openbookqa")[1]
    assert obqa["options"] == ["a marsh", "a tundra", "the plains", "a desert"] and obqa["label"] == 0
    boolq = load_task("boolq-dev")[0]
    assert boolq["options"] == ["no", "yes"] and boolq["label"] == 0  # "False" in the file
    assert len(load_task("boolq")) == 12697  # the 3,245 unlabelled test rows of combined.jsonl are dropped


def test_prompts_are_deterministic_and_disjoint():
    a = load_prompts(("openbookqa", "siqa"), n_train=50, n_eval=20, seed=3)
    b = load_prompts(("openbookqa", "siqa"), n_train=50, n_eval=20, seed=3)
    c = load_prompts(("openbookqa", "siqa"), n_train=50, n_eval=20, seed=4)
    assert a["train"]["prompt"] == b["train"]["prompt"]
    assert a["train"]["prompt"] != c["train"]["prompt"]
    assert not set(a["train"]["prompt"]) & set(a["eval"]["prompt"])
    row = a["train"][0]
    assert row["reference"] not in row["wrong"] and row["reference"] in row["prompt"]


def test_prompt_errors_name_the_field():
    with pytest.raises(ValueError, match="n_train"):
        load_prompts(("openbookqa",), n_train=-1, n_eval=5)
    with pytest.raises(ValueError, match="exceeds"):
        load_prompts(("openbookqa",), n_train=10_000, n_eval=5)


def test_unknown_task_offline_gives_clear_error():
    with pytest.raises(ValueError, match="not shipped"):
        load_task("nobody/no-such-dataset")


def test_instruction_datasets_become_open_ended_prompts(tmp_path):
    import json

    path = tmp_path / "instructions.jsonl"
    rows = [
        dict(instruction=f"Describe item {i}.", input="" if i % 2 else f"Item {i}.", output=f"It is {i}.")
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prompts = load_prompts([str(path)], n_train=4, n_eval=2, seed=0)
    every = prompts["train"].to_list() + prompts["eval"].to_list()
    assert sorted(r["reference"] for r in every) == sorted(r["output"] for r in rows)
    for r in every:
        assert r["wrong"] == [] and "Options:" not in r["prompt"] and "one or two sentences" not in r["prompt"]
        assert r["question"] in r["prompt"]
    assert any(r["prompt"].startswith("Item 0.\nDescribe item 0.") for r in every)
