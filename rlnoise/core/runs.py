"""Run folders whose results always belong to the config beside them, and resumable cell logs.

A run writes ``runs/<study>/<run>/{config.yaml, results.json, samples.jsonl, *.png}``. A resumable run (a sweep of
cells, or RL runs with checkpoints) may be rerun to finish what a killed run left; it may also grow or shrink its
sweep axes. Any other change of config stops with an error naming the fields that differ: start a new run
(``--run_name``) or replace this one (``--overwrite``). Rows of a cell log carry the key of the config that made
them, and results are built only from the rows of the current config.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from rlnoise.core.console import say
from rlnoise.core.distributed import barrier, world
from rlnoise.core.files import (
    append_jsonl,
    canonical,
    clean_orphans,
    read_jsonl,
    write_json,
    write_jsonl,
    write_text,
    write_yaml,
)
from rlnoise.core.samples import samples_markdown
from rlnoise.core.stages import STAGE_LOG, fingerprint
from rlnoise.core.tracking import start_tracking, stop_tracking

# Fields that name where a run goes or how it is split, not what it computes.
PLACEMENT_FIELDS = ("run_name", "output_root", "overwrite", "shard", "report_to")


class ConfigMismatch(ValueError):
    """A rerun into a run folder whose results were made by another config."""


def run_metadata() -> dict:
    """Where and with what a run ran: start time, host, the CPU's vector capability (AVX2 and AVX-512 machines
    differ in speed and in float32 summation order), the rlnoise code, Python and library versions, process count
    and the distributed engine that ran (:mod:`rlnoise.core.engine`)."""
    import os
    import platform
    import time
    from importlib.metadata import version

    import torch

    from rlnoise.core.engine import running_engine
    from rlnoise.core.rehearsal import applied

    packages = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")
    return dict(
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        host=platform.node(),
        cpu=torch.backends.cpu.get_cpu_capability(),
        code=code_version(),
        python=platform.python_version(),
        versions={p: version(p) for p in packages},
        processes=world()[1],
        engine=running_engine(dict(os.environ), torch.cuda.is_available()),
        **({"rehearsal": applied()} if applied() else {}),
    )


def code_version() -> str:
    """The rlnoise commit that ran (``+dirty`` when the package or recipes differ from it), or the installed
    package's version outside a git checkout."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    root = Path(__file__).resolve().parents[2]
    git = ["git", "-C", str(root)]
    try:
        if not (root / ".git").exists():  # an installed copy: a repository around it is not its source
            raise OSError
        commit = subprocess.run([*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True)
        changes = subprocess.run([*git, "status", "--porcelain", "--", "rlnoise", "recipes"], capture_output=True,
                                 text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        try:
            return version("rlnoise")
        except PackageNotFoundError:
            return "unknown"
    return commit.stdout.strip() + ("+dirty" if changes.stdout.strip() else "")


def run_dir(study: str, run_name: str, root: str | Path = "runs") -> Path:
    """``<root>/<study>/<run_name>``, created if missing."""
    path = Path(root) / study / run_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _differences(old: dict, new: dict) -> list[str]:
    names = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in names if old.get(k) != new.get(k)]


class Run:
    """A run folder bound to one config.

    Args:
        study: study folder name under the output root (``overoptimization``, ``tint``, ...).
        config: the whole config as a flat dict (:func:`rlnoise.core.config.to_dict` of every dataclass).
        axes: sweep axes (config fields) a resumed run may change; results then cover exactly the new grid.
        resumable: False for runs that recompute everything from cached stages; their folder is emptied at start,
            so no output of an earlier config survives beside the new config.
        legacy_key: fields the study's key held before they left its config, at the value they had, so that folders
            written before keep their key and resume.
    """

    def __init__(
        self,
        study: str,
        config: dict,
        *,
        axes: Iterable[str] = (),
        resumable: bool = True,
        legacy_key: dict | None = None,
    ):
        axes = tuple(axes)
        self.config = dict(config)
        self.folder = Path(config.get("output_root", "runs")) / study / config["run_name"]
        self.fixed = {k: v for k, v in yaml.safe_load(yaml.safe_dump(canonical(config))).items() if k not in axes}
        for k in PLACEMENT_FIELDS:
            self.fixed.pop(k, None)
        self.fixed.update(legacy_key or {})
        self.key = fingerprint(self.fixed)
        self.metadata = run_metadata()  # stamped now, at the start of the run
        self._stages_from = len(STAGE_LOG)  # the stages this run asks for are logged from here on
        models = {k: v for k, v in config.items() if k not in PLACEMENT_FIELDS and isinstance(v, str)}
        tiny = sorted({v for v in models.values() if v.startswith("tiny-")})  # the tiny test models' names
        if tiny:
            self.metadata["plumbing_only"] = True
            say(
                f"note: this run uses tiny random test models ({', '.join(tiny)}); its numbers check that the "
                "pipeline runs end to end and mean nothing about the science (use a quick preset for that)"
            )
        overwrite = bool(config.get("overwrite"))
        if resumable and not overwrite:
            self._refuse_another_config(axes)  # every process checks, so all of them stop together
        barrier()
        if world()[0] == 0:
            if self.folder.exists() and (overwrite or not resumable):
                shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            clean_orphans(self.folder)
            write_yaml(self.folder / "config.yaml", self.config)
        barrier()
        start_tracking(config.get("report_to", "none"), self.folder, config["run_name"])

    def _refuse_another_config(self, axes: tuple[str, ...]) -> None:
        saved = self.folder / "config.yaml"
        if not saved.exists():
            return
        old = yaml.safe_load(saved.read_text()) or {}
        old = {k: v for k, v in old.items() if k not in axes and k not in PLACEMENT_FIELDS}
        diff = _differences(old, {k: v for k, v in self.fixed.items() if k not in PLACEMENT_FIELDS})
        if diff:
            raise ConfigMismatch(
                f"{self.folder} holds results of another config ({'; '.join(diff)}). Rerun with "
                "--run_name NEW to start a new run, or --overwrite to delete this one and start again."
            )

    def write_outputs(
        self,
        results: dict,
        *,
        samples: list[dict] | None = None,
        table: str | None = None,
        plot: Callable[[dict, Path], list[Path]] | None = None,
    ) -> None:
        """The end of every run (main process): ``results.json`` (with the config key and metadata), and when given
        ``samples.jsonl`` (and its readable ``samples.md``), ``results.md`` and the figures drawn by
        ``plot(results, folder)``."""
        stop_tracking()
        if world()[0] != 0:
            return
        results = dict(results, config_key=self.key, metadata=self.metadata, stages=STAGE_LOG[self._stages_from :])
        write_json(self.folder / "results.json", results)
        if samples is not None:
            write_jsonl(self.folder / "samples.jsonl", samples)
        if (self.folder / "samples.jsonl").exists():  # written above, or appended during the run (RL)
            title = f"Samples of {self.folder.name}"
            write_text(self.folder / "samples.md", samples_markdown(read_jsonl(self.folder / "samples.jsonl"), title))
        if table is not None:
            write_text(self.folder / "results.md", table + "\n")
            print(table)
        for path in plot(results, self.folder) if plot else []:
            print(f"wrote {path}")
        print(f"results in {self.folder}")

    def cells(self, name: str = "cells.jsonl", pattern: str | None = None) -> CellLog:
        """The resumable cell log of this run (``pattern`` also reads sibling logs, e.g. other shards')."""
        return CellLog(self.folder / name, self.key, pattern)


class CellLog:
    """An append-only JSON-lines log of finished cells, each row keyed by the run's config key and its cell.

    Args:
        path: the log this process appends to.
        run_key: key of the run's fixed config (:attr:`Run.key`).
        pattern: glob (in the log's folder) of every log to read, e.g. ``"cells*.jsonl"`` for sharded sweeps.
    """

    def __init__(self, path: str | Path, run_key: str, pattern: str | None = None):
        self.path, self.run_key = Path(path), run_key
        self.pattern = pattern or self.path.name

    def key(self, *cell: Any) -> str:
        """The key of one cell: the run's config key plus the cell's own coordinates and settings."""
        return fingerprint(self.run_key, cell)

    def finished(self) -> dict[str, dict]:
        """``{key: row}`` of every finished row of this config (rows of other configs are never returned)."""
        rows = {}
        for path in sorted(self.path.parent.glob(self.pattern)):
            for row in read_jsonl(path):
                if row.get("config_key") == self.run_key:
                    rows[row["key"]] = row
        return rows

    def append(self, key: str, row: dict) -> dict:
        """Record one finished cell; returns the row as written."""
        row = dict(row, key=key, config_key=self.run_key)
        append_jsonl(self.path, row)
        return row

    def rows(self, keys: Iterable[str]) -> list[dict]:
        """The finished rows of ``keys`` (the current grid), in that order; missing keys are skipped."""
        done = self.finished()
        return [done[k] for k in dict.fromkeys(keys) if k in done]
