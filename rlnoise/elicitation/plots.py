"""Figures of the elicitation study, drawn from its results.json alone (`python -m rlnoise.plotting`)."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.figures import plt, save_figure


def plot_elicitation(results: dict, out_dir: str | Path) -> list[Path]:
    """Elicitation sweep, one row per task: (1) accuracy vs budget per method (its best weak fraction at each
    budget), (2) every cell's (cost, accuracy) with the Pareto frontier, (3) accuracy vs weak fraction, one line
    per budget (the best method at each fraction). Error bars: 1 standard error.

    Args:
        results: the ``results.json`` written by ``recipes/elicitation/sweep.py``.
        out_dir: folder for ``elicitation.png`` / ``.svg``.
    """
    summary = results["summary"]
    tasks = sorted({s["task"] for s in summary})
    fig, axes = plt.subplots(len(tasks), 3, figsize=(15, 4 * len(tasks)), squeeze=False)
    wmc = results["weak_marginal_cost"]
    for i, task in enumerate(tasks):
        rows = [s for s in summary if s["task"] == task]
        ax = axes[i, 0]
        for k, name in enumerate(sorted({s["method"] for s in rows})):
            best = {}
            for s in rows:
                if s["method"] == name and (s["budget"] not in best or s["accuracy"] > best[s["budget"]]["accuracy"]):
                    best[s["budget"]] = s
            pts = [best[b] for b in sorted(best)]
            ax.errorbar(
                [p["budget"] for p in pts],
                [p["accuracy"] for p in pts],
                [p["accuracy_se"] for p in pts],
                marker="o",
                capsize=2,
                color=f"C{k}",
                label=name,
            )
        ax.set_xscale("log")
        budgets = sorted({s["budget"] for s in rows})
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.minorticks_off()
        ax.set_xlabel("budget (gold-label units)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{task}: accuracy vs budget (best weak fraction per method)", fontsize=9)
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize=7)
        ax = axes[i, 1]
        ax.scatter(
            [s["cost"] for s in rows],
            [s["accuracy"] for s in rows],
            s=12,
            color="grey",
            alpha=0.6,
            label="cells (mean over seeds)",
        )
        front = results["frontier"][task]
        ax.step(
            [f["cost"] for f in front],
            [f["accuracy"] for f in front],
            where="post",
            color="C3",
            marker="o",
            label="Pareto frontier",
        )
        for f in front:
            ax.annotate(
                f"{f['method']} w={f['weak_fraction']:g}",
                (f["cost"], f["accuracy"]),
                fontsize=6,
                xytext=(3, -8),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.minorticks_off()  # a narrow log range otherwise labels its minor ticks on top of each other
        ax.set_xlabel(f"cost (weak label = {wmc:g})")
        ax.set_title(f"{task}: Pareto frontier", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[i, 2]
        for k, reg in enumerate(r for r in results["regimes"] if r["task"] == task):
            fractions = sorted(float(f) for f in reg["by_fraction"])
            ax.plot(
                fractions,
                [reg["by_fraction"][str(f)] for f in fractions],
                marker="o",
                color=f"C{k}",
                label=f"budget {reg['budget']:g}: {reg['regime']}",
            )
        ax.set_xlabel("share of budget spent on weak labels")
        ax.set_title(f"{task}: accuracy vs weak fraction (best method)", fontsize=9)
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize=7)
    fig.suptitle("Label budgets: weak vs gold labels", fontsize=11)
    return save_figure(fig, Path(out_dir) / "elicitation")
