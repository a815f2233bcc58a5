"""Figures of the adapters study, drawn from its results.json alone (`python -m rlnoise.plotting`)."""

from __future__ import annotations

from pathlib import Path

from rlnoise.core.figures import plt, save_figure


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
            yerr=_error_bars([rows[n] for n in names], "id"),
            color=f"C{k}",
            label=f"{a} (ID)",
        )
        axes[0].bar(
            [x + 1 for x in xs],
            [rows[n]["ood_accuracy"] for n in names],
            width,
            yerr=_error_bars([rows[n] for n in names], "ood"),
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
    axes[0].set_ylabel("test accuracy (mean over seeds; bars: 95% Wilson)")
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
    paths = save_figure(fig, Path(out_dir) / "nmtune")
    if results.get("encoder"):
        paths += plot_encoder_noise(results["encoder"], out_dir)
    return paths


def plot_encoder_noise(entries: list[dict], out_dir: str | Path) -> list[Path]:
    """Noisy pre-training on real features (``nmtune_encoder.png``): per pair, ID (solid) and OOD (dashed) accuracy
    of every adapter against the share of flipped labels the encoder was fine-tuned on, with 95% Wilson bars."""
    pairs = list(dict.fromkeys(e["pair"] for e in entries))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4.2), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        for k, name in enumerate(dict.fromkeys(e["adapter"] for e in entries)):
            rows = sorted(
                (e for e in entries if e["pair"] == pair and e["adapter"] == name), key=lambda e: e["encoder_noise"]
            )
            rates = [e["encoder_noise"] + 0.004 * k for e in rows]  # nudged apart so the bars stay readable
            for split, style in (("id", "-"), ("ood", "--")):
                ax.errorbar(
                    rates,
                    [e[f"{split}_accuracy"] for e in rows],
                    yerr=_error_bars(rows, split),
                    color=f"C{k}",
                    ls=style,
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=f"{name} {split.upper()}",
                )
        ax.set_title(f"{pair}: encoder fine-tuned on noisy ID labels", fontsize=9)
        ax.set_xlabel("share of ID training labels flipped for the encoder")
        ax.set_ylabel("test accuracy (mean over seeds; bars: 95% Wilson)")
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle("Noisy pre-training on real features: ID (solid) / OOD (dashed)", fontsize=11)
    return save_figure(fig, Path(out_dir) / "nmtune_encoder")


def _error_bars(rows: list[dict], split: str):
    """95% Wilson intervals over the test set as bar errors; the seed spread for results written before them."""
    if all(f"{split}_accuracy_test_interval" in r for r in rows):
        intervals = [r[f"{split}_accuracy_test_interval"] for r in rows]
        return [[r[f"{split}_accuracy"] - i["low"] for r, i in zip(rows, intervals)],
                [i["high"] - r[f"{split}_accuracy"] for r, i in zip(rows, intervals)]]  # fmt: skip
    return [r[f"{split}_accuracy_sd"] for r in rows]
