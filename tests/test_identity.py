"""Cache and run identity: keys cover everything upstream, corrupted stages are rebuilt, run folders never mix
configs, killed builds leave nothing behind."""

import json
import os
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlnoise.core.files import TEMP_TAG, clean_orphans
from rlnoise.core.runs import CellLog, ConfigMismatch, Run
from rlnoise.core.stages import cached_stage, fingerprint, stage_key

SETTINGS = st.dictionaries(
    st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
)


@given(SETTINGS, st.data())
def test_changing_any_setting_or_input_changes_the_key(settings, data):
    base = stage_key("s", settings, ["upstream"])
    if settings:
        field = data.draw(st.sampled_from(sorted(settings)))
        changed = dict(settings, **{field: [settings[field]]})  # any other value of that one field
        assert stage_key("s", changed, ["upstream"]) != base
    assert stage_key("s", dict(settings, extra=1), ["upstream"]) != base
    assert stage_key("s", settings, ["upstream2"]) != base
    assert stage_key("t", settings, ["upstream"]) != base
    assert stage_key("s", dict(reversed(list(settings.items()))), ["upstream"]) == base  # order-free


def test_stage_inputs_chain_into_downstream_keys(tmp_path):
    up1 = cached_stage("up", {"gold": 1.0}, lambda f: (f / "x").write_text("1"), root=tmp_path)
    up2 = cached_stage("up", {"gold": 3.0}, lambda f: (f / "x").write_text("3"), root=tmp_path)
    down1 = cached_stage("down", {}, lambda f: (f / "y").write_text("a"), inputs=[up1], root=tmp_path)
    down2 = cached_stage("down", {}, lambda f: (f / "y").write_text("b"), inputs=[up2], root=tmp_path)
    assert down1.key != down2.key and (down2 / "y").read_text() == "b"


def test_a_corrupted_stage_is_named_and_rebuilt(tmp_path, capsys):
    builds = []

    def build(folder):
        builds.append(1)
        np.save(folder / "scores.npy", np.arange(4.0))

    stage = cached_stage("pool_gold", {"k": 1}, build, root=tmp_path)
    np.save(stage / "scores.npy", np.arange(4.0) + 1)  # a valid-looking file with wrong numbers
    again = cached_stage("pool_gold", {"k": 1}, build, root=tmp_path)
    message = capsys.readouterr().out
    assert "stage 'pool_gold'" in message and "scores.npy" in message and "rebuilding" in message
    assert len(builds) == 2 and np.array_equal(np.load(again / "scores.npy"), np.arange(4.0))
    (again / "manifest.json").write_text("garbage")
    cached_stage("pool_gold", {"k": 1}, build, root=tmp_path)
    assert len(builds) == 3 and "manifest.json" in capsys.readouterr().out


def test_temp_folders_of_killed_processes_are_cleaned(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f".pool-abc{TEMP_TAG}{os.uname().nodename}-{dead.pid}-xyz"
    alive = tmp_path / f".pool-abc{TEMP_TAG}{os.uname().nodename}-{os.getpid()}-xyz"
    orphan.mkdir()
    alive.mkdir()
    assert clean_orphans(tmp_path) == [orphan]
    assert not orphan.exists() and alive.exists()


def _config(tmp_path, **changes):
    return dict(dict(run_name="r", output_root=str(tmp_path), lr=0.1, seeds=[0], overwrite=False), **changes)


def test_a_run_folder_refuses_another_config_and_names_the_fields(tmp_path):
    run = Run("study", _config(tmp_path), axes=("seeds",))
    log = run.cells()
    log.append(log.key("cell", 0), {"accuracy": 0.7})
    Run("study", _config(tmp_path, seeds=[0, 1]), axes=("seeds",))  # a sweep axis may grow
    with pytest.raises(ConfigMismatch, match=r"lr: 0.1 -> 0.5.*--run_name.*--overwrite"):
        Run("study", _config(tmp_path, lr=0.5), axes=("seeds",))
    fresh = Run("study", _config(tmp_path, lr=0.5, overwrite=True), axes=("seeds",))
    assert fresh.key != run.key and not fresh.cells().finished()


def test_a_legacy_key_field_keeps_a_folder_written_before_it_left_the_config(tmp_path):
    """A field that left the study's config for the placement settings (``report_to``) stays in the key at its old
    value, so a folder written while it was in the config keeps its key and resumes."""
    now = Run("study", _config(tmp_path, report_to="tensorboard"), legacy_key={"report_to": "none"})
    assert now.key == fingerprint({"lr": 0.1, "seeds": [0], "report_to": "none"})  # the key it had then
    plain = Run("study", _config(tmp_path, run_name="other", report_to="tensorboard"))
    assert plain.key == fingerprint({"lr": 0.1, "seeds": [0]})


def test_a_cell_log_never_returns_rows_of_another_config(tmp_path):
    path = tmp_path / "cells.jsonl"
    old, new = CellLog(path, "config-a"), CellLog(path, "config-b")
    old.append(old.key("cell"), {"accuracy": 0.9})
    assert new.key("cell") != old.key("cell") and new.finished() == {}
    new.append(new.key("cell"), {"accuracy": 0.6})
    assert [r["accuracy"] for r in new.rows([new.key("cell"), old.key("cell")])] == [0.6]
    assert json.loads(path.read_text().splitlines()[0])["config_key"] == "config-a"


def test_a_non_resumable_run_starts_from_an_empty_folder(tmp_path):
    run = Run("study", _config(tmp_path), resumable=False)
    (run.folder / "results.json").write_text("{}")
    Run("study", _config(tmp_path, lr=0.5), resumable=False)
    assert not (run.folder / "results.json").exists() and (run.folder / "config.yaml").exists()


def test_peak_rss_follows_what_the_process_allocated():
    """``peak_rss_gb`` (recorded with every stage) rises by what a process touches: 300 MB beyond its peak so
    far here (the interpreter's own peak depends on what its start-up imported)."""
    import subprocess
    import sys

    script = (
        "import numpy as np; from rlnoise.core.stages import peak_rss_gb; before = peak_rss_gb(); "
        "a = np.ones(int((before + 0.3) * 1e9) // 8); print(before, peak_rss_gb())"
    )
    before, after = map(float, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                              check=True).stdout.split())  # fmt: skip
    assert 0.25 < after - before < 0.35 + before  # at most: what is resident besides the array, plus 0.3 GB
