"""Fingerprints, atomic writes and cached stages."""

import json

import pytest

from rlnoise.core.files import append_jsonl, atomic_path, read_jsonl, write_json
from rlnoise.core.stages import cached_stage, fingerprint


def test_fingerprint_is_stable_and_order_free():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_interrupted_write_leaves_old_file(tmp_path):
    target = tmp_path / "results.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_torn_jsonl_line_is_skipped(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_jsonl(log, {"step": 1})
    with open(log, "a") as f:
        f.write('{"step": 2, "lo')
    assert read_jsonl(log) == [{"step": 1}]


def test_cached_stage_builds_once_and_survives_failures(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "out.txt").write_text("done")

    def broken(folder):
        (folder / "out.txt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_stage("s", {"x": 1}, broken, root=tmp_path)
    assert not list(tmp_path.glob("s-*"))  # nothing half-built is left
    first = cached_stage("s", {"x": 1}, build, root=tmp_path)
    second = cached_stage("s", {"x": 1}, build, root=tmp_path)
    assert first == second and len(calls) == 1 and (first / "out.txt").read_text() == "done"


def test_concurrent_builders_keep_the_first_finished_copy(tmp_path):
    """A second process finishing the same stage later must not replace (delete) the folder others are reading."""
    winner = {}

    def build_while_another_process_finishes(folder):
        (folder / "out.txt").write_text("mine")
        winner["path"] = cached_stage("s", {"x": 2}, lambda f: (f / "out.txt").write_text("theirs"), root=tmp_path)

    result = cached_stage("s", {"x": 2}, build_while_another_process_finishes, root=tmp_path)
    assert result == winner["path"] and (result / "out.txt").read_text() == "theirs"


def test_runs_on_tiny_test_models_are_marked_plumbing_only(tmp_path, capsys):
    from rlnoise.core.runs import Run

    real = Run("study", {"run_name": "tiny-named", "output_root": str(tmp_path), "policy": "smollm2-135m-instruct"})
    assert "plumbing_only" not in real.metadata and "tiny random test models" not in capsys.readouterr().out
    tiny = Run("study", {"run_name": "r", "output_root": str(tmp_path), "policy": "tiny-llama", "k": 3})
    assert tiny.metadata["plumbing_only"] is True and "(tiny-llama)" in capsys.readouterr().out


def test_runs_record_the_code_and_cpu_they_ran_on():
    import subprocess

    import torch

    from rlnoise.core.runs import run_metadata

    metadata = run_metadata()
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True)
    assert metadata["code"].removesuffix("+dirty") == head.stdout.strip()
    assert metadata["cpu"] == torch.backends.cpu.get_cpu_capability()
