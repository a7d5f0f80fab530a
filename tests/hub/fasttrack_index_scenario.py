"""FastTrack index Hub round trip, run in a fresh process whose environment points HF_ENDPOINT at the local Hub.

`python tests/hub/fasttrack_index_scenario.py push|load '<json kwargs>'` prints `RESULT:<json>` as its last line:
`push` builds a small real index (LAMA-TREx slice, bag-of-words embeddings) and pushes it through the loopback
gateway; `load` reads it back through olah with `FastTrackIndex.from_hub` and traces with the oracle verifier.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fasttrack.helpers import small_slice, with_bow  # noqa: E402

SHARED = Path(os.environ.get("HF_DATAVALUE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def data():
    corpus, queries = small_slice(SHARED, n_queries=12, n_extra=150)
    return with_bow(corpus), queries


def digest(index) -> str:
    h = hashlib.sha256()
    h.update(index.labels.tobytes())
    h.update(json.dumps([index.paths, index.keywords]).encode())
    h.update(np.ascontiguousarray(index.centroids).tobytes())
    return h.hexdigest()


def trace(index, corpus, queries) -> dict[str, list[int]]:
    from hf_datavalue.fasttrack import FastTrackTracer
    from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier

    tracer = FastTrackTracer(index, corpus, OracleVerifier.from_queries(queries, corpus), progress=False)
    return {q: sorted(s) for q, s in tracer.trace(queries).candidate_sets().items()}


def push(repo: str) -> dict:
    from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex

    corpus, queries = data()
    cfg = FastTrackConfig(embedding_column="bow", tau=20, kmeans_backend="faiss", max_corpus_fraction=1.0)
    index = FastTrackIndex.build(corpus, cfg, progress=False)
    index.push_to_hub(repo, config_name="fasttrack_index", private=False)  # the local gateway has no private repos
    return {"digest": digest(index), "n_clusters": index.n_clusters, "candidates": trace(index, corpus, queries)}


def load(repo: str) -> dict:
    from hf_datavalue.core.errors import DataValueError
    from hf_datavalue.fasttrack import FastTrackIndex

    corpus, queries = data()
    index = FastTrackIndex.from_hub(repo, config_name="fasttrack_index")
    try:
        FastTrackIndex.from_hub(repo, config_name="no_such_index")
        missing = "no error"
    except DataValueError as err:
        missing = type(err).__name__
    return {
        "digest": digest(index),
        "n_clusters": index.n_clusters,
        "candidates": trace(index, corpus, queries),
        "revision": index.meta["hub"]["revision"],
        "config": index.config.to_dict(),
        "missing": missing,
    }


def main() -> None:
    name, kwargs = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    try:
        result = {"push": push, "load": load}[name](**kwargs)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    print("RESULT:" + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
