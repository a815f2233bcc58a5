"""Files written so that an interrupted run never leaves half a file: atomic writes, JSON lines, temp folders
tagged with their owner's process so a later run can clean up what a killed one left."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

TEMP_TAG = ".tmp-"  # temp names: .<name>.tmp-<host>-<pid>-<random>


def canonical(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if type(obj).__name__ == "Column":  # datasets >= 4 returns lazy columns; hash their values, not their repr
        return [canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    return obj


def temp_dir(parent: Path, name: str) -> Path:
    """A new hidden folder in ``parent`` named after ``name`` and this process (see :func:`clean_orphans`)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{name}{TEMP_TAG}{socket.gethostname()}-{os.getpid()}-", dir=parent))


def _owner_alive(folder: Path) -> bool:
    try:
        host, pid = folder.name.rsplit(TEMP_TAG, 1)[1].rsplit("-", 2)[:2]
        pid = int(pid)
    except (IndexError, ValueError):
        return True  # not ours: leave it
    if host != socket.gethostname():
        return True  # another machine's build on a shared disk: cannot tell, leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_orphans(parent: str | Path) -> list[Path]:
    """Remove the temp folders in ``parent`` whose process is gone (killed builds and writes); returns them."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    orphans = [p for p in parent.glob(f".*{TEMP_TAG}*") if p.is_dir() and not _owner_alive(p)]
    for p in orphans:
        shutil.rmtree(p, ignore_errors=True)
    return orphans


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Files are replaced atomically. Directories are never replaced: if ``path`` already exists as a directory
    (another process finished the same work first), the new copy is discarded, so a reader never sees a folder
    disappear under it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(path.parent, path.name) / path.name
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
    return write_text(path, json.dumps(canonical(obj), indent=2, default=str) + "\n")


def write_yaml(path: str | Path, obj: Any) -> Path:
    return write_text(path, yaml.safe_dump(canonical(obj), sort_keys=False))


def write_jsonl(path: str | Path, rows) -> Path:
    """Write an iterable of dicts as JSON lines, atomically."""
    return write_text(path, "".join(json.dumps(canonical(r), default=str) + "\n" for r in rows))


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one JSON line (metrics logs grow line by line; a torn last line is skipped by :func:`read_jsonl`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(canonical(row), default=str) + "\n")
        f.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interrupted append
    return rows
