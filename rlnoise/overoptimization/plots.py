"""Figures of the overoptimization study, drawn from its results.json alone (`python -m rlnoise.plotting`)."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.figures import plt, save_figure


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
    return save_figure(fig, Path(out_dir) / "rm_accuracy")


def seeds_note(results: dict) -> str:
    """The title's note when the results pool several replicate seeds ("" for one)."""
    seeds = len(results.get("seeds", [0]))
    return f" and {seeds} seeds, pooled" if seeds > 1 else ""


def plot_bon(results: dict, out_dir: str | Path) -> list[Path]:
    """Best-of-n gold (top row) and proxy (bottom row) vs sqrt(KL), one column per noise setting.

    Single reward models are drawn as their average with its 95% band (bootstrap over prompts); each ensemble
    objective is a line with a light 95% band; dashed lines are the Gao fits d (alpha - beta d) of the gold curves.

    Args:
        results: the ``results.json`` written by ``recipes/overoptimization/bon.py``.
        out_dir: folder for ``bon.png`` / ``.svg``.
    """
    import numpy as np

    from rlnoise.overoptimization.bon import bon_kl
    from rlnoise.overoptimization.scaling import bon_form

    settings = {spec: results["settings"][spec] for spec in results.get("noise", results["settings"])}
    fig, axes = plt.subplots(
        2, len(settings), figsize=(4.6 * len(settings), 7.2), squeeze=False, sharex=True, sharey="row"
    )
    fits = []
    for col, (spec, setting) in enumerate(settings.items()):
        d = np.sqrt(setting["kl"])
        dense = np.linspace(0, d[-1], 100)
        members = {k: v for k, v in setting["selectors"].items() if k.startswith("member")}
        names = results.get("objectives", [k for k in setting["selectors"] if not k.startswith("member")])
        objectives = {k: setting["selectors"][k] for k in names}
        for row, key in enumerate(("gold", "proxy")):
            ax = axes[row, col]
            curves = np.array([m[key] for m in members.values()])
            single = setting.get("single")  # with intervals: the average single RM and its 95% band
            if single is not None:
                ax.fill_between(d, *single[f"{key}_band"], color="gray", alpha=0.25, lw=0)
                label = f"single RMs (average of {len(curves)}, 95% band)"
            else:  # results written before intervals existed
                ax.fill_between(d, curves.min(0), curves.max(0), color="gray", alpha=0.25, lw=0)
                label = f"single RMs (mean of {len(curves)}, band min-max)"
            ax.plot(d, curves.mean(0), color="k", lw=1.8, label=label)
            if key == "gold" and all("alpha" in m for m in members.values()):
                fit = np.mean([bon_form(dense, m["alpha"], m["beta"]) for m in members.values()], axis=0)
                fits.append((ax, dense, fit, dict(color="k", lw=1, ls="--")))
            for j, (name, curve) in enumerate(objectives.items()):
                ax.plot(d, curve[key], color=f"C{j}", lw=1.5, label=f"ensemble {name}")
                if f"{key}_band" in curve:
                    ax.fill_between(d, *curve[f"{key}_band"], color=f"C{j}", alpha=0.08, lw=0)
                if key == "gold" and "alpha" in curve:
                    fit = bon_form(dense, curve["alpha"], curve["beta"])
                    fits.append((ax, dense, fit, dict(color=f"C{j}", lw=0.9, ls="--")))
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
    draw_fits(fits)
    axes[1, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"Best-of-n on {results['pool']['prompts']} prompts x {results['pool']['size']} samples "
        f"(bands: 95% bootstrap over prompts{seeds_note(results)}; dashed: Gao fit)",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir) / "bon")


def plot_rl(results: dict, out_dir: str | Path) -> list[Path]:
    """Online RL: gold (top) and proxy (bottom) vs sqrt(KL) over training, one column per noise setting, colour per
    objective, line style per KL coefficient; dashed lines are Gao's RL fits of the gold curves.

    Args:
        results: the ``results.json`` written by ``recipes/overoptimization/ppo.py`` or ``grpo.py``.
        out_dir: folder for ``<algorithm>.png`` / ``.svg``.
    """
    import numpy as np

    from rlnoise.overoptimization.scaling import rl_form

    runs = results["runs"]
    noise = results.get("noise") or sorted({r["noise"] for r in runs.values()})
    objectives = sorted({r["objective"] for r in runs.values()})
    betas = sorted({r["beta"] for r in runs.values()})
    styles = ["-", "--", ":", "-."]
    fits = []
    fig, axes = plt.subplots(2, len(noise), figsize=(4.6 * len(noise), 7.2), squeeze=False, sharex=True, sharey="row")
    for col, spec in enumerate(noise):
        for run in (r for r in runs.values() if r["noise"] == spec):
            d = np.sqrt(np.maximum(run["kl"], 0.0))
            color = f"C{objectives.index(run['objective'])}"
            style = styles[betas.index(run["beta"]) % len(styles)]
            label = f"{run['objective']}, beta={run['beta']}"
            if "alpha" in run and not run.get("fit_resolved", True):
                label += " (fit: peak not resolved)"
            for row, key in enumerate(("gold", "proxy")):
                axes[row, col].plot(d, run[key], color=color, ls=style, marker="o", ms=3, label=label)
                if f"{key}_band" in run:  # 95% bootstrap band over the evaluation prompts
                    axes[row, col].fill_between(d, *run[f"{key}_band"], color=color, alpha=0.12, lw=0)
            if "alpha" in run and len(d) > 1:
                dense = np.linspace(0, d.max(), 100)
                fit = rl_form(dense, run["alpha"], run["beta_fit"])
                fits.append((axes[0, col], dense, fit, dict(color=color, lw=0.8, ls=":")))
        for row, key in enumerate(("gold", "proxy")):
            ax = axes[row, col]
            ax.axhline(0, color="gray", lw=0.6, ls=":")
            ax.set_title(f"{results.get('proxy_label', key) if key == 'proxy' else key} | noise {spec}", fontsize=10)
            if col == 0:
                name = results.get("proxy_label", "proxy") if key == "proxy" else key
                unit = {"gold": "initial-policy gold std", "proxy": "objective units"}.get(name, "beta x nats")
                ax.set_ylabel(f"{name} gain over step 0\n({unit})")
            if row == 1:
                ax.set_xlabel("sqrt(KL(pi || pi_init)), k2 estimator")
    draw_fits(fits)
    labelled = {}  # every run's line once, from whichever column drew it
    for ax in axes[0]:
        labelled.update(zip(*reversed(ax.get_legend_handles_labels())))
    axes[0, 0].legend(list(labelled.values()), list(labelled), fontsize=7)
    algorithm = results.get("algorithm", "rl")
    fig.suptitle(
        f"{algorithm.upper()}: gold and {results.get('proxy_label', 'proxy')} over training\n"
        f"(bands: 95% over evaluation prompts{seeds_note(results)}; dotted: Gao RL fit)",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir) / algorithm)


def draw_fits(fits: list[tuple]) -> None:
    """Draw fitted curves ``(ax, x, y, style)`` once the measured curves are drawn, keeping the axes' limits: they
    stay scaled to the measurements and their bands. A Gao fit through three or four points can swing to +-500 std
    between them and would flatten every measured curve."""
    limits = [(ax, ax.get_xlim(), ax.get_ylim()) for ax, *_ in fits]
    for ax, x, y, style in fits:
        ax.plot(x, y, **style)
    for ax, xlim, ylim in limits:
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
