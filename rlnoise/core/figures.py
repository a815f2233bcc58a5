"""Shared figure helpers: a headless matplotlib and one way to save a figure (PNG and SVG side by side)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: Path) -> list[Path]:
    """``path``.png and .svg; a title wider than the figure is wrapped first (matplotlib would cut it off)."""
    title = fig.get_suptitle()
    if title:
        size = fig._suptitle.get_fontsize()  # matplotlib has no public getter for the title's Text
        width = max(20, int(fig.get_figwidth() * 72 / (0.55 * size)))  # characters of ~0.55 em that fit
        fig.suptitle("\n".join(textwrap.fill(line, width) for line in title.split("\n")), fontsize=size)
    fig.tight_layout()
    out = [path.with_suffix(".png"), path.with_suffix(".svg")]
    for p in out:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return out
