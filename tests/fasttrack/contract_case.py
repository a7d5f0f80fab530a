"""FastTrack's entry in the method contract matrix: a tiny real trace (oracle verifier, real LAMA-TREx rows)."""

from __future__ import annotations

from tests.conftest import shared_data_dir
from tests.contract import ContractCase
from tests.fasttrack.helpers import small_slice, with_bow

N_QUERIES = 12


def _run(seed: int, tmp_path):
    from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex, FastTrackTracer
    from hf_datavalue.fasttrack.verifiers.oracle import OracleVerifier

    corpus, queries = small_slice(shared_data_dir(), n_queries=N_QUERIES, n_extra=150)
    corpus = with_bow(corpus)
    # fuzzy_threshold=0 with no row budget retrieves every cluster, so the row count (queries x corpus rows) is the
    # same for any seed
    config = FastTrackConfig(
        embedding_column="bow", tau=20, kmeans_backend="faiss", fuzzy_threshold=0.0, max_clusters=1000,
        max_corpus_fraction=1.0, seed=seed,
    )  # fmt: skip
    index = FastTrackIndex.build(corpus, config, progress=False)
    verifier = OracleVerifier.from_queries(queries, corpus)
    return FastTrackTracer(index, corpus, verifier, progress=False).trace(queries)


def make_contract_case() -> ContractCase:
    """Rows of `to_dataset()` = candidate pairs: every (query, corpus row) pair at this threshold."""
    corpus, _ = small_slice(shared_data_dir(), n_queries=N_QUERIES, n_extra=150)
    n_rows = N_QUERIES * len(corpus)
    return ContractCase(
        method="fasttrack",
        run=_run,
        n_rows=n_rows,
        key_column="row_idx",
        bad_config={"tau": 0},
        config_kwargs={"tau": 50, "retrieval": "both", "fuzzy_threshold": 90.0, "batch_size": 4},
    )
