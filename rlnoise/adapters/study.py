"""The NMTune study: adapters on frozen LM features over ID/OOD task pairs, their feature spectra, and the
noisy pre-training simulation. Rows are appended to ``cells.jsonl`` and skipped on rerun."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from rlnoise.adapters.config import NMTuneStudyConfig
from rlnoise.adapters.data import FeatureSpec, pair_data
from rlnoise.adapters.heads import AdapterConfig
from rlnoise.adapters.plots import plot_nmtune
from rlnoise.adapters.simulation import SimulationConfig, simulate
from rlnoise.adapters.spectrum import lsvr, normalize_features, sve
from rlnoise.adapters.train import accuracy, apply_adapter, train_adapter
from rlnoise.core.config import to_dict
from rlnoise.core.console import duration, say, step
from rlnoise.core.noise import apply_noise, parse_noise_spec
from rlnoise.core.runs import Run
from rlnoise.core.stats import Claim, Interval, across_seeds, claims_markdown, wilson


def _spectrum(x: np.ndarray, how: str) -> dict:
    x = normalize_features(x, how)
    return {"sve": sve(x), "lsvr": lsvr(x)}


NMTUNE_AXES = ("pairs", "adapters", "seeds", "sim_seeds")  # a resumed study may change these, nothing else


def open_run(config: NMTuneStudyConfig, adapter_config: AdapterConfig) -> Run:
    """The study's run folder. ``adapter`` and ``seed`` of the adapter config are set per row from the study's
    ``adapters`` and ``seeds``, so a value given for them would be ignored: that is an error."""
    for name, axis in (("adapter", "adapters"), ("seed", "seeds")):
        if getattr(adapter_config, name) != getattr(AdapterConfig(), name):
            raise ValueError(
                f"{name} ({getattr(adapter_config, name)!r}) is not used by the NMTune study: set {axis} instead"
            )
    return Run("nmtune", to_dict((config, adapter_config)), axes=NMTUNE_AXES)


def run_study(config: NMTuneStudyConfig, adapter_config: AdapterConfig, run: Run | None = None) -> list[dict]:
    """Run every unfinished (pair, seed, adapter) and simulation row; returns the rows of this grid, in order."""
    log = (run or open_run(config, adapter_config)).cells()
    done = log.finished()
    keys: list[str] = []
    spec = FeatureSpec(
        config.feature_model, config.feature_pooling, config.feature_mode, config.feature_l2, config.feature_dtype
    )
    noise_name, noise_params = parse_noise_spec(config.label_noise, supplied=())
    total = len(config.pairs) * len(config.seeds) * len(config.adapters) + (
        len(config.sim_seeds) if config.simulation else 0
    )
    number = 0
    for pair in config.pairs:
        data = None
        for seed in config.seeds:
            for name in config.adapters:
                number += 1
                key = log.key("pair", pair, seed, name)
                keys.append(key)
                if key in done:
                    say(f"[{number}/{total}] {pair} seed {seed} {name}: finished in an earlier run, skipped")
                    continue
                started = time.perf_counter()
                cfg = replace(adapter_config, adapter=name, seed=seed)
                if data is None:
                    data = pair_data(pair, spec, test_share=config.test_share)
                x, y = data.train
                noisy = apply_noise(noise_name, y, seed=seed, **noise_params)
                model, history = train_adapter(x, noisy.labels, cfg, num_classes=2)
                _, z = apply_adapter(model, data.id_test[0])
                row = dict(
                    kind="pair",
                    pair=pair,
                    adapter=name,
                    seed=seed,
                    label_noise=config.label_noise,
                    train_flipped=float(noisy.flipped.mean()),
                    id_accuracy=accuracy(model, *data.id_test),
                    ood_accuracy=accuracy(model, *data.ood_test),
                    n_train=len(y),
                    n_id_test=len(data.id_test[1]),
                    n_ood_test=len(data.ood_test[1]),
                    before=_spectrum(data.id_test[0], config.spectrum_normalization),
                    after=_spectrum(z, config.spectrum_normalization),
                    final_loss=history[-1],
                )
                done[key] = log.append(key, row)
                say(
                    f"[{number}/{total}] {pair} seed {seed} {name}: ID accuracy {row['id_accuracy']:.3f}, "
                    f"OOD {row['ood_accuracy']:.3f} ({duration(time.perf_counter() - started)})"
                )
    rows = log.rows(keys)
    if config.simulation:
        for seed in config.sim_seeds:
            number += 1
            sim = SimulationConfig(
                noise_rates=tuple(config.sim_noise_rates),
                n_pretrain=config.sim_pretrain_examples,
                n_downstream=config.sim_downstream_examples,
                pretrain_epochs=config.sim_pretrain_epochs,
                adapters=tuple(config.adapters),
                seed=seed,
            )
            key = log.key("simulation", seed, sim.adapters)
            if key not in done:  # one simulation seed gives many rows: they are logged as one cell
                with step(number, total, f"simulation seed {seed}: noisy pre-training at {list(sim.noise_rates)}"):
                    done[key] = log.append(key, dict(kind="simulation", rows=simulate(sim, adapter_config)))
            rows += [dict(r, kind="simulation") for r in done[key]["rows"]]
    return rows


def run_nmtune_study(config: NMTuneStudyConfig, adapter_config: AdapterConfig) -> dict:
    """Run (or resume) the study in its run folder and write results.json, results.md and the plot."""
    run = open_run(config, adapter_config)
    summary = summarize(run_study(config, adapter_config, run))
    run.write_outputs(
        {"recipe": "nmtune", "config": to_dict((config, adapter_config)), **summary},
        table=results_table(summary),
        plot=plot_nmtune,
    )
    return summary


def summarize(rows: list[dict]) -> dict:
    """Means over seeds with 95% intervals: per (pair, adapter) accuracies (Wilson on the test set, and between
    seeds) and spectra, each adapter's paired difference from the linear probe (same seed, same split; a t interval
    over seeds); per (noise rate, adapter) for the simulation."""
    out: dict = {"pairs": [], "simulation": []}
    pair_rows = [r for r in rows if r["kind"] == "pair"]
    for pair, name in sorted({(r["pair"], r["adapter"]) for r in pair_rows}):
        rs = sorted((r for r in pair_rows if r["pair"] == pair and r["adapter"] == name), key=lambda r: r["seed"])
        probe = {r["seed"]: r for r in pair_rows if r["pair"] == pair and r["adapter"] == "linear"}
        entry = dict(
            pair=pair,
            adapter=name,
            seeds=len(rs),
            sve_before=rs[0]["before"]["sve"],
            lsvr_before=rs[0]["before"]["lsvr"],
            sve_after=float(np.mean([r["after"]["sve"] for r in rs])),
            lsvr_after=float(np.mean([r["after"]["lsvr"] for r in rs])),
        )
        for split in ("id", "ood"):
            values = [r[f"{split}_accuracy"] for r in rs]
            n_test = rs[0][f"n_{split}_test"]
            entry[f"{split}_accuracy"] = float(np.mean(values))
            entry[f"{split}_accuracy_sd"] = float(np.std(values))
            entry[f"{split}_accuracy_test_interval"] = wilson(round(np.mean(values) * n_test), n_test).as_dict()
            entry[f"{split}_accuracy_seed_interval"] = across_seeds(values).as_dict()
            paired = [r[f"{split}_accuracy"] - probe[r["seed"]][f"{split}_accuracy"] for r in rs if r["seed"] in probe]
            if name != "linear" and paired:
                entry[f"{split}_vs_linear"] = across_seeds(paired).as_dict()
        out["pairs"].append(entry)
    sims = sorted({(r["noise_rate"], r["adapter"]) for r in rows if r["kind"] == "simulation"})
    for rate, name in sims:
        rs = [r for r in rows if r["kind"] == "simulation" and r["noise_rate"] == rate and r["adapter"] == name]
        out["simulation"].append(
            dict(
                noise_rate=rate,
                adapter=name,
                seeds=len(rs),
                **{k: float(np.mean([r[k] for r in rs])) for k in ("sve", "lsvr", "id_accuracy", "ood_accuracy")},
            )
        )
    out["claims"] = [c.as_dict() for c in nmtune_claims(out)]
    return out


def nmtune_claims(summary: dict) -> list[Claim]:
    """For each pair and adapter: does it beat the linear probe in distribution and out of distribution?"""
    claims = []
    for s in summary["pairs"]:
        for split, label in (("id", "in distribution"), ("ood", "out of distribution")):
            if f"{split}_vs_linear" in s:
                statement = f"{s['pair']}: {s['adapter']} beats the linear probe {label} (accuracy difference)"
                claims.append(Claim(statement, Interval.from_dict(s[f"{split}_vs_linear"])))
    return claims


def results_table(summary: dict) -> str:
    """``results.md``: claims, then accuracies with 95% intervals (Wilson over the test set; the paired difference
    from the linear probe over seeds) and spectra."""
    lines = [
        claims_markdown([Claim.from_dict(c) for c in summary["claims"]]),
        "| pair | adapter | seeds | ID accuracy | OOD accuracy | ID vs linear | OOD vs linear | SVE before -> after "
        "| LSVR before -> after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary["pairs"]:
        vs = [str(Interval.from_dict(s[k])) if k in s else "-" for k in ("id_vs_linear", "ood_vs_linear")]
        lines.append(
            f"| {s['pair']} | {s['adapter']} | {s['seeds']} | {Interval.from_dict(s['id_accuracy_test_interval'])} | "
            f"{Interval.from_dict(s['ood_accuracy_test_interval'])} | {vs[0]} | {vs[1]} | "
            f"{s['sve_before']:.2f} -> {s['sve_after']:.2f} | {s['lsvr_before']:.3f} -> {s['lsvr_after']:.3f} |"
        )
    if summary["simulation"]:
        lines += [
            "",
            "| pre-training noise | adapter | SVE | LSVR | ID accuracy | OOD accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for s in summary["simulation"]:
            lines.append(
                f"| {s['noise_rate']:g} | {s['adapter']} | {s['sve']:.3f} | {s['lsvr']:.3f} | "
                f"{s['id_accuracy']:.3f} | {s['ood_accuracy']:.3f} |"
            )
    return "\n".join(lines)
