"""Claims and the results table of the DPO study, from the same curves, draws and intervals as online RL
(:func:`rlnoise.overoptimization.rl_study.rl_results`)."""

from __future__ import annotations

from dataclasses import replace

from rlnoise.core.noise import parse_noise_spec
from rlnoise.core.stats import Claim, claims_markdown, percentile_interval, pooled_note, wilson
from rlnoise.overoptimization.rl_report import evaluation_cells, matched_kl_claim


def _clean(noise: str) -> bool:
    return parse_noise_spec(noise)[0] == "none"


def dpo_claims(results: dict, draws: dict[str, dict]) -> list[Claim]:
    """Per beta (and noise setting): does DPO's gold fall from its best evaluation (overoptimization); does label
    noise cost DPO gold at matched KL (clean minus noisy); does each other loss keep more gold than DPO under the
    same noise at matched KL; and, between the smallest and the largest beta of a (noise, loss), does the smaller
    reach a higher KL and a larger fall? Statements name no seed-dependent number, so seeds pool them."""
    runs = {(r["noise"], r["objective"], r["beta"]): (r, draws[label]) for label, r in results["runs"].items()
            if label in draws}  # fmt: skip
    claims = []
    for (noise, loss, beta), (run, drawn) in runs.items():
        setting = f"noise {noise}, beta {beta:g}"
        if loss == "dpo":
            falls = Claim.of(f"{setting}: DPO's gold falls from its best evaluation to step {run['step'][-1]}",
                             run["drop"])  # fmt: skip
            if run["drop"]["step_index"] == len(run["step"]) - 1:
                note = (f"gold still rises at the last evaluation (KL {run['kl'][-1]:.1f} nats): more steps or a "
                        "smaller beta reach the peak")  # fmt: skip
                falls = replace(falls, note=note)
            claims.append(falls)
            clean = next(((r, d) for (n, lo, b), (r, d) in runs.items() if lo == "dpo" and b == beta and _clean(n)),
                         None)  # fmt: skip
            if clean and not _clean(noise):
                statement = f"beta {beta:g}: label noise ({noise}) costs DPO gold at matched KL (clean minus noisy)"
                claims.append(matched_kl_claim(statement, clean, (run, drawn)))
        elif (noise, "dpo", beta) in runs and not _clean(noise):
            statement = f"{setting}: {loss} keeps more gold than DPO at matched KL"
            claims.append(matched_kl_claim(statement, (run, drawn), runs[noise, "dpo", beta]))
    for noise, loss in dict.fromkeys((n, lo) for n, lo, _ in runs):
        betas = sorted(b for n, lo, b in runs if (n, lo) == (noise, loss))
        if len(betas) > 1:
            claims += _beta_claims(f"noise {noise}, {loss}", runs[noise, loss, betas[0]], runs[noise, loss, betas[-1]],
                                   betas[0], betas[-1])  # fmt: skip
    return claims


def _beta_claims(setting: str, small: tuple, large: tuple, b_small: float, b_large: float) -> list[Claim]:
    (s, ds), (lg, dl) = small, large
    kl = percentile_interval(s["kl"][-1] - lg["kl"][-1], ds["kl"][:, -1] - dl["kl"][:, -1])
    i, j = s["drop"]["step_index"], lg["drop"]["step_index"]
    fall_draws = (ds["gold"][:, i] - ds["gold"][:, -1]) - (dl["gold"][:, j] - dl["gold"][:, -1])
    per_prompt = (ds["gold_by_prompt"][i] - ds["gold_by_prompt"][-1]) - (
        dl["gold_by_prompt"][j] - dl["gold_by_prompt"][-1]
    )
    fall = percentile_interval(float(per_prompt.mean()), fall_draws)
    return [
        Claim(f"{setting}: beta {b_small:g} reaches a higher KL at the last step than beta {b_large:g}", kl),
        Claim(f"{setting}: beta {b_small:g} falls further from its best gold than beta {b_large:g}", fall,
              table=per_prompt[:, None]),
    ]  # fmt: skip


def dpo_markdown(results: dict) -> str:
    """``results.md``: the claims, then each run's evaluations with 95% intervals and the implicit reward's
    accuracy on held-out pairs."""
    claims = [Claim.from_dict(c) for c in results.get("claims", [])]
    parts = ["# Direct alignment under label noise (DPO family)\n", claims_markdown(claims)]
    pooled = pooled_note(len(results.get("seeds", [0])))
    n_pairs = results["accuracy_pairs"]
    parts.append(
        f"Gold gains over step 0 in initial-policy gold std; [95% interval], bootstrap over prompts{pooled}. Implicit "
        "reward: beta log pi / pi_ref summed over a sampled response. Accuracy: the implicit reward's on the "
        f"{n_pairs} held-out pairs, against the true (gold) and the noisy labels, with a Wilson 95% interval over "
        "those pairs (a tie counts half; with several seeds, the mean over seeds and the interval of one seed's "
        "pairs)."
    )
    parts += ["", "| run | step | KL (k2) | gold gain | implicit reward gain | accuracy true / noisy |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for run in results["runs"].values():
        for i in range(len(run["step"])):
            cells = evaluation_cells(run, i)
            accuracy = [run.get(k, [None] * (i + 1))[i] for k in ("accuracy_true", "accuracy_noisy")]
            cells.append(" / ".join("-" if a is None else _accuracy(a, n_pairs) for a in accuracy))
            parts.append("| " + " | ".join(cells) + " |")
    return "\n".join(parts) + "\n"


def _accuracy(accuracy: float, n_pairs: int) -> str:
    interval = wilson(round(accuracy * n_pairs), n_pairs)
    return f"{accuracy:.2f} [{interval.low:.2f}, {interval.high:.2f}]"
