"""Leaderboard tables and score-vs-budget plots from benchmarks/results/dam/rows.jsonl.

Writes benchmarks/results/dam/leaderboard.md and score_vs_budget_<dataset>.png (one line per strategy).

Usage: `python benchmarks/dam/report.py`
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results" / "dam"


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (OUT / "rows.jsonl").read_text().splitlines() if line.strip()]
    by_dataset: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_dataset[f"{r['dataset']}_seed{r['seed']}"].append(r)
    lines = ["# DAM simulator leaderboard (hf_datavalue simulator; not DataPerf leaderboard numbers)", ""]
    for name, rs in sorted(by_dataset.items()):
        budgets = sorted({r["budget_pct"] for r in rs})
        strategies = sorted({r["strategy"] for r in rs})
        cell = {(r["strategy"], r["budget_pct"]): r for r in rs}
        lines += [f"## {name} ({rs[0]['features']}; {rs[0]['n_marketplaces']} marketplaces x 20 sellers, "
                  f"{rs[0]['trials']} trials, seed {rs[0]['seed']})", "",  # fmt: skip
                  "score / accuracy at a budget of x % of one seller's price; seconds = one 5-marketplace run "
                  "(propose + 10-trial scoring; the 10 % run pays the strategy's budget-free seller scoring)", "",
                  "| strategy | " + " | ".join(f"{b:g} %" for b in budgets) + " | wall / CPU s (10 %, first run) |",
                  "|---|" + "---|" * (len(budgets) + 1)]  # fmt: skip
        ranked = sorted(strategies, key=lambda s: -cell.get((s, 10.0), {"score": 0})["score"])
        for s in ranked:
            vals = [
                f"{cell[(s, b)]['score']:.4f} / {cell[(s, b)]['accuracy']:.4f}" if (s, b) in cell else "-"
                for b in budgets
            ]
            first = cell.get((s, 10.0), {})
            timing = f"{first['seconds']:.1f} / {first.get('cpu_seconds', float('nan')):.1f}" if first else "-"
            lines.append(f"| {s} | " + " | ".join(vals) + f" | {timing} |")
        lines.append("")
        fig, ax = plt.subplots(figsize=(6, 4))
        for s in ranked:
            xs = [b for b in budgets if (s, b) in cell]
            ax.plot(xs, [cell[(s, b)]["score"] for b in xs], marker="o", label=s)
        ax.set_xscale("log")
        ax.set_xticks(budgets)
        ax.set_xticklabels([f"{b:g}%" for b in budgets])
        ax.set_xlabel("budget (% of one seller's price)")
        ax.set_ylabel("official score (0.98 acc + 0.02 unused)")
        ax.set_title(f"DAM simulator: {name}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(OUT / f"score_vs_budget_{name}.png", dpi=110)
        plt.close(fig)
    (OUT / "leaderboard.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
