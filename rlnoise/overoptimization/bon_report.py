"""The best-of-n report: claims decided by their intervals, and the ``results.md`` table with intervals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rlnoise.core.stats import Claim, Interval, bootstrap_mean, claims_markdown, pooled_note


def bon_claims(results: dict) -> list[Claim]:
    """The best-of-n claims of a run, decided by their intervals. For each noise setting: whether single RMs
    overoptimize (gold falls from its best n by the largest n), whether their proxy gain outruns their gold gain,
    whether the noise costs them gold against clean labels (paired over the shared pool's prompts), and whether
    each objective keeps more gold than a single RM at the largest n. The statements do not depend on the replicate
    seed (no flip rates, no best n), so the claims of several seeds pool statement by statement."""
    claims = []
    specs = list(results.get("noise", results["settings"]))
    clean = results["settings"]["none"].get("single") if "none" in specs else None
    for spec in specs:
        setting = results["settings"][spec]
        single = setting.get("single")
        if single is None:
            continue
        n_max = setting["ns"][-1]
        label = f"noise {spec}"
        where = f"gold at the best n minus gold at n={n_max}"
        drop = Claim.of(f"{label}: single RMs overoptimize ({where})", single["drop"])
        if single["drop"]["n_index"] == len(setting["ns"]) - 1:
            kl = setting["kl"][-1]
            note = (
                f"gold still rises at the largest n (KL {kl:.1f} nats), so the drop is 0 for every prompt and seed; "
                "Gao et al. and Coste et al. see best-of-n gold peak at KL 4-6 nats: a pool of n >= 256 (KL >= 4.5)"
            )
            drop = replace(drop, note=note)
        claims.append(drop)
        statement = f"{label}: single RMs' proxy gain exceeds their gold gain at n={n_max} (proxy minus gold)"
        claims.append(Claim.of(statement, single["proxy_over_gold"]))
        if clean is not None and spec != "none":
            cost = np.subtract(clean["gold_gain_by_prompt"], single["gold_gain_by_prompt"])
            statement = f"{label}: the noise costs single RMs gold at n={n_max} (clean minus noisy)"
            claims.append(Claim(statement, bootstrap_mean(cost), table=cost[:, None]))
        for name in results.get("objectives", []):
            vs = setting["selectors"][name].get("vs_single")
            if vs is not None:
                statement = f"{label}: {name} keeps more gold than a single RM at n={n_max} (difference)"
                claims.append(Claim.of(statement, vs))
    return claims


def bon_markdown(results: dict) -> str:
    """``results.md``: the claims, then per noise setting a table of every selector with 95% intervals."""
    parts = [f"# Best-of-n: {results['pool']['prompts']} prompts x {results['pool']['size']} samples\n"]
    parts.append(claims_markdown([Claim.from_dict(c) for c in results["claims"]]))
    for spec in results.get("noise", results["settings"]):
        setting = results["settings"][spec]
        n_max = setting["ns"][-1]
        parts.append(f"## Noise {spec} ({setting['flip_rate']:.0%} of training pairs flipped)\n")
        pooled = pooled_note(len(results.get("seeds", [0])))
        parts.append(
            f"Gains over n = 1 in pool standard deviations; [95% interval], bootstrap over prompts "
            f"({setting.get('resamples', '?')} resamples){pooled}.\n"
        )
        head = ["selector", f"gold at n={n_max}", "best gold (n)", f"drop to n={n_max}", f"proxy at n={n_max}"]
        parts.append("| " + " | ".join([*head, "d* (fit)", "vs single RM"]) + " |")
        parts.append("|---" * 7 + "|")
        rows = dict(setting["selectors"], **({"single (average)": setting["single"]} if "single" in setting else {}))
        for name, entry in rows.items():
            best = entry["drop"]["n_index"]
            cells = [
                name,
                str(Interval.from_dict(entry["gold_at_max_n_interval"])),
                f"{entry['gold'][best]:.2f} ({setting['ns'][best]})",
                str(Interval.from_dict(entry["drop"])),
                str(Interval.from_dict(entry["proxy_at_max_n_interval"])),
                str(Interval.from_dict(entry["d_peak_interval"])) if "d_peak_interval" in entry else "-",
                str(Interval.from_dict(entry["vs_single"])) if "vs_single" in entry else "-",
            ]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)
