"""Run directories, config fingerprints, atomic writes and stage caching.

A run writes ``runs/<study>/<run>/{config.yaml, results.json, metrics.jsonl, samples.jsonl, *.png}``.
Expensive stages are cached under ``$RLNOISE_CACHE/stages/<stage>-<fingerprint>/`` and skipped when present;
every file is written to a temporary name and renamed, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from rlnoise.distributed import barrier, world


def cache_root() -> Path:
    """``$RLNOISE_CACHE`` (default ``~/.cache/rlnoise``)."""
    return Path(os.environ.get("RLNOISE_CACHE", Path.home() / ".cache" / "rlnoise")).expanduser()


def _canonical(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_canonical(v) for v in obj]
    if type(obj).__name__ == "Column":  # datasets >= 4 returns lazy columns; hash their values, not their repr
        return [_canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    return obj


def fingerprint(*parts: Any, length: int = 12) -> str:
    """A short stable hash of JSON-serialisable parts (dicts are key-sorted, dataclasses become dicts)."""
    blob = json.dumps(_canonical(list(parts)), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Files are replaced atomically. Directories are never replaced: if ``path`` already exists as a directory
    (another process finished the same work first), the new copy is discarded, so a reader never sees a folder
    disappear under it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        if tmp.is_dir():
            try:
                os.rename(tmp, path)
            except OSError:
                if not path.is_dir():
                    raise
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return write_text(path, json.dumps(_canonical(obj), indent=2, default=str) + "\n")


def write_yaml(path: str | Path, obj: Any) -> Path:
    return write_text(path, yaml.safe_dump(_canonical(obj), sort_keys=False))


def write_jsonl(path: str | Path, rows) -> Path:
    """Write an iterable of dicts as JSON lines, atomically."""
    return write_text(path, "".join(json.dumps(_canonical(r), default=str) + "\n" for r in rows))


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one JSON line (metrics logs grow line by line; a torn last line is skipped by :func:`read_jsonl`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(_canonical(row), default=str) + "\n")
        f.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interrupted append
    return rows


def run_metadata() -> dict:
    """Where and with what a run ran: start time, host, Python and library versions, process count."""
    import platform
    import time
    from importlib.metadata import version

    packages = ("torch", "transformers", "trl", "peft", "accelerate", "datasets")
    return dict(
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        host=platform.node(),
        python=platform.python_version(),
        versions={p: version(p) for p in packages},
        processes=world()[1],
    )


def run_dir(study: str, run_name: str, root: str | Path = "runs") -> Path:
    """``<root>/<study>/<run_name>``, created if missing."""
    path = Path(root) / study / run_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_stage(stage: str, config: Any, build: Callable[[Path], None], *, root: str | Path | None = None) -> Path:
    """Return the folder of a finished stage, building it first if no finished copy exists.

    Args:
        stage: stage name, e.g. ``"preferences"``.
        config: anything JSON-serialisable that fully determines the stage's output.
        build: ``build(folder)`` writes the stage's files into an empty folder; it is renamed into place only
            after it returns, so an interrupted build leaves nothing behind. When several processes build the
            same stage at once, the first to finish wins and all of them read its copy. Under ``accelerate launch``
            all processes must call this together: all of them run ``build`` (it may shard work across them) and
            the main process publishes its folder.
        root: cache root (default ``$RLNOISE_CACHE/stages``).

    Returns:
        The stage folder ``<root>/<stage>-<fingerprint>``.
    """
    root = Path(root) if root is not None else cache_root() / "stages"
    final = root / f"{stage}-{fingerprint(config)}"
    barrier()  # launched processes decide hit or miss at the same point, since builds may be collective
    if (final / ".done").exists():
        return final
    rank, size = world()
    if rank > 0:  # builds may be collective, so every process runs it, but only the main process publishes
        with tempfile.TemporaryDirectory(prefix=f".{stage}.rank{rank}.") as scratch:
            build(Path(scratch))
    else:
        with atomic_path(final) as tmp:
            tmp.mkdir(parents=True)
            write_json(tmp / "stage_config.json", config)
            build(tmp)
            (tmp / ".done").write_text("")
    barrier()
    return final
