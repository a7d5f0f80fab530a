"""FastTrack stage 1 on LAMA-TREx (full 23k-row corpus): dev-tuned cluster retrieval with the oracle verifier
(stage-1 recall vs share of the corpus verified), the faithful keyword route and the library's extensions
(centroid retrieval, BM25 clusters) side by side, and the dev-tuned BM25 / embedding baselines.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fasttrack/stage1.py [--kmeans] [--baselines]

Writes benchmarks/results/fasttrack/stage1.json (and kmeans_backend.json / baselines.json with the flags). Every
setting is chosen on the dev split (20% of queries, stratified by relation; all 420 dev queries) and reported once
on the 1,680 test queries. Data: CC BY-NC 4.0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, load_data, tfidf_svd_embeddings, write_rows  # noqa: E402

from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer  # noqa: E402
from hf_datavalue.fasttrack.clustering import recursive_kmeans  # noqa: E402
from hf_datavalue.fasttrack.evaluation import (  # noqa: E402
    BM25Ranker,
    EmbeddingRanker,
    apply_cutoff,
    dataset_statistics,
    oracle_best_k,
    proponent_rows,
    set_metrics,
    stagewise_report,
    stratified_dev_split,
    tune_cutoff,
)
from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier  # noqa: E402

BUDGET = 0.05  # share of the corpus verified per query: every query stays within it (max, not only the mean)
TAUS = (100, 50, 25)
THETAS = (85.0, 90.0, 95.0)
WEIGHTS = ((2.0, 1.0, 0.0), (1.0, 1.0, 0.0), (4.0, 1.0, 0.0), (2.0, 1.0, 0.25), (1.0, 1.0, 1.0))  # subj, ans, stmt
FRACTIONS = (0.01, 0.02, 0.03, 0.04, 0.05)
CAPS = (20, 40, 80, 1000)
EMB_CLUSTERS = (0, 5, 10, 20, 40)
BM25_ROWS = (5, 10, 20, 50, 100)
KMEANS_ROWS = 6000
TRACE_PER_RELATION = 20  # seeded test sample traced end to end (stage-wise report, seconds per query)


def kmeans_benchmark(x: np.ndarray, tau: int) -> tuple[str, list[dict]]:
    rows = []
    for backend in ("faiss", "sklearn"):
        start = time.perf_counter()
        tree = recursive_kmeans(x, tau=tau, backend=backend, seed=0)
        secs = time.perf_counter() - start
        cos = np.mean(
            [
                float(np.mean(x[tree.labels == c] @ tree.centroids[c] / max(np.linalg.norm(tree.centroids[c]), 1e-12)))
                for c in range(tree.n_leaves)
            ]
        )
        rows.append(
            {
                "backend": backend,
                "seconds": secs,
                "load_avg_1min": os.getloadavg()[0],
                "n_leaves": tree.n_leaves,
                "max_leaf": int(tree.sizes.max()),
                "mean_leaf": float(tree.sizes.mean()),
                "mean_member_centroid_cosine": float(cos),
                "n_rows": len(x),
                "dim": x.shape[1],
                "tau": tau,
            }
        )
        print(rows[-1], flush=True)
    fast = min(rows, key=lambda r: r["seconds"])
    other = max(rows, key=lambda r: r["seconds"])
    pick = fast if fast["mean_member_centroid_cosine"] >= other["mean_member_centroid_cosine"] - 0.01 else other
    return pick["backend"], rows


class Stage1:
    """Retrieval of one index for many queries, computed once and re-ranked for every grid point.

    For each query the per-cluster values of the subject, the answer and the (summed) statement keywords are
    computed with the tracer's own keyword list and the matcher's exact token-set similarities; ranking and the
    row budget are `KeywordMatcher.rank` / `FastTrackTracer.retrieve`'s rules.
    """

    def __init__(
        self,
        tracer: FastTrackTracer,
        queries,
        rows: np.ndarray,
        q_emb: np.ndarray,
        statement: bool = True,
        keywords: bool = True,
    ) -> None:
        self.tracer, self.index = tracer, tracer.index
        self.sizes = self.index.sizes()
        self.n = self.index.n_rows
        self.rows = rows
        self.sims = q_emb[rows] @ self.index.centroids.T
        m = tracer.matcher
        self.pairs = []  # per query: [(group, word ids, similarities)] at the lowest threshold
        for i in rows if keywords else []:
            r = queries[int(i)]
            kws = tracer.weighted_query_keywords(r["statement"], r["sub_label"], r["obj_label"], every=statement)
            seen: set[str] = set()
            entry = []
            for kw in kws:
                norm = m.normalize_queries([kw])
                if not norm or norm[0] in seen:
                    continue
                seen.add(norm[0])
                group = 0 if kw == r["sub_label"] else 1 if kw == r["obj_label"] else 2
                ids, sims = m.similarities(norm[0], min(THETAS))
                entry.append((group, ids, sims))
            self.pairs.append(entry)

    def values(self, theta: float, weighting: str) -> list[np.ndarray]:
        """Per query: `(3, C)` cluster values of the subject, answer and summed statement keywords."""
        m = self.tracer.matcher
        out = []
        for entry in self.pairs:
            v = np.zeros((3, self.index.n_clusters), np.float32)
            for group, ids, sims in entry:
                keep = ids[sims >= theta]
                vals = m.icf[keep] if weighting == "icf" else np.ones(len(keep), np.float32)
                row = m.spread(keep, vals)
                v[group] = np.maximum(v[group], row) if group < 2 else v[group] + row
            out.append(v)
        return out

    def keyword_ranked(self, values: list[np.ndarray], weights, cap: int) -> list[list[int]]:
        w = np.asarray(weights, np.float32)
        out = []
        for k, v in enumerate(values):  # every LAMA query has a subject and an answer string
            score = w @ v
            keep = np.flatnonzero(score > 0)
            order = keep[np.lexsort((keep, -self.sims[k][keep], -score[keep]))][:cap]
            out.append(order.tolist())
        return out

    def evaluate(self, ranked: list[list[int]], props, fraction: float, rows: np.ndarray | None = None) -> dict:
        rows = self.rows if rows is None else rows
        max_rows = max(1, int(np.floor(fraction * self.n)))
        hit = tot = 0
        fracs = []
        for k, cl in enumerate(ranked):
            if cl:
                used = np.cumsum(self.sizes[cl])
                cl = cl[: max(1, int(np.searchsorted(used, max_rows, side="right")))]
            chosen = set(cl)
            p = props[int(rows[k])]
            hit += sum(int(self.index.labels[r]) in chosen for r in p)
            tot += len(p)
            fracs.append(float(self.sizes[cl].sum()) / self.n if cl else 0.0)
        return {
            "stage1_recall": hit / tot,
            "corpus_fraction_mean": float(np.mean(fracs)),
            "corpus_fraction_max": float(np.max(fracs)),
        }

    def with_embedding(self, ranked: list[list[int]], m: int) -> list[list[int]]:
        if not m:
            return ranked
        out = []
        for k, cl in enumerate(ranked):
            taken = set(cl)
            near = [int(c) for c in np.argsort(-self.sims[k], kind="stable")[:m] if int(c) not in taken]
            out.append(cl + near)
        return out

    def bm25_clusters(self, bm25_ids: np.ndarray, k: int) -> list[list[int]]:
        out = []
        for j in range(len(self.rows)):
            out.append(list(dict.fromkeys(int(self.index.labels[r]) for r in bm25_ids[j, :k] if r >= 0)))
        return out


def build_index(corpus_e, tau: int, max_keywords: int | None, backend: str) -> tuple[FastTrackIndex, float]:
    cfg = FastTrackConfig(
        embedding_column="emb", tau=tau, kmeans_backend=backend, normalize=False, max_keywords=max_keywords
    )
    t0 = time.perf_counter()
    index = FastTrackIndex.build(corpus_e, cfg, progress=False)
    return index, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kmeans", action="store_true", help="rerun the k-means backend benchmark")
    ap.add_argument("--baselines", action="store_true", help="rerun the BM25 / embedding baselines")
    ap.add_argument("--embedder", default="tfidf-svd-256", choices=["tfidf-svd-256", "minilm"])
    ap.add_argument("--smoke", action="store_true", help="tiny subset, writes stage1_smoke.json")
    ap.add_argument("--taus", type=int, nargs="+", default=list(TAUS), help="leaf sizes to build and tune")
    args = ap.parse_args()
    corpus, queries = load_data()
    stats = dataset_statistics(corpus, queries)
    n = len(corpus)
    xc, other = tfidf_svd_embeddings(corpus["text"], {"statement": queries["statement"]})
    xq = other["statement"]
    if args.embedder == "minilm":  # cached MiniLM embeddings (benchmarks/fasttrack/common.cached_embeddings)
        xc, xq = np.load(CACHE / "corpus_text.npy"), np.load(CACHE / "queries_statement.npy")
    backend = "faiss"
    if args.kmeans:
        sub = np.sort(np.random.default_rng(0).choice(n, size=min(KMEANS_ROWS, n), replace=False))
        backend, km_rows = kmeans_benchmark(xc[sub], 100)
        write_rows("kmeans_backend", {"rows": km_rows, "chosen": backend, "machine": "2 shared CPU cores (loaded)"})
    corpus_e = corpus.add_column("emb", list(xc))
    props = proponent_rows(queries, corpus)
    qids = list(queries["query_id"])
    rel = np.asarray(queries["predicate_id"])
    dev, test = stratified_dev_split(rel, 0.2, seed=0)
    taus = tuple(args.taus)
    if args.smoke:  # a quick end-to-end check of this script (not a result)
        dev, test, taus = dev[::20], test[::80], TAUS[:1]
    bm25 = BM25Ranker(corpus["text"])
    bm25_ids, _ = bm25.retrieve(list(queries["statement"]), k=max(BM25_ROWS))

    grid: list[dict] = []
    indexes: dict[int, tuple[FastTrackIndex, float]] = {}
    for tau in taus:
        index, build_s = build_index(corpus_e, tau, None, backend)
        indexes[tau] = (index, build_s)
        tracer = FastTrackTracer(index, corpus_e, OracleVerifier({}), progress=False)
        t0 = time.perf_counter()
        st = Stage1(tracer, queries, dev, xq)
        print(f"tau={tau}: {index.n_clusters} leaves, keyword sims {time.perf_counter() - t0:.0f}s", flush=True)
        for theta in THETAS:
            for weighting in ("icf", "none"):
                vals = st.values(theta, weighting)
                for w in WEIGHTS:
                    for cap in CAPS:
                        ranked = st.keyword_ranked(vals, w, cap)
                        for frac in FRACTIONS:
                            grid.append(
                                {
                                    "route": "keywords",
                                    "tau": tau,
                                    "fuzzy_threshold": theta,
                                    "keyword_weighting": weighting,
                                    "weights": list(w),
                                    "max_clusters": cap,
                                    "max_corpus_fraction": frac,
                                    **st.evaluate(ranked, props, frac),
                                }
                            )
        # extensions on the best keyword setting of this tau: + centroid clusters, BM25 clusters
        best_kw = max(
            (g for g in grid if g["tau"] == tau and g["route"] == "keywords" and g["max_corpus_fraction"] == BUDGET),
            key=lambda g: g["stage1_recall"],
        )
        vals = st.values(best_kw["fuzzy_threshold"], best_kw["keyword_weighting"])
        ranked = st.keyword_ranked(vals, best_kw["weights"], best_kw["max_clusters"])
        base = {k: best_kw[k] for k in ("fuzzy_threshold", "keyword_weighting", "weights", "max_clusters")}
        for m in EMB_CLUSTERS[1:]:
            for frac in FRACTIONS:
                grid.append(
                    {
                        "route": "both",
                        "tau": tau,
                        **base,
                        "embedding_clusters": m,
                        "max_corpus_fraction": frac,
                        **st.evaluate(st.with_embedding(ranked, m), props, frac),
                    }  # fmt: skip
                )
                grid.append(
                    {
                        "route": "embedding",
                        "tau": tau,
                        "embedding_clusters": m,
                        "max_corpus_fraction": frac,
                        **st.evaluate(st.with_embedding([[] for _ in dev], m), props, frac),
                    }  # fmt: skip
                )
        for k in BM25_ROWS:
            lex = st.bm25_clusters(bm25_ids[dev], k)
            for frac in FRACTIONS:
                grid.append(
                    {
                        "route": "bm25",
                        "tau": tau,
                        "bm25_rows": k,
                        "max_corpus_fraction": frac,
                        **st.evaluate(lex, props, frac),
                    }  # fmt: skip
                )
                union = [a + [c for c in b if c not in set(a)] for a, b in zip(ranked, lex)]
                grid.append(
                    {
                        "route": "keywords+bm25",
                        "tau": tau,
                        **base,
                        "bm25_rows": k,
                        "max_corpus_fraction": frac,
                        **st.evaluate(union, props, frac),
                    }  # fmt: skip
                )
        print(best_kw, flush=True)

    def best_of(route: str) -> dict:
        ok = [g for g in grid if g["route"] == route and g["max_corpus_fraction"] <= BUDGET]
        return max(ok, key=lambda g: (round(g["stage1_recall"], 4), -g["corpus_fraction_mean"]))

    chosen = {route: best_of(route) for route in ("keywords", "both", "embedding", "bm25", "keywords+bm25")}
    for route, g in chosen.items():
        print("dev best", route, g, flush=True)

    # report once on test: stage-1 recall of all test queries by the same rules, and FastTrackTracer.trace with the
    # oracle verifier on a seeded sample (20 per relation) for the stage-wise report and the seconds per query
    rng = np.random.default_rng(2)
    sample = np.sort(
        np.concatenate([rng.permutation(test[rel[test] == r])[:TRACE_PER_RELATION] for r in sorted(set(rel))])
    )
    test_rows = {}
    for route, g in chosen.items():
        index, build_s = indexes[g["tau"]]
        w = g.get("weights", [2.0, 1.0, 0.0])
        cfg = FastTrackConfig.from_dict(
            {
                **index.config.to_dict(),
                "retrieval": route if route in ("keywords", "both", "embedding") else "keywords",
                "fuzzy_threshold": g.get("fuzzy_threshold", 90.0),
                "keyword_weighting": g.get("keyword_weighting", "icf"),
                "subject_weight": w[0],
                "answer_weight": w[1],
                "statement_weight": w[2],
                "max_clusters": g.get("max_clusters", 1000),
                "embedding_clusters": max(1, g.get("embedding_clusters", 1)),
                "max_corpus_fraction": g["max_corpus_fraction"],
            }
        )
        tracer = FastTrackTracer(index, corpus_e, OracleVerifier.from_queries(queries, corpus), cfg, progress=False)
        uses_keywords = route in ("keywords", "both", "keywords+bm25")
        st = Stage1(tracer, queries, test, xq, statement=w[2] > 0, keywords=uses_keywords)
        kw = (
            st.keyword_ranked(st.values(g["fuzzy_threshold"], g["keyword_weighting"]), w, g["max_clusters"])
            if uses_keywords
            else [[] for _ in test]
        )
        if route in ("both", "embedding"):
            kw = st.with_embedding(kw, g["embedding_clusters"])
        if route in ("bm25", "keywords+bm25"):
            lex = st.bm25_clusters(bm25_ids[test], g["bm25_rows"])
            kw = [a + [c for c in b if c not in set(a)] for a, b in zip(kw, lex)]
        full = st.evaluate(kw, props, g["max_corpus_fraction"])
        row = {"config": cfg.to_dict(), "dev": g, "test_all": full, "n_test_all": len(test)}
        row["index"] = {"tau": g["tau"], "n_clusters": index.n_clusters, "build_seconds": build_s}
        if route in ("keywords", "both", "embedding"):
            load0 = os.getloadavg()[0]
            res = tracer.trace(queries.select(sample), query_embeddings=xq[sample])
            rep = stagewise_report(res, {qids[i]: props[i] for i in sample}, n_corpus=n)
            rep["load_avg_1min"] = [load0, os.getloadavg()[0]]
            pos = np.searchsorted(test, sample)
            same = st.evaluate([kw[int(j)] for j in pos], props, g["max_corpus_fraction"], rows=sample)
            row["trace_sample"] = {"n_queries": len(sample), "report": rep, "same_rules_recall": same}
            print("trace", route, rep["stage1_recall_micro"], rep["seconds_per_query"], flush=True)
        test_rows[route] = row
        print("test", route, full, flush=True)

    write_rows(
        ("stage1" if args.embedder == "tfidf-svd-256" else "stage1_minilm") + ("_smoke" if args.smoke else ""),
        {
            "dataset": stats,
            "embedder": args.embedder,
            "budget_corpus_fraction": BUDGET,
            "dev_grid": grid,
            "chosen_on_dev": chosen,
            "test": test_rows,
            "n_dev": len(dev),
            "n_test": len(test),
            "machine": "2 shared CPU cores",
            "license": "cc-by-nc-4.0",
        },
    )
    if args.baselines:
        baselines(corpus, queries, xc, xq, props, dev, test, bm25)


def baselines(corpus, queries, xc, xq, props, dev, test, bm25) -> None:
    """BM25 and embedding-similarity set baselines on the full corpus, one global cut-off tuned on dev."""
    base = {}
    for form, qcol, ccol in (
        ("answer_aware", "statement", "text"),
        ("answer_agnostic", "query_masked", "masked_text"),
    ):
        ranker = bm25 if ccol == "text" else BM25Ranker([t.replace("[MASK]", " ") for t in corpus[ccol]])
        qs = [s.replace("[MASK]", " ") for s in queries[qcol]]
        t0 = time.perf_counter()
        ids, sc = ranker.retrieve(qs, k=50)
        per_q = (time.perf_counter() - t0) / len(qs)
        cut = tune_cutoff(ids[dev], sc[dev], [props[i] for i in dev])
        m = set_metrics(apply_cutoff(ids[test], sc[test], cut), [props[i] for i in test])
        ub = set_metrics(oracle_best_k(ids[test], [props[i] for i in test]), [props[i] for i in test])
        base[f"bm25_{form}"] = {
            "cutoff": cut,
            "test": m,
            "oracle_best_k_macro_f1": ub["macro_f1"],
            "seconds_per_query": per_q,
            "load_avg_1min": os.getloadavg()[0],
        }
    emb = EmbeddingRanker(xc)
    t0 = time.perf_counter()
    ids, sc = emb.retrieve(xq, k=50)
    per_q = (time.perf_counter() - t0) / len(xq)
    cut = tune_cutoff(ids[dev], sc[dev], [props[i] for i in dev])
    base["embedding_tfidf_svd"] = {
        "cutoff": cut,
        "test": set_metrics(apply_cutoff(ids[test], sc[test], cut), [props[i] for i in test]),
        "seconds_per_query": per_q,
        "load_avg_1min": os.getloadavg()[0],
    }
    write_rows(
        "baselines",
        {"rows": base, "n_dev": len(dev), "n_test": len(test), "corpus": len(corpus), "license": "cc-by-nc-4.0"},
    )


if __name__ == "__main__":
    main()
