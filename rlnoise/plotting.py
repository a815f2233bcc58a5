"""Figures built from results files only, so they can be rebuilt offline (``python -m rlnoise.plotting RUN_DIR``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path: Path) -> list[Path]:
    fig.tight_layout()
    out = [path.with_suffix(".png"), path.with_suffix(".svg")]
    for p in out:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return out


def plot_rm_accuracy(results: dict, out_dir: str | Path) -> list[Path]:
    """Held-out proxy accuracy per noise setting: members (dots) and objectives (bars), on true and noisy labels,
    plus each member's training-loss curve.

    Args:
        results: the ``results.json`` written by ``recipes/overoptimization/train_rms.py``.
        out_dir: folder for ``rm_accuracy.png`` / ``.svg``.
    """
    settings = results["settings"]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(settings)
    objectives = sorted({o for s in settings.values() for o in s["accuracy"]["objectives"]})
    width = 0.8 / max(len(objectives), 1)
    for i, name in enumerate(names):
        acc = settings[name]["accuracy"]
        members_true = acc["members"]["true"]
        ax_acc.scatter(
            [i - 0.45] * len(members_true),
            members_true,
            color="gray",
            s=14,
            zorder=3,
            label="members (true labels)" if i == 0 else None,
        )
        ax_acc.scatter(
            [i - 0.45] * len(acc["members"]["noisy"]),
            acc["members"]["noisy"],
            color="gray",
            s=14,
            marker="x",
            zorder=3,
            label="members (noisy labels)" if i == 0 else None,
        )
        for j, obj in enumerate(objectives):
            ax_acc.bar(
                i - 0.3 + (j + 0.5) * width,
                acc["objectives"][obj]["true"],
                width,
                color=f"C{j}",
                label=obj if i == 0 else None,
            )
    ax_acc.axhline(0.5, color="k", lw=0.6, ls=":")
    ax_acc.set_xticks(range(len(names)), [f"{n}\n({settings[n]['flip_rate']:.0%} flipped)" for n in names])
    ax_acc.set_ylim(0.4, 1.0)
    ax_acc.set_ylabel("held-out pairwise accuracy")
    ax_acc.set_title("Proxy accuracy vs gold preferences (bars: ensemble objectives)")
    ax_acc.legend(fontsize=7, loc="upper right", ncol=2)
    for i, name in enumerate(names):
        for j, curve in enumerate(settings[name]["train_loss"]):
            ax_loss.plot(curve, color=f"C{i}", alpha=0.7, lw=1, label=name if j == 0 else None)
    ax_loss.set_xlabel("logging step")
    ax_loss.set_ylabel("Bradley-Terry training loss")
    ax_loss.set_title("Member training loss")
    ax_loss.legend(fontsize=8)
    return _save(fig, Path(out_dir) / "rm_accuracy")


PLOTTERS = {"train_rms": plot_rm_accuracy}


def replot(run_dir: str | Path) -> list[Path]:
    """Rebuild every figure of a run from its ``results.json``."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    return PLOTTERS[results["recipe"]](results, run_dir)


if __name__ == "__main__":
    for path in replot(sys.argv[1]):
        print(path)
