"""The NMTune study: adapters on frozen LM features over ID/OOD task pairs, their feature spectra, and the
noisy pre-training simulation. Rows are appended to ``cells.jsonl`` and skipped on rerun."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from rlnoise.adapters.config import PAIRS, NMTuneStudyConfig
from rlnoise.adapters.data import FeatureSpec, id_split, pair_data
from rlnoise.adapters.heads import AdapterConfig
from rlnoise.adapters.noisy_encoder import EncoderTraining, noisy_encoder
from rlnoise.adapters.plots import plot_nmtune
from rlnoise.adapters.simulation import SimulationConfig, simulate
from rlnoise.adapters.spectrum import lsvr, normalize_features, sve
from rlnoise.adapters.train import apply_adapter, train_adapter
from rlnoise.core.config import to_dict
from rlnoise.core.console import duration, say, step
from rlnoise.core.noise import apply_noise, parse_noise_spec
from rlnoise.core.runs import Run
from rlnoise.core.stages import log_cost
from rlnoise.core.stats import (
    Claim,
    Interval,
    across_seeds,
    bootstrap_mean,
    claims_markdown,
    correctness_difference,
    correctness_string,
    pool_seed_results,
    proportion_difference,
    wilson,
    with_units,
)
from rlnoise.core.tasks import binary_task


def _spectrum(x: np.ndarray, how: str) -> dict:
    x = normalize_features(x, how)
    return {"sve": sve(x), "lsvr": lsvr(x)}


NMTUNE_AXES = (
    "pairs",
    "adapters",
    "seeds",
    "sim_seeds",
    "encoder_noise_rates",
    "encoder_adapters",
)  # a resumed study may change these, nothing else


def open_run(config: NMTuneStudyConfig, adapter_config: AdapterConfig) -> Run:
    """The study's run folder. ``adapter`` and ``seed`` of the adapter config are set per row from the study's
    ``adapters`` and ``seeds``, so a value given for them would be ignored: that is an error."""
    for name, axis in (("adapter", "adapters"), ("seed", "seeds")):
        if getattr(adapter_config, name) != getattr(AdapterConfig(), name):
            raise ValueError(
                f"{name} ({getattr(adapter_config, name)!r}) is not used by the NMTune study: set {axis} instead"
            )
    return Run("nmtune", to_dict((config, adapter_config)), axes=NMTUNE_AXES)


def adapter_row(data, name: str, seed: int, config: NMTuneStudyConfig, adapter_config: AdapterConfig) -> dict:
    """Train adapter ``name`` (seed ``seed``) on a pair's ID training features with the study's label noise;
    its ID and OOD accuracies and the spectrum of the ID test features before and after it."""
    noise_name, noise_params = parse_noise_spec(config.label_noise, supplied=())
    x, y = data.train
    noisy = apply_noise(noise_name, y, seed=seed, **noise_params)
    model, history = train_adapter(x, noisy.labels, replace(adapter_config, adapter=name, seed=seed), num_classes=2)
    logits, z = apply_adapter(model, data.id_test[0])
    ood_logits, _ = apply_adapter(model, data.ood_test[0])
    right = {  # each test example right or wrong, so adapters compare with the probe example by example
        "id": logits.argmax(1) == np.asarray(data.id_test[1]),
        "ood": ood_logits.argmax(1) == np.asarray(data.ood_test[1]),
    }
    return dict(
        pair=data.name,
        adapter=name,
        seed=seed,
        label_noise=config.label_noise,
        train_flipped=float(noisy.flipped.mean()),
        id_accuracy=float(right["id"].mean()),
        ood_accuracy=float(right["ood"].mean()),
        id_correct=correctness_string(right["id"]),
        ood_correct=correctness_string(right["ood"]),
        n_train=len(y),
        n_id_test=len(data.id_test[1]),
        n_ood_test=len(data.ood_test[1]),
        before=_spectrum(data.id_test[0], config.spectrum_normalization),
        after=_spectrum(z, config.spectrum_normalization),
        final_loss=history[-1],
    )


def run_study(config: NMTuneStudyConfig, adapter_config: AdapterConfig, run: Run | None = None) -> list[dict]:
    """Run every unfinished (pair, seed, adapter) row, then the same on each noisily fine-tuned encoder
    (``encoder_noise_rates``) and the simulation; returns the rows of this grid, in order."""
    log = (run or open_run(config, adapter_config)).cells()
    done = log.finished()
    keys: list[str] = []
    spec = FeatureSpec(
        config.feature_model, config.feature_pooling, config.feature_mode, config.feature_l2, config.feature_dtype
    )
    on_encoders = config.encoder_adapters or config.adapters
    per_pair = len(config.pairs) * len(config.seeds)
    total = per_pair * (len(config.adapters) + len(on_encoders) * len(config.encoder_noise_rates))
    total += len(config.sim_seeds) if config.simulation else 0
    number = 0
    # (kind, encoder noise rate or None): frozen features as given, then each noisily fine-tuned encoder's
    for kind, rate in [("pair", None)] + [("encoder", r) for r in config.encoder_noise_rates]:
        for pair in config.pairs:
            data = None
            for seed in config.seeds:
                for name in config.adapters if rate is None else on_encoders:
                    number += 1
                    key = log.key(kind, pair, seed, name, *([] if rate is None else [rate]))
                    keys.append(key)
                    label = f"[{number}/{total}] {pair}" + ("" if rate is None else f" (encoder noise {rate:g})")
                    if key in done:
                        say(f"{label} seed {seed} {name}: finished in an earlier run, skipped")
                        log_row_cost(key, done[key], cached=True)
                        continue
                    if data is None:
                        data = pair_data(pair, encoder_spec(config, spec, pair, rate), test_share=config.test_share)
                    started = time.perf_counter()
                    row = dict(kind=kind, encoder_noise=rate, **adapter_row(data, name, seed, config, adapter_config))
                    row["seconds"] = time.perf_counter() - started
                    done[key] = log.append(key, row)
                    log_row_cost(key, row, cached=False)
                    say(
                        f"{label} seed {seed} {name}: ID accuracy {row['id_accuracy']:.3f}, "
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


def log_row_cost(key: str, row: dict, cached: bool) -> None:
    """An adapter fit's cost for the power planner: it grows with seeds (the pair's features and encoders are
    stages of their own). Rows from before fits were timed are left out of the cost model."""
    if "seconds" in row:
        name = f"{row['pair']} {row['adapter']} seed {row['seed']}" + (
            f" (encoder noise {row['encoder_noise']:g})" if row.get("encoder_noise") is not None else ""
        )
        log_cost(name, key, row["seconds"], "seeds", cached)


def encoder_spec(config: NMTuneStudyConfig, spec: FeatureSpec, pair: str, rate: float | None) -> FeatureSpec:
    """The features of a pair: ``spec`` itself, or (``rate`` given) those of ``spec.model`` fine-tuned on the
    pair's ID training labels with ``rate`` of them flipped (:func:`noisy_encoder`, cached)."""
    if rate is None:
        return spec
    id_task = PAIRS[pair][0]
    train, _ = id_split(pair, binary_task(id_task)["label"], config.test_share)
    training = EncoderTraining(
        epochs=config.encoder_epochs, learning_rate=config.encoder_learning_rate, dtype=config.feature_dtype
    )
    say(f"      {pair}: {spec.model} fine-tuned on its {len(train)} ID training labels, {rate:.0%} flipped")
    return replace(spec, model=str(noisy_encoder(spec.model, id_task, train, rate, training)))


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
    """Means over seeds with 95% intervals, per (pair, adapter) on the given features (``pairs``) and per (pair,
    encoder noise, adapter) on the noisily fine-tuned encoders (``encoder``): accuracies (Wilson on the test set,
    and a t interval between seeds), spectra, and each adapter's difference from the linear probe of the same seed
    and features (a paired bootstrap over the test examples in each seed, the seeds pooled with
    :func:`rlnoise.core.stats.pool_seeds`); per (noise rate, adapter) for the simulation."""
    out: dict = {"pairs": [], "encoder": [], "simulation": []}
    for kind, section in (("pair", "pairs"), ("encoder", "encoder")):
        feature_rows = [r for r in rows if r["kind"] == kind]
        groups: dict[tuple, list[dict]] = {}
        for r in sorted(feature_rows, key=lambda r: (r["pair"], r.get("encoder_noise") or 0.0, r["adapter"])):
            groups.setdefault((r["pair"], r.get("encoder_noise"), r["adapter"]), []).append(r)
        for (pair, rate, name), rs in groups.items():
            probe = groups.get((pair, rate, "linear"), [])
            out[section].append(_entry(pair, rate, name, sorted(rs, key=lambda r: r["seed"]), probe))
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


def _entry(pair: str, rate: float | None, name: str, rs: list[dict], probe: list[dict]) -> dict:
    entry = dict(
        pair=pair,
        adapter=name,
        seeds=len(rs),
        sve_before=rs[0]["before"]["sve"],
        lsvr_before=rs[0]["before"]["lsvr"],
        sve_after=float(np.mean([r["after"]["sve"] for r in rs])),
        lsvr_after=float(np.mean([r["after"]["lsvr"] for r in rs])),
    )
    if rate is not None:
        entry["encoder_noise"] = rate
    probe_by_seed = {r["seed"]: r for r in probe}
    for split in ("id", "ood"):
        values = [r[f"{split}_accuracy"] for r in rs]
        n_test = entry[f"n_{split}_test"] = rs[0][f"n_{split}_test"]
        if split == "ood" or "n_train" in rs[0]:  # the most test examples the task could give
            entry[f"n_{split}_task"] = n_test + (rs[0]["n_train"] if split == "id" else 0)
        entry[f"{split}_accuracy"] = float(np.mean(values))
        entry[f"{split}_accuracy_sd"] = float(np.std(values))
        entry[f"{split}_accuracy_test_interval"] = wilson(round(np.mean(values) * n_test), n_test).as_dict()
        entry[f"{split}_accuracy_seed_interval"] = across_seeds(values).as_dict()
        pairs = [(r, probe_by_seed[r["seed"]]) for r in rs if r["seed"] in probe_by_seed]
        if name != "linear" and pairs:
            entry[f"{split}_vs_linear"] = pool_seed_results([_versus(a, b, split) for a, b in pairs])
    return entry


def _versus(row: dict, probe: dict, split: str) -> dict:
    """One seed's accuracy difference from the probe: paired over the test examples when both rows kept them
    (with its per-example values, so seeds pool on the examples x seeds table), else Newcombe's interval for two
    independent proportions (conservative on a shared test set)."""
    key = f"{split}_correct"
    if key in row and key in probe:
        difference = correctness_difference(row[key], probe[key])
        return with_units(bootstrap_mean(difference), difference)
    n = row[f"n_{split}_test"]
    k = [round(r[f"{split}_accuracy"] * n) for r in (row, probe)]
    return proportion_difference(k[0], n, k[1], n).as_dict()


def nmtune_claims(summary: dict) -> list[Claim]:
    """For each pair (and encoder noise) and adapter: does it beat the linear probe in distribution and out of
    distribution? On noisily fine-tuned encoders: does the pre-training noise lower the linear probe's accuracy
    (clean-encoder probe minus noisy-encoder probe, Newcombe over the test set)?"""
    claims = []
    for s in summary["pairs"] + summary.get("encoder", []):
        where = s["pair"] + (f", encoder noise {s['encoder_noise']:g}" if "encoder_noise" in s else "")
        for split, label in (("id", "in distribution"), ("ood", "out of distribution")):
            if f"{split}_vs_linear" in s:
                statement = f"{where}: {s['adapter']} beats the linear probe {label} (accuracy difference)"
                claims.append(Claim.of(statement, s[f"{split}_vs_linear"], max_units=s.get(f"n_{split}_task")))
    probes = {(s["pair"], s["encoder_noise"]): s for s in summary.get("encoder", []) if s["adapter"] == "linear"}
    for (pair, rate), noisy in probes.items():
        clean = probes.get((pair, 0.0))
        if not rate or clean is None:
            continue
        for split, label in (("id", "in distribution"), ("ood", "out of distribution")):
            n = noisy[f"n_{split}_test"]
            gap = proportion_difference(
                round(clean[f"{split}_accuracy"] * n), n, round(noisy[f"{split}_accuracy"] * n), n
            )
            statement = f"{pair}: {rate:.0%} pre-training label noise lowers the linear probe's accuracy {label}"
            claims.append(Claim(statement, gap))
    return claims


def _table_line(s: dict) -> str:
    cells = [str(Interval.from_dict(s[f"{split}_accuracy_test_interval"])) for split in ("id", "ood")]
    cells += [str(Interval.from_dict(s[k])) if k in s else "-" for k in ("id_vs_linear", "ood_vs_linear")]
    noise = f" {s['encoder_noise']:g} |" if "encoder_noise" in s else ""
    return (
        f"| {s['pair']} |{noise} {s['adapter']} | {s['seeds']} | {' | '.join(cells)} | "
        f"{s['sve_before']:.2f} -> {s['sve_after']:.2f} | {s['lsvr_before']:.3f} -> {s['lsvr_after']:.3f} |"
    )


def results_table(summary: dict) -> str:
    """``results.md``: claims, then accuracies with 95% intervals (Wilson over the test set; the difference from the
    linear probe paired over test examples, seeds pooled) and spectra, for the given features and each noisily
    fine-tuned encoder."""
    lines = [
        claims_markdown([Claim.from_dict(c) for c in summary["claims"]]),
        "| pair | adapter | seeds | ID accuracy | OOD accuracy | ID vs linear | OOD vs linear | SVE before -> after "
        "| LSVR before -> after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_table_line(s) for s in summary["pairs"]]
    if summary.get("encoder"):
        lines += [
            "",
            "Features of the encoder fine-tuned on the ID training labels with a share of them flipped:",
            "",
            "| pair | encoder noise | adapter | seeds | ID accuracy | OOD accuracy | ID vs linear | OOD vs linear "
            "| SVE before -> after | LSVR before -> after |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_table_line(s) for s in summary["encoder"]]
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
