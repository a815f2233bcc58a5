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


def plot_bon(results: dict, out_dir: str | Path) -> list[Path]:
    """Best-of-n gold (top row) and proxy (bottom row) vs sqrt(KL), one column per noise setting.

    Single reward models are drawn as their mean with a min-max band over members; each ensemble objective is a
    line; dashed lines are the Gao fits d (alpha - beta d) of the gold curves.

    Args:
        results: the ``results.json`` written by ``recipes/overoptimization/bon.py``.
        out_dir: folder for ``bon.png`` / ``.svg``.
    """
    import numpy as np

    from rlnoise.optimize.bon import bon_kl
    from rlnoise.optimize.scaling import bon_form

    settings = {spec: results["settings"][spec] for spec in results.get("noise", results["settings"])}
    fig, axes = plt.subplots(
        2, len(settings), figsize=(4.6 * len(settings), 7.2), squeeze=False, sharex=True, sharey="row"
    )
    for col, (spec, setting) in enumerate(settings.items()):
        d = np.sqrt(setting["kl"])
        dense = np.linspace(0, d[-1], 100)
        members = {k: v for k, v in setting["selectors"].items() if k.startswith("member")}
        names = results.get("objectives", [k for k in setting["selectors"] if not k.startswith("member")])
        objectives = {k: setting["selectors"][k] for k in names}
        for row, key in enumerate(("gold", "proxy")):
            ax = axes[row, col]
            curves = np.array([m[key] for m in members.values()])
            ax.fill_between(d, curves.min(0), curves.max(0), color="gray", alpha=0.25, lw=0)
            ax.plot(d, curves.mean(0), color="k", lw=1.8, label=f"single RMs (mean of {len(curves)}, band min-max)")
            if key == "gold" and all("alpha" in m for m in members.values()):
                fit = np.mean([bon_form(dense, m["alpha"], m["beta"]) for m in members.values()], axis=0)
                ax.plot(dense, fit, color="k", lw=1, ls="--")
            for j, (name, curve) in enumerate(objectives.items()):
                ax.plot(d, curve[key], color=f"C{j}", lw=1.5, label=f"ensemble {name}")
                if key == "gold" and "alpha" in curve:
                    ax.plot(dense, bon_form(dense, curve["alpha"], curve["beta"]), color=f"C{j}", lw=0.9, ls="--")
            ax.axhline(0, color="gray", lw=0.6, ls=":")
            ax.set_title(f"{key} | noise {spec} ({setting['flip_rate']:.0%} flipped)", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{key} score gain over n=1 (pool std)")
            if row == 1:
                ax.set_xlabel("sqrt(KL(best-of-n || policy))")
        top = axes[0, col].secondary_xaxis("top")
        ticks = [n for n in (2**i for i in range(1, 20)) if n <= setting["ns"][-1]]
        top.set_xticks(np.sqrt(bon_kl(np.array(ticks, dtype=float))), labels=[str(n) for n in ticks], fontsize=7)
        top.set_xlabel("n", fontsize=8)
    axes[1, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"Best-of-n on {results['pool']['prompts']} prompts x {results['pool']['size']} samples (dashed: Gao fit)",
        fontsize=11,
    )
    return _save(fig, Path(out_dir) / "bon")


def plot_rl(results: dict, out_dir: str | Path) -> list[Path]:
    """Online RL: gold (top) and proxy (bottom) vs sqrt(KL) over training, one column per noise setting, colour per
    objective, line style per KL coefficient; dashed lines are Gao's RL fits of the gold curves.

    Args:
        results: the ``results.json`` written by ``recipes/overoptimization/ppo.py`` or ``grpo.py``.
        out_dir: folder for ``<algorithm>.png`` / ``.svg``.
    """
    import numpy as np

    from rlnoise.optimize.scaling import rl_form

    runs = results["runs"]
    noise = results.get("noise") or sorted({r["noise"] for r in runs.values()})
    objectives = sorted({r["objective"] for r in runs.values()})
    betas = sorted({r["beta"] for r in runs.values()})
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(2, len(noise), figsize=(4.6 * len(noise), 7.2), squeeze=False, sharex=True, sharey="row")
    for col, spec in enumerate(noise):
        for run in (r for r in runs.values() if r["noise"] == spec):
            d = np.sqrt(np.maximum(run["kl"], 0.0))
            color = f"C{objectives.index(run['objective'])}"
            style = styles[betas.index(run["beta"]) % len(styles)]
            label = f"{run['objective']}, beta={run['beta']}"
            for row, key in enumerate(("gold", "proxy")):
                axes[row, col].plot(d, run[key], color=color, ls=style, marker="o", ms=3, label=label)
            if "alpha" in run and len(d) > 1:
                dense = np.linspace(0, d.max(), 100)
                axes[0, col].plot(dense, rl_form(dense, run["alpha"], run["beta_fit"]), color=color, lw=0.8, ls=":")
        for row, key in enumerate(("gold", "proxy")):
            ax = axes[row, col]
            ax.axhline(0, color="gray", lw=0.6, ls=":")
            ax.set_title(f"{key} | noise {spec}", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{key} gain over step 0 (initial-policy std)")
            if row == 1:
                ax.set_xlabel("sqrt(KL(pi || pi_init)), k2 estimator")
    axes[0, 0].legend(fontsize=7)
    algorithm = results.get("algorithm", "rl")
    fig.suptitle(f"{algorithm.upper()}: gold and proxy over training (dotted: Gao RL fit)", fontsize=11)
    return _save(fig, Path(out_dir) / algorithm)


def plot_tint(results: dict, out_dir: str | Path) -> list[Path]:
    """TInt sweep: exact match on the clean test set vs noise intensity, one row per task and one column per
    method (fine-tuned, few-shot prompted); a line per noise type (colour) and contamination (style), all starting
    from the clean cell at intensity 0; faint lines are step accuracy.

    Args:
        results: the ``results.json`` written by ``recipes/tint/sweep.py``.
        out_dir: folder for ``tint.png`` / ``.svg``.
    """
    rows = results["cells"]
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
                        key=lambda r: r["intensity"],
                    )
                    if not line:
                        continue
                    line = clean + line
                    xs = [r["intensity"] for r in line]
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
            ax.set_title(f"{task} | {method.replace('_', '-')}", fontsize=10)
            ax.set_xlabel("noise intensity (per-digit probability)")
            if j == 0:
                ax.set_ylabel("exact match (clean test)")
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=7)
    fig.suptitle("TInt: accuracy vs training-noise level (faint: step accuracy)", fontsize=11)
    return _save(fig, Path(out_dir) / "tint")


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
    return _save(fig, Path(out_dir) / "elicitation")


def plot_nmtune(results: dict, out_dir: str | Path) -> list[Path]:
    """NMTune study: (1) ID and OOD accuracy per adapter and pair (bars, seed sd), (2) SVE of the features before
    and after each adapter, (3) simulation: SVE and LSVR of encoders pre-trained with label noise, (4) simulation:
    ID and OOD accuracy per adapter vs pre-training noise.

    Args:
        results: the ``results.json`` written by ``recipes/nmtune/tune.py``.
        out_dir: folder for ``nmtune.png`` / ``.svg``.
    """
    pairs = results["pairs"]
    sim = results["simulation"]
    fig, axes = plt.subplots(1, 4 if sim else 2, figsize=(22 if sim else 11, 4.2), squeeze=False)
    axes = axes[0]
    names = sorted({p["pair"] for p in pairs})
    adapters = list(dict.fromkeys(p["adapter"] for p in pairs))
    width = 0.8 / max(len(adapters), 1)
    for k, a in enumerate(adapters):
        rows = {p["pair"]: p for p in pairs if p["adapter"] == a}
        xs = [2 * i + k * width for i in range(len(names))]
        axes[0].bar(
            xs,
            [rows[n]["id_accuracy"] for n in names],
            width,
            yerr=[rows[n]["id_accuracy_sd"] for n in names],
            color=f"C{k}",
            label=f"{a} (ID)",
        )
        axes[0].bar(
            [x + 1 for x in xs],
            [rows[n]["ood_accuracy"] for n in names],
            width,
            yerr=[rows[n]["ood_accuracy_sd"] for n in names],
            color=f"C{k}",
            alpha=0.5,
        )
        axes[1].bar(xs, [rows[n]["sve_after"] for n in names], width, color=f"C{k}", label=a)
    for i, n in enumerate(names):
        before = next(p["sve_before"] for p in pairs if p["pair"] == n)
        axes[1].hlines(before, 2 * i - width, 2 * i + len(adapters) * width, color="k", ls="--", lw=1)
    spectra = [p["sve_after"] for p in pairs] + [p["sve_before"] for p in pairs]
    axes[1].set_ylim(min(spectra) - 0.1 * (max(spectra) - min(spectra) + 0.1), max(spectra) * 1.01)
    ticks = [2 * i + (len(adapters) - 1) * width / 2 for i in range(len(names))]
    axes[0].set_xticks(
        [t for x in ticks for t in (x, x + 1)], [f"{n}\n{w}" for n in names for w in ("ID", "OOD")], fontsize=7
    )
    axes[0].axhline(0.5, color="grey", lw=0.6, ls=":")
    axes[0].set_ylim(0.4, 1.0)
    axes[0].set_ylabel("test accuracy (mean over seeds)")
    axes[0].set_title("adapters on frozen features: ID (solid) / OOD (faint)", fontsize=9)
    axes[0].legend(fontsize=6)
    axes[1].set_xticks(ticks, names, fontsize=7)
    axes[1].set_ylabel("SVE of ID test features (dashed: frozen f)")
    axes[1].set_title("feature spectrum after each adapter", fontsize=9)
    axes[1].legend(fontsize=6)
    if sim:
        rates = sorted({s["noise_rate"] for s in sim})
        first = [next(s for s in sim if s["noise_rate"] == r) for r in rates]
        axes[2].plot(rates, [s["sve"] for s in first], marker="o", color="C0", label="SVE")
        twin = axes[2].twinx()
        twin.plot(rates, [s["lsvr"] for s in first], marker="s", color="C1", label="LSVR")
        axes[2].set_xlabel("pre-training label noise rate")
        axes[2].set_ylabel("SVE", color="C0")
        twin.set_ylabel("LSVR", color="C1")
        axes[2].set_title("simulation: spectrum of the pre-trained features", fontsize=9)
        for k, a in enumerate(dict.fromkeys(s["adapter"] for s in sim)):
            rows = [next(s for s in sim if s["noise_rate"] == r and s["adapter"] == a) for r in rates]
            axes[3].plot(rates, [s["id_accuracy"] for s in rows], marker="o", color=f"C{k}", label=f"{a} ID")
            axes[3].plot(
                rates, [s["ood_accuracy"] for s in rows], marker="o", ls="--", color=f"C{k}", label=f"{a} OOD"
            )
        axes[3].set_xlabel("pre-training label noise rate")
        axes[3].set_ylabel("downstream accuracy")
        axes[3].set_title("simulation: downstream ID (solid) / OOD (dashed)", fontsize=9)
        axes[3].legend(fontsize=6)
    return _save(fig, Path(out_dir) / "nmtune")


PLOTTERS = {
    "train_rms": plot_rm_accuracy,
    "bon": plot_bon,
    "rl": plot_rl,
    "tint": plot_tint,
    "elicitation": plot_elicitation,
    "nmtune": plot_nmtune,
}


def replot(run_dir: str | Path) -> list[Path]:
    """Rebuild every figure of a run from its ``results.json``."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    return PLOTTERS[results["recipe"]](results, run_dir)


if __name__ == "__main__":
    for path in replot(sys.argv[1]):
        print(path)
