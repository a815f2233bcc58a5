"""From RL evaluation rows (metrics.jsonl) to results: curves per run, Gao RL fits; checkpoint lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlnoise.optimize.scaling import fit_rl, rl_peak


def run_label(run: dict) -> str:
    """``"noise|objective|beta=x"``: the key of one RL run."""
    return f"{run['noise']}|{run['objective']}|beta={run['beta']}"


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The ``step-NNNNNN`` checkpoint with the highest step under ``folder`` (complete ones only), or None."""
    folder = Path(folder)
    done = [p for p in folder.glob("step-*") if (p / "trainer.json").exists()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def rl_results(rows: list[dict]) -> dict:
    """Curves and fits per run from evaluation rows.

    Rows of the same (run, step) keep the last one (a resumed run may re-evaluate a step). Gold and proxy are
    shifted to 0 at step 0; Gao's RL form d (alpha - beta log d) is fit to gold vs d = sqrt(KL) when at least two
    evaluations have KL > 0.

    Returns:
        ``{"runs": {label: {"noise", "objective", "beta", "step", "kl", "gold", "proxy", "ensemble_variance",
        "alpha", "beta_fit", "d_peak"}}}``.
    """
    latest: dict[tuple[str, int], dict] = {}
    for row in rows:
        latest[row["run"], row["step"]] = row
    runs: dict[str, dict] = {}
    for (label, _), row in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        run = runs.setdefault(
            label, dict(noise=row["noise"], objective=row["objective"], beta=row["beta"], **{k: [] for k in KEYS})
        )
        for key in KEYS:
            run[key].append(row[key])
    for run in runs.values():
        for key in ("gold", "proxy"):
            run[key] = (np.asarray(run[key]) - run[key][0]).tolist()
        kl = np.maximum(np.asarray(run["kl"]), 0.0)
        if np.count_nonzero(kl > 0) >= 2:
            alpha, beta = fit_rl(kl, run["gold"])
            run.update(alpha=alpha, beta_fit=beta, d_peak=rl_peak(alpha, beta))
    return dict(runs=runs)


KEYS = ("step", "kl", "gold", "proxy", "ensemble_variance")
