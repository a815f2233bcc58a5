"""The project's own small inputs, committed under ``data/`` at the repository root (see ``data/README.md``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def data_path(name: str) -> Path:
    """Path of ``data/<name>``; a clear error when the file is missing (e.g. a non-editable install)."""
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: rlnoise reads its data/ folder from the repository; install it with "
            "`pip install -e .` (or `make install`) from a full checkout"
        )
    return path


@cache
def data_text(name: str) -> str:
    """Contents of ``data/<name>``."""
    return data_path(name).read_text()


def data_yaml(name: str) -> Any:
    """``data/<name>`` parsed as YAML."""
    return yaml.safe_load(data_text(name))


# Names of the balanced binary tasks (rlnoise.core.tasks.binary_task), read here so configs can check and list them
# without loading datasets.
BINARY_TASKS: tuple[str, ...] = tuple(data_yaml("tasks.yaml")["binary"])
