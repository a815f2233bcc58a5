"""Markdown tables of an elicitation sweep's results."""

from __future__ import annotations

from rlnoise.core.stats import Claim, Interval, claims_markdown


def elicitation_claims(results: dict) -> list[Claim]:
    """Per task and budget: does the best weak fraction beat every other swept fraction? Decided by its smallest
    lead (the binding one), so the claim holds exactly when the regime is called. Where both ran: does
    ``fewshot_sft`` beat ``sequential`` at the same budget and weak fraction?"""
    claims = []
    texts = results.get("task_texts", {})  # caps the power planner's test examples
    for r in results["regimes"]:
        margins = r.get("margins", {})
        if not margins:
            continue
        other, lead = min(margins.items(), key=lambda item: item[1]["low"])
        statement = (
            f"{r['task']}, budget {r['budget']:g}: weak fraction {r['best_fraction']:g} ({r['leading_regime']}) "
            f"beats every other fraction (smallest lead: over fraction {other})"
        )
        claims.append(Claim.of(statement, lead, max_units=texts.get(r["task"])))  # with its examples x seeds table
    for e in results.get("fewshot_effect", []):
        statement = (
            f"{e['task']}, budget {e['budget']:g}, weak fraction {e['weak_fraction']:g}: {e['method']} beats "
            f"{e['baseline']} (few-shot exemplars in every input; accuracy difference, paired over the test set)"
        )
        claims.append(Claim.of(statement, e["difference"], max_units=texts.get(e["task"])))
    return claims


def results_table(results: dict) -> str:
    """Regimes per budget, then every (method, budget, fraction) summary row."""
    lines = [
        claims_markdown(elicitation_claims(results)),
        f"Weak label cost: {results['weak_marginal_cost']:g} (gold = 1). Weak labeler accuracy on its pool: "
        + ", ".join(f"{t} {a:.3f}" for t, a in results["weak_labeler"].items()),
        "",
        "Regimes are called only when the best weak fraction leads every other beyond the 95% interval of the "
        "difference; otherwise `unresolved` (the point estimates' leader is shown beside it).",
        "",
        "| task | budget | regime (leader) | best fraction | best method | accuracy | lead over each other fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["regimes"]:
        leads = ", ".join(f"{f}: {Interval.from_dict(m)}" for f, m in r.get("margins", {}).items())
        lines.append(
            f"| {r['task']} | {r['budget']:g} | {r['regime']} ({r.get('leading_regime', r['regime'])}) | "
            f"{r['best_fraction']:g} | {r['best_method']} | {r['accuracy']:.3f} | {leads} |"
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
            f"{s['accuracy']:.3f} [{s['accuracy_interval'][0]:.3f}, {s['accuracy_interval'][1]:.3f}] | "
            f"{s['auroc']:.3f} |"
        )
    return "\n".join(lines)
