"""Cached pipeline stages: one identity rule, manifests with checksums, and cleanup after killed builds.

A stage is built by exactly one function, which calls :func:`cached_stage` with its own settings and the stages it
consumes. The stage's key is a fingerprint of its name, those settings and the keys of its inputs, so a change
anywhere upstream (the gold's weights, the noise spec, the pool's sampling) reaches every stage downstream. A
finished stage holds ``manifest.json`` (size and SHA-256 of every file); a stage whose files no longer match is
reported by stage and path and rebuilt, never used.

Folders live in ``$RLNOISE_CACHE/stages/<name>-<key>/`` (default ``~/.cache/rlnoise``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlnoise.core.config import check_choice
from rlnoise.core.console import duration, say
from rlnoise.core.distributed import barrier, world
from rlnoise.core.files import canonical, clean_orphans, temp_dir, write_json

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SCALES = ("fixed", "units", "seeds", "units x seeds")
# Every stage this process asked for, in order: ``stage``, ``key``, ``seconds`` (its build time, measured now or
# recorded when it was built; None for stages built before builds were timed), ``scales`` (what its cost grows
# with), ``cached`` and ``peak_rss_gb`` (the process's peak resident memory so far, so the stage that raised it
# shows). Runs keep their part of it in results (the power planner's cost model, memory against estimates).
STAGE_LOG: list[dict] = []
SCHEMA = 2  # bump when the layout of stage folders changes: older folders are then never reused


def cache_root() -> Path:
    """``$RLNOISE_CACHE`` (default ``~/.cache/rlnoise``)."""
    return Path(os.environ.get("RLNOISE_CACHE", Path.home() / ".cache" / "rlnoise")).expanduser()


def fingerprint(*parts: Any, length: int = 12) -> str:
    """A short stable hash of JSON-serialisable parts (dicts are key-sorted, dataclasses become dicts)."""
    blob = json.dumps(canonical(list(parts)), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


@dataclass(frozen=True)
class Stage:
    """A finished stage: its name, key and folder (``stage / "file"`` is a path inside the folder)."""

    name: str
    key: str
    folder: Path

    def __truediv__(self, relative: str) -> Path:
        return self.folder / relative


def stage_key(name: str, settings: Any, inputs: Sequence[Stage | str] = ()) -> str:
    """The identity of a stage: its name, its own settings and the keys of the stages (or keyed values) it reads."""
    return fingerprint(SCHEMA, name, settings, _keys(inputs))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """Record size and SHA-256 of every file under ``folder``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    entries = {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}
    write_json(folder / MANIFEST, entries)


def manifest_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete, unchanged stage (None when it is)."""
    try:
        entries = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return f"{folder / MANIFEST} is missing (an unfinished or older build)"
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"{folder / MANIFEST} is not valid JSON"
    for relative, entry in entries.items():
        path = folder / relative
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != entry["bytes"]:
            return f"{path} has {path.stat().st_size} bytes, its manifest says {entry['bytes']}"
        if _sha256(path) != entry["sha256"]:
            return f"{path} does not match its manifest checksum"
    return None


def _discard(folder: Path) -> None:
    """Move a bad stage folder aside, then delete it, so no reader ever sees it half removed."""
    trash = temp_dir(folder.parent, folder.name)
    os.rename(folder, trash / "old")
    shutil.rmtree(trash, ignore_errors=True)


def cached_stage(
    name: str,
    settings: Any,
    build: Callable[[Path], None],
    *,
    inputs: Sequence[Stage | str] = (),
    root: str | Path | None = None,
    label: str | None = None,
    scales: str = "fixed",
) -> Stage:
    """Return a finished, verified stage, building it first when no intact copy exists.

    Args:
        name: stage name, e.g. ``"pool"``.
        settings: everything of the stage's own that determines its output (JSON-serialisable).
        build: ``build(folder)`` writes the stage's files into an empty folder; the folder is renamed into place
            only after it returns and its manifest is written, so an interrupted build leaves nothing behind (its
            temp folder is removed by the next call). When several processes finish the same stage at once, the
            first wins and all read its copy. Under ``accelerate launch`` all processes call this together: all run
            ``build`` (it may shard work across them) and the main process publishes its folder.
        inputs: the stages (or keys of keyed values) this stage reads; their keys enter this stage's key.
        root: cache root (default ``$RLNOISE_CACHE/stages``).
        label: how the console names the stage (default ``name``), e.g. ``"scored_pairs (train split)"``.
        scales: what the stage's cost grows with in its study, one of :data:`SCALES` (units: prompts, examples;
            seeds: replicate seeds), for the power planner's cost model; not part of the key.
    """
    check_choice("scales", scales, SCALES)
    root = Path(root) if root is not None else cache_root() / "stages"
    key = stage_key(name, settings, inputs)
    final = root / f"{name}-{key}"
    rank, _ = world()
    barrier()  # launched processes decide hit or miss at the same point, since builds may be collective
    if rank == 0:
        clean_orphans(root)
        if final.exists():
            problem = manifest_problem(final)
            if problem is not None:
                logger.warning("stage %r (%s): %s; rebuilding it", name, final.name, problem)
                print(f"stage {name!r} ({final.name}): {problem}; rebuilding it", flush=True)
                _discard(final)
    barrier()
    if (final / MANIFEST).exists():
        say(f"      {label or name}: cached ({final.name})")
        log_cost(label or name, key, json.loads((final / "stage.json").read_text()).get("seconds"), scales, True)
        return Stage(name, key, final)
    scratch = temp_dir(root, final.name)
    start = time.perf_counter()
    say(f"      {label or name}: computing")
    try:
        build(scratch)
        seconds = time.perf_counter() - start
        if rank == 0:
            record = dict(name=name, key=key, settings=settings, inputs=_keys(inputs), seconds=seconds, host=_host())
            write_json(scratch / "stage.json", record)
            write_manifest(scratch)
            try:
                os.rename(scratch, final)
            except OSError:
                if not (final / MANIFEST).exists():
                    raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    barrier()
    say(f"      {label or name}: done in {duration(time.perf_counter() - start)}, cached as {final.name}")
    log_cost(label or name, key, seconds, scales, False)
    return Stage(name, key, final)


def log_cost(stage: str, key: str, seconds: float | None, scales: str, cached: bool) -> None:
    """Record a piece of a run's work in :data:`STAGE_LOG` (cached stages do it themselves; sweeps log their
    cells): what it was, its identity, its seconds (when it was done, or when an earlier run did it: ``cached``)
    and what its cost grows with (:data:`SCALES`)."""
    check_choice("scales", scales, SCALES)
    entry = dict(stage=stage, key=key, seconds=seconds, scales=scales, cached=cached, peak_rss_gb=peak_rss_gb())
    STAGE_LOG.append(entry)


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, in GB (``getrusage``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak * (1 if sys.platform == "darwin" else 1024) / 1e9, 3)


def _host() -> str:
    import platform

    return platform.node()


def _keys(inputs: Sequence[Stage | str]) -> list[str]:
    return [i.key if isinstance(i, Stage) else str(i) for i in inputs]
