"""FastTrack stage 1 when a query is only a statement (no subject / answer columns, e.g. a model's own completion).

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fasttrack/stage1_statement_only.py

Uses the keyword route chosen on dev in benchmarks/results/fasttrack/stage1.json (same index: TF-IDF-SVD, same tau,
threshold, weighting and budget) and drops the subject and answer columns, so the query keywords are the offline
keyworder's keywords of the statement (weight 1). Reports stage-1 recall on all dev queries and on the seeded test
sample of stage1.py (20 per relation). Writes benchmarks/results/fasttrack/stage1_statement_only.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_data, tfidf_svd_embeddings, write_rows  # noqa: E402

from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer  # noqa: E402
from hf_datavalue.fasttrack.evaluation import proponent_rows, stratified_dev_split  # noqa: E402
from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier  # noqa: E402

TRACE_PER_RELATION = 20


def main() -> None:
    chosen = json.loads((RESULTS / "stage1.json").read_text())["test"]["keywords"]["config"]
    corpus, queries = load_data()
    xc, other = tfidf_svd_embeddings(corpus["text"], {"statement": queries["statement"]})
    xq = other["statement"]
    corpus_e = corpus.add_column("emb", list(xc))
    cfg = FastTrackConfig.from_dict({**chosen, "subject_column": None, "answer_column": None})
    index = FastTrackIndex.build(corpus_e, cfg, progress=False)
    tracer = FastTrackTracer(index, corpus_e, OracleVerifier({}), cfg, progress=False)
    props = proponent_rows(queries, corpus)
    rel = np.asarray(queries["predicate_id"])
    dev, test = stratified_dev_split(rel, 0.2, seed=0)
    rng = np.random.default_rng(2)  # the seeded test sample of stage1.py
    sample = np.sort(
        np.concatenate([rng.permutation(test[rel[test] == r])[:TRACE_PER_RELATION] for r in sorted(set(rel))])
    )
    sizes = index.sizes()
    rows = {}
    for name, idx in (("dev", dev), ("test_sample", sample)):
        hit = tot = 0
        fracs, n_kw = [], []
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        for i in idx:
            kws = tracer.weighted_query_keywords(queries[int(i)]["statement"])
            clusters = tracer.retrieve(kws, xq[int(i)])
            chosen_set = set(clusters)
            hit += sum(int(index.labels[r]) in chosen_set for r in props[int(i)])
            tot += len(props[int(i)])
            fracs.append(float(sizes[clusters].sum()) / len(corpus))
            n_kw.append(len(kws))
        rows[name] = {
            "n_queries": len(idx),
            "stage1_recall": hit / tot,
            "corpus_fraction_mean": float(np.mean(fracs)),
            "corpus_fraction_max": float(np.max(fracs)),
            "keywords_per_query": float(np.mean(n_kw)),
            "retrieval_seconds_per_query": (time.perf_counter() - t0) / len(idx),
            "load_avg_1min": [load0, os.getloadavg()[0]],
        }
        print(name, rows[name], flush=True)
    write_rows(
        "stage1_statement_only",
        {"config": cfg.to_dict(), "n_clusters": index.n_clusters, "rows": rows, "license": "cc-by-nc-4.0"},
    )


if __name__ == "__main__":
    main()
