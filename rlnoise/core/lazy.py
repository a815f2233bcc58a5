"""Package namespaces that import their submodules on first use, so ``import rlnoise.tint.config`` (a recipe's
command line) does not load torch, datasets and transformers through the package's ``__init__``."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` (PEP 562) that resolves ``name`` from the module ``exports[name]``."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
