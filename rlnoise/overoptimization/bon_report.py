"""The best-of-n report: claims decided by their intervals, and the ``results.md`` table with intervals."""

from __future__ import annotations

from rlnoise.core.stats import Claim, Interval, claims_markdown


def _interval(entry: dict) -> Interval:
    return Interval(**{k: entry[k] for k in ("estimate", "low", "high", "level")})


def bon_claims(results: dict) -> list[Claim]:
    """The best-of-n claims of a run, decided by their intervals: for each noise setting, whether single RMs
    overoptimize (gold falls from its peak by the largest n) and whether each objective keeps more gold than a
    single RM at the largest n."""
    claims = []
    for spec in results.get("noise", results["settings"]):
        setting = results["settings"][spec]
        if "single" not in setting:
            continue
        n_max = setting["ns"][-1]
        single = setting["single"]
        peak_n = setting["ns"][single["drop"]["n_index"]]
        interval = _interval(single["drop"])
        label = f"noise {spec} ({setting['flip_rate']:.0%} flipped)"
        statement = f"{label}: single RMs overoptimize (gold at n={peak_n} minus gold at n={n_max})"
        claims.append(Claim(statement, interval))
        for name in results.get("objectives", []):
            vs = setting["selectors"][name].get("vs_single")
            if vs is not None:
                statement = f"{label}: {name} keeps more gold than a single RM at n={n_max} (difference)"
                claims.append(Claim(statement, _interval(vs)))
    return claims


def bon_markdown(results: dict) -> str:
    """``results.md``: the claims, then per noise setting a table of every selector with 95% intervals."""
    parts = [f"# Best-of-n: {results['pool']['prompts']} prompts x {results['pool']['size']} samples\n"]
    parts.append(claims_markdown(bon_claims(results)))
    for spec in results.get("noise", results["settings"]):
        setting = results["settings"][spec]
        n_max = setting["ns"][-1]
        parts.append(f"## Noise {spec} ({setting['flip_rate']:.0%} of training pairs flipped)\n")
        parts.append(
            f"Gains over n = 1 in pool standard deviations; [95% interval], bootstrap over prompts "
            f"({setting.get('resamples', '?')} resamples).\n"
        )
        head = ["selector", f"gold at n={n_max}", "best gold (n)", f"drop to n={n_max}", f"proxy at n={n_max}"]
        parts.append("| " + " | ".join([*head, "d* (fit)", "vs single RM"]) + " |")
        parts.append("|---" * 7 + "|")
        rows = dict(setting["selectors"], **({"single (average)": setting["single"]} if "single" in setting else {}))
        for name, entry in rows.items():
            best = entry["drop"]["n_index"]
            cells = [
                name,
                str(_interval(entry["gold_at_max_n_interval"])),
                f"{entry['gold'][best]:.2f} ({setting['ns'][best]})",
                str(_interval(entry["drop"])),
                str(_interval(entry["proxy_at_max_n_interval"])),
                str(_interval(entry["d_peak_interval"])) if "d_peak_interval" in entry else "-",
                str(_interval(entry["vs_single"])) if "vs_single" in entry else "-",
            ]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)
