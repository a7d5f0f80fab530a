"""Print the markdown tables of docs/fasttrack.md from the stored rows in benchmarks/results/fasttrack/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402


def load(name: str):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


ROUTES = (
    ("keywords", "keywords (paper route: fuzzy keyword match)", "faithful"),
    ("keywords_1pct", "keywords, 1 % budget", "faithful"),
    ("both", "keywords + nearest centroids", "extension"),
    ("embedding", "nearest centroids only", "extension"),
    ("bm25", "clusters of the top BM25 rows", "extension (benchmark)"),
    ("keywords+bm25", "keywords + BM25 clusters", "extension (benchmark)"),
)


def stage1_table(s1: dict) -> None:
    """Stage-1 rows: every route chosen on dev (within its budget), stage-1 recall on all test queries."""
    print(
        f"Stage 1 with the oracle verifier, {s1['embedder']} index (chosen on {s1['n_dev']} dev queries, "
        f"reported on {s1['n_test']} test queries; s/query from FastTrackTracer.trace on a seeded test sample):\n"
    )
    print(
        "| route | kind | tau | leaves | dev recall | test recall | share of corpus verified (mean / max) | "
        "batches (B=10) per query | s/query (load) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key, label, kind in ROUTES:
        row = s1["test"].get(key)
        if row is None:
            continue
        t, d = row["test_all"], row["dev"]
        trace = row.get("trace_sample", {}).get("report")
        cost = f"{trace['batches_per_query']:.1f}" if trace else ""
        secs = f"{trace['seconds_per_query']:.3f} ({trace['load_avg_1min'][0]:.1f})" if trace else ""
        print(
            f"| {label} | {kind} | {row['index']['tau']} | {row['index']['n_clusters']} | "
            f"{d['stage1_recall']:.3f} | **{t['stage1_recall']:.3f}** | "
            f"{100 * t['corpus_fraction_mean']:.2f} % / {100 * t['corpus_fraction_max']:.2f} % | {cost} | {secs} |"
        )
    kw = s1["test"]["keywords"]["config"]
    print(
        f"\nkeywords route settings: fuzzy_threshold={kw['fuzzy_threshold']}, keyword_weighting="
        f"{kw['keyword_weighting']}, subject/answer/statement weights={kw['subject_weight']}/"
        f"{kw['answer_weight']}/{kw['statement_weight']}, max_clusters={kw['max_clusters']}, "
        f"max_corpus_fraction={kw['max_corpus_fraction']}\n"
    )


def main() -> None:
    km = load("kmeans_backend")
    if km:
        print("| k-means backend | seconds | leaves | max leaf | mean member-centroid cosine |")
        print("|---|---|---|---|---|")
        for r in km["rows"]:
            print(
                f"| {r['backend']} | {r['seconds']:.1f} | {r['n_leaves']} | {r['max_leaf']} | "
                f"{r['mean_member_centroid_cosine']:.3f} |"
            )
        print(
            f"\n({km['rows'][0]['n_rows']} rows x {km['rows'][0]['dim']} dims, tau={km['rows'][0]['tau']}; "
            f"chosen: {km['chosen']})\n"
        )
    for name in ("stage1", "stage1_minilm"):
        s1 = load(name)
        if s1 and "test" in s1 and "keywords" in s1["test"]:
            stage1_table(s1)
    base = load("baselines")
    if base:
        print(
            "| baseline (full corpus, cut-off tuned on dev) | cut-off | test macro set-F1 | micro F1 | "
            "oracle best-k macro F1 | s/query |"
        )
        print("|---|---|---|---|---|---|")
        for name, r in base["rows"].items():
            cut = f"{r['cutoff']['kind']}={r['cutoff']['value']:.3g}"
            print(
                f"| {name} | {cut} | {r['test']['macro_f1']:.3f} | {r['test']['micro_f1']:.3f} | "
                f"{r.get('oracle_best_k_macro_f1', float('nan')):.3f} | {r['seconds_per_query']:.4f} |"
            )
        print()
    e2e = load("end_to_end")
    if e2e:
        ft = e2e["fasttrack_trained_verifier"]["report"]
        print(f"End to end on {e2e['sample']['n_test']} test queries of held-out relations:\n")
        print("| method | macro P | macro R | macro set-F1 | micro F1 | s/query |\n|---|---|---|---|---|---|")
        m = ft["end_to_end"]
        print(
            f"| FastTrack + trained verifier | {m['macro_precision']:.3f} | {m['macro_recall']:.3f} | "
            f"{m['macro_f1']:.3f} | {m['micro_f1']:.3f} | "
            f"{e2e['fasttrack_trained_verifier'].get('seconds_per_query_scoring_run', ft['seconds_per_query']):.2f} |"
        )
        for name, r in e2e["baselines"].items():
            s = r["sample"]
            print(
                f"| {name} (dev-tuned) | {s['macro_precision']:.3f} | {s['macro_recall']:.3f} | "
                f"{s['macro_f1']:.3f} | {s['micro_f1']:.3f} | {r.get('seconds_per_query', float('nan')):.4f} |"
            )
        print(
            f"\nstage-1 recall {ft['stage1_recall_micro']:.3f}; verifier precision {ft['verifier_precision']:.3f},"
            f" recall on candidates {ft['verifier_recall_on_candidates']:.3f}; ratio of macro F1 to the best BM25:"
            f" {e2e['macro_f1_ratio_vs_best_bm25']}; verifier pair metrics on held-out relations: "
            f"{e2e['verifier'].get('eval')}\n"
        )
    ver = load("verifier_training_report")
    if ver and "eval_baselines" in ver:
        print("| held-out-relation pairs | precision | recall | F1 |\n|---|---|---|---|")
        for name, r in (("trained cross-encoder", ver["eval"]), *ver["eval_baselines"].items()):
            print(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} |")
        print()
    rob = load("robustness")
    if rob:
        print("| robustness set method | macro P | macro R | macro F1 | returned by kind |\n|---|---|---|---|---|")
        for name, r in rob["methods"].items():
            kinds = ", ".join(f"{k} {v:.3f}" for k, v in r["returned_by_kind"].items())
            print(f"| {name} | {r['macro_precision']:.3f} | {r['macro_recall']:.3f} | {r['macro_f1']:.3f} | {kinds} |")
        print()
    tr = load("tracin_timing")
    if tr:
        print(
            f"TracIn (grad-dot, {tr['model']}): {tr['seconds_per_query_full_corpus_extrapolated']:.1f} s per query "
            f"on the full corpus (extrapolated from {tr['n_train_rows']} rows x {tr['n_queries']} queries)."
        )


if __name__ == "__main__":
    main()
