"""Markdown tables of an elicitation sweep's results."""

from __future__ import annotations


def results_table(results: dict) -> str:
    """Regimes per budget, then every (method, budget, fraction) summary row."""
    lines = [
        f"Weak label cost: {results['weak_marginal_cost']:g} (gold = 1). Weak labeler accuracy on its pool: "
        + ", ".join(f"{t} {a:.3f}" for t, a in results["weak_labeler"].items()),
        "",
        "| task | budget | regime | best fraction | best method | accuracy | accuracy by weak fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["regimes"]:
        by = ", ".join(f"{f}: {a:.3f}" for f, a in r["by_fraction"].items())
        lines.append(
            f"| {r['task']} | {r['budget']:g} | {r['regime']} | {r['best_fraction']:g} | {r['best_method']} "
            f"| {r['accuracy']:.3f} | {by} |"
        )
    lines += [
        "",
        "| task | method | budget | weak fraction | n_weak | n_gold | n_val | k | cost | seeds | accuracy | AUROC |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["summary"]:
        lines.append(
            f"| {s['task']} | {s['method']} | {s['budget']:g} | {s['weak_fraction']:g} | {s['n_weak']} | "
            f"{s['n_gold']} | {s['n_val']} | {s['n_fewshot']} | {s['cost']:g} | {s['seeds']} | "
            f"{s['accuracy']:.3f} +- {s['accuracy_se']:.3f} | {s['auroc']:.3f} |"
        )
    return "\n".join(lines)
