"""Figures of the tint study, drawn from its results.json alone (`python -m rlnoise.plotting`)."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.figures import plt, save_figure

X_AXES = {  # match -> (row field, axis label): matched sweeps are drawn against the damage they fixed
    "none": ("intensity", "noise intensity (per-digit probability)"),
    "digit_rate": ("train_digit_rate", "share of training-trace digits changed"),
    "line_rate": ("train_line_rate", "share of training-trace lines changed"),
    "wrong_answer_rate": ("train_answer_wrong", "share of training answers wrong"),
}


def plot_tint(results: dict, out_dir: str | Path) -> list[Path]:
    """TInt sweep: exact match on the clean test set vs noise intensity (matched sweeps: vs the measured damage
    they fixed), one row per task and one column per
    method (fine-tuned, few-shot prompted); a line per noise type (colour) and contamination (style), all starting
    from the clean cell at intensity 0; faint lines are step accuracy.

    Args:
        results: the ``results.json`` written by ``recipes/tint/sweep.py``.
        out_dir: folder for ``tint.png`` / ``.svg``.
    """
    rows = results["cells"]
    match = results.get("match", "none")
    x_key, x_label = X_AXES[match]
    tasks = sorted({r["task"] for r in rows})
    methods = [m for m in ("finetune", "few_shot") if any(r["method"] == m for r in rows)]
    contaminations = sorted({r["contamination"] for r in rows if r["noise"] != "none"})
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(
        len(tasks), len(methods), figsize=(5 * len(methods), 3.8 * len(tasks)), squeeze=False, sharey=True
    )
    for i, task in enumerate(tasks):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            cells = [r for r in rows if r["task"] == task and r["method"] == method]
            clean = [r for r in cells if r["noise"] == "none"]
            for k, kind in enumerate(("static", "dynamic")):
                for c in contaminations:
                    line = sorted(
                        (r for r in cells if r["noise"] == kind and r["contamination"] == c),
                        key=lambda r: r[x_key],
                    )
                    if not line:
                        continue
                    line = clean + line
                    xs = [r[x_key] for r in line]
                    style = styles[contaminations.index(c) % len(styles)]
                    ax.plot(
                        xs,
                        [r["exact_match"] for r in line],
                        color=f"C{k}",
                        ls=style,
                        marker="o",
                        label=f"{kind}, contamination {c:g}",
                    )
                    ax.plot(xs, [r["step_accuracy"] for r in line], color=f"C{k}", ls=style, alpha=0.3, lw=0.8)
                    if all("exact_match_interval" in r for r in line):  # 95% Wilson over the test problems
                        low = [r["exact_match"] - r["exact_match_interval"]["low"] for r in line]
                        high = [r["exact_match_interval"]["high"] - r["exact_match"] for r in line]
                        ax.errorbar(xs, [r["exact_match"] for r in line], yerr=[low, high], fmt="none", color=f"C{k}")
            ax.set_title(f"{task} | {method.replace('_', '-')}", fontsize=10)
            ax.set_xlabel(x_label)
            if j == 0:
                ax.set_ylabel("exact match (clean test)")
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=7)
    pooled = len(results.get("seeds", [0])) > 1
    bars = f"bars: 95%, Wilson{' and seeds pooled' if pooled else ''}"
    fig.suptitle(f"TInt: accuracy vs training-noise level\n(faint: step accuracy; {bars})", fontsize=10)
    return save_figure(fig, Path(out_dir) / "tint")
