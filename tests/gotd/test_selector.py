"""GotdSelector: filter == select, ids not positions, determinism, chunking, pre-filter, streaming, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset, IterableDataset

from hf_datavalue.core.errors import (
    ConfigError,
    EmptyDatasetError,
    MissingColumnError,
    NonFiniteError,
    OutputExistsError,
    RowKeyMismatchError,
    ShapeMismatchError,
)
from hf_datavalue.gotd import GotdConfig, GotdSelector, select
from hf_datavalue.gotd.text import chunk_text, concat_texts, hash_texts

from .helpers import TableEmbedder, cat_dog, text_datasets

FAST = {"eps": 0.1, "eps_mode": "absolute", "tol": 1e-4, "max_iter": 20_000, "progress": False}


@pytest.fixture
def toy():
    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    domains = ["cat"] * 285 + ["dog"] * 15
    return (pool_x, target_x, *text_datasets(pool_x, target_x, domains))


def fitted(toy, tmp_path=None, **kw):
    _, _, pool, target, table = toy
    selector = GotdSelector(GotdConfig(**(FAST | {"shard_size": 64} | kw)), embedder=TableEmbedder(table))
    return selector.fit(pool, target, k=15, output_dir=tmp_path)


def test_filter_equals_select_and_picks_the_rare_cluster(toy):
    _, _, pool, _, _ = toy
    selector = fitted(toy)
    chosen = selector.selected_ids()
    assert len(set(chosen.tolist())) == 15
    assert (chosen >= 285).mean() >= 0.95
    filtered = pool.filter(selector, with_indices=True, batched=True, batch_size=33)
    selected = selector.select(pool)
    assert filtered["row_idx"] == selected["row_idx"] == sorted(chosen.tolist())
    assert filtered["text"] == selected["text"]
    # non-batched filter works too
    assert pool.filter(selector, with_indices=True)["row_idx"] == filtered["row_idx"]
    # scores: lower = select first; the k best scores belong to the chosen ids
    scores = selector.scores
    assert scores.column_names[:2] == ["row_idx", "gotd_score"]
    best = np.argsort(np.asarray(scores["gotd_score"]))[:15]
    assert set(np.asarray(scores["row_idx"])[best].tolist()) == set(chosen.tolist())
    assert abs(float(np.mean(selector.chunk_scores["gotd_score"]))) < 1e-9


def test_deterministic_and_shuffle_invariant(toy):
    pool_x, target_x, pool, target, table = toy
    first = fitted(toy).selected_ids()
    assert fitted(toy).selected_ids().tolist() == first.tolist()
    # embed and score the pool in a different order: same ids (row_idx travels with the rows)
    shuffled = pool.shuffle(seed=7).flatten_indices()
    selector = GotdSelector(GotdConfig(**(FAST | {"shard_size": 50})), embedder=TableEmbedder(table))
    selector.fit(shuffled, target, k=15)
    assert sorted(selector.selected_ids().tolist()) == sorted(first.tolist())
    # the selected texts are exactly the texts whose embeddings were scored
    out = selector.select(pool)
    assert out["text"] == [f"p{i}" for i in sorted(first.tolist())]
    assert hash_texts(out["text"]).tolist() == [
        int(h) for h in selector.row_hash_[selector._lookup(np.asarray(out["row_idx"]))]
    ]
    # the fitted selector filters the original and the shuffled pool alike
    assert sorted(pool.shuffle(seed=3).filter(selector, with_indices=True, batched=True)["row_idx"]) == sorted(
        first.tolist()
    )


def test_positions_without_id_column_and_row_mismatch(toy):
    _, _, pool, target, table = toy
    no_ids = pool.remove_columns("row_idx")
    selector = GotdSelector(GotdConfig(**FAST), embedder=TableEmbedder(table)).fit(no_ids, target, k=15)
    assert selector.id_column_ is None
    assert no_ids.filter(selector, with_indices=True, batched=True)["text"] == selector.select(no_ids)["text"]
    # a reordered pool without ids: positions no longer match the fitted texts
    with pytest.raises(RowKeyMismatchError):
        no_ids.shuffle(seed=0).filter(selector, with_indices=True, batched=True)
    # another dataset of the same size
    other = Dataset.from_dict({"text": [f"t{i % 60}" for i in range(300)]})
    with pytest.raises(RowKeyMismatchError):
        other.filter(selector, with_indices=True, batched=True)
    # unknown ids
    fitted_ids = fitted(toy)
    stranger = Dataset.from_dict({"row_idx": [10_000], "text": ["p0"]})
    with pytest.raises(RowKeyMismatchError):
        stranger.filter(fitted_ids, with_indices=True, batched=True)
    with pytest.raises(RowKeyMismatchError):
        fitted_ids.select(pool.select(range(100)))


def test_bad_inputs(toy):
    pool_x, target_x, pool, target, table = toy
    emb = TableEmbedder(table)
    with pytest.raises(ConfigError, match="larger than the pool"):
        GotdSelector(GotdConfig(**FAST), embedder=emb).fit(pool, target, k=301)
    for bad_k in (0, -3):
        with pytest.raises(ConfigError, match="positive"):
            GotdSelector(GotdConfig(**FAST), embedder=emb).fit(pool, target, k=bad_k)
        with pytest.raises(ConfigError):
            GotdConfig(k=bad_k)
    selector = fitted(toy)
    with pytest.raises(ConfigError):
        selector.select(pool, k=0)
    with pytest.raises(ConfigError, match="larger than the pool"):
        selector.select(pool, k=1000)
    with pytest.raises(EmptyDatasetError, match="target"):
        GotdSelector(GotdConfig(**FAST), embedder=emb).fit(pool, target.select([]), k=5)
    with pytest.raises(EmptyDatasetError):
        GotdSelector(GotdConfig(**FAST), embedder=emb).fit(pool.select([]), target, k=5)
    with pytest.raises(MissingColumnError):
        GotdSelector(GotdConfig(**FAST, text_column="body"), embedder=emb).fit(pool, target, k=5)
    with pytest.raises(ConfigError, match="not fitted"):
        GotdSelector(GotdConfig(**FAST)).selected_ids(3)

    # precomputed embeddings: dimension mismatch, metadata mismatch, NaN
    p = pool.add_column("emb", [list(map(float, v)) for v in pool_x])
    t = Dataset.from_dict({"emb": [list(map(float, v)) for v in target_x]})
    t_wide = Dataset.from_dict({"emb": [[*map(float, v), 0.0] for v in target_x]})
    cfg = GotdConfig(**FAST, embedding_column="emb")
    assert GotdSelector(cfg).fit(p, t, k=15).selected_ids().tolist() == selector.selected_ids().tolist()
    with pytest.raises(ShapeMismatchError, match="same model"):
        GotdSelector(cfg).fit(p, t_wide, k=5)
    with pytest.raises(ShapeMismatchError, match="same model"):
        GotdSelector(cfg).fit(p, t, k=5, pool_embedder_info={"repo": "a"}, target_embedder_info={"repo": "b"})
    nan_pool = p.map(lambda r, i: {"emb": [float("nan")] * 4 if i == 7 else r["emb"]}, with_indices=True)
    with pytest.raises(NonFiniteError, match="row_idx 7"):
        GotdSelector(cfg).fit(nan_pool, t, k=5)
    nan_target = t.map(lambda r, i: {"emb": [float("nan")] * 4 if i == 2 else r["emb"]}, with_indices=True)
    with pytest.raises(NonFiniteError):
        GotdSelector(cfg).fit(p, nan_target, k=5)
    nan_table = dict(table) | {"p3": np.full(4, np.nan)}
    with pytest.raises(NonFiniteError):
        GotdSelector(GotdConfig(**FAST), embedder=TableEmbedder(nan_table)).fit(pool, target, k=5)
    # a different embedder than the one of the shards in an output folder
    dup = pool.add_column("dup", [0] * 300).rename_column("row_idx", "rid").rename_column("dup", "row_idx")
    with pytest.raises(RowKeyMismatchError, match="duplicate"):
        GotdSelector(GotdConfig(**FAST), embedder=emb).fit(dup, target, k=5)


def test_embedder_mismatch_on_resume(toy, tmp_path):
    _, _, pool, target, table = toy
    GotdSelector(GotdConfig(**FAST), embedder=TableEmbedder(table, name="a")).fit(pool, target, 5, tmp_path / "r")
    other = GotdSelector(GotdConfig(**FAST), embedder=TableEmbedder(table, name="b"))
    with pytest.raises(OutputExistsError, match="another run"):
        other.fit(pool, target, 5, tmp_path / "r")
    # overwrite=True starts the folder clean (issue 11 item 9): every row is embedded again with model "b"
    emb_b = TableEmbedder(table, name="b")
    GotdSelector(GotdConfig(**FAST), embedder=emb_b).fit(pool, target, 5, tmp_path / "r", overwrite=True)
    assert emb_b.rows == 300  # (its target embedding is cached from the refused attempt)


def test_config_json_round_trip(tmp_path):
    cfg = GotdConfig(k=7, chunk_size=500, target_concat=True, domain_column="d", prefilter_keep_domains=2)
    assert GotdConfig.from_json(cfg.to_json()) == cfg
    cfg.save(tmp_path / "c.json")
    assert GotdConfig.from_json(tmp_path / "c.json") == cfg
    assert json.loads(cfg.to_json())["chunk_size"] == 500
    with pytest.raises(ConfigError, match="unknown"):
        GotdConfig.from_dict({"kk": 1})
    with pytest.raises(ConfigError):
        GotdConfig(prefilter_keep_domains=2)
    with pytest.raises(ConfigError):
        GotdConfig(target_concat=True)
    faithful = GotdConfig.faithful_preset(k=3)
    assert (faithful.eps, faithful.eps_mode, faithful.pooling, faithful.chunk_size) == (
        0.1,
        "absolute",
        "unmasked_mean",
        1000,
    )


def test_text_helpers():
    assert chunk_text("abcdefg", 3) == ["abc", "def", "g"]
    assert chunk_text("abcdefg", 3, min_chars=2) == ["abc", "def"]
    assert chunk_text("abc", None) == ["abc"]
    assert concat_texts(["ab", "cd", "efghij"], 5) == ["ab cd", "efghi", "j"]
    assert hash_texts(["a", "a", "b"]).tolist()[0] == hash_texts(["a"]).tolist()[0] != hash_texts(["b"])[0]


def test_chunked_documents_and_select_chunks(toy):
    pool_x, target_x, _, _, _ = toy
    # documents are two keys glued together; each 3-char chunk is one table key ("p12" -> "p012")
    table = {f"p{i:03d}": v for i, v in enumerate(pool_x)} | {f"t{i}": v for i, v in enumerate(target_x)}
    docs = [f"p{2 * j:03d}p{2 * j + 1:03d}" for j in range(150)]
    pool = Dataset.from_dict({"text": docs})
    target = Dataset.from_dict({"text": [f"t{i}" for i in range(60)]})
    selector = GotdSelector(GotdConfig(**FAST, chunk_size=4), embedder=TableEmbedder(table))
    selector.fit(pool, target, k=5)
    assert len(selector.chunk_scores) == 300 and selector.scores["n_chunks"] == [2] * 150
    # a document's score is the mean of its chunks' scores
    cs = selector.chunk_scores
    g = np.asarray(cs["gotd_score"]).reshape(150, 2).mean(1)
    np.testing.assert_allclose(np.asarray(selector.scores["gotd_score"]), g)
    chunks = selector.select_chunks(pool, 15)
    assert len(chunks) == 15 and np.all(np.diff(chunks["gotd_score"]) >= 0)
    assert (np.asarray([int(t[1:]) for t in chunks["text"]]) >= 285).mean() >= 0.9
    assert pool.filter(selector, with_indices=True, batched=True)["text"] == selector.select(pool)["text"]


def test_domain_prefilter_and_plot(toy, tmp_path):
    pool_x, target_x, _, _, table = toy
    rng = np.random.default_rng(0)
    far = rng.normal(size=(100, 4)) + 40.0
    table = table | {f"f{i}": v for i, v in enumerate(far)}
    pool = Dataset.from_dict(
        {
            "row_idx": list(range(400)),
            "text": [f"p{i}" for i in range(300)] + [f"f{i}" for i in range(100)],
            "domain": ["cat"] * 285 + ["dog"] * 15 + ["far"] * 100,
        }
    )
    target = Dataset.from_dict({"text": [f"t{i}" for i in range(60)]})
    cfg = GotdConfig(**FAST, domain_column="domain", prefilter_keep_domains=2, prefilter_probe_size=50)
    selector = GotdSelector(cfg, embedder=TableEmbedder(table)).fit(pool, target, k=15, output_dir=tmp_path / "run")
    assert set(selector.prefilter_distances_) == {"cat", "dog", "far"}
    assert selector.provenance.extra["kept_domains"] == ["cat", "dog"]
    scores = selector.scores
    assert np.isnan(np.asarray(scores["gotd_score"])[300:]).all()
    assert (selector.selected_ids() >= 285).mean() >= 0.95
    with pytest.raises(ConfigError, match="larger than the pool"):
        selector.selected_ids(301)
    for name in ("scores.parquet", "chunk_scores.parquet", "meta.json", "config.json", "scores_by_domain.png"):
        assert (tmp_path / "run" / name).exists(), name
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(tmp_path / "run" / "scores.parquet").metadata[b"hf_datavalue"])
    assert meta["method"] == "gotd" and meta["score_semantics"] == "lower = select first"


def test_iterable_pool_matches_map_style(toy):
    _, _, pool, target, table = toy
    reference = fitted(toy)
    stream = IterableDataset.from_generator(lambda: iter(pool))
    selector = GotdSelector(GotdConfig(**(FAST | {"shard_size": 64})), embedder=TableEmbedder(table))
    selector.fit(stream, target, k=15)
    np.testing.assert_allclose(np.asarray(selector.scores["gotd_score"]), np.asarray(reference.scores["gotd_score"]))
    assert [r["row_idx"] for r in selector.select(stream)] == reference.select(pool)["row_idx"]


@pytest.mark.parametrize("iterable", [False, True])
def test_resume_from_finished_shards(toy, tmp_path, iterable):
    _, _, pool, target, table = toy
    data = IterableDataset.from_generator(lambda: iter(pool)) if iterable else pool
    cfg = GotdConfig(**(FAST | {"shard_size": 64, "embed_batch_size": 64}))
    # interrupted after two shards (one embedding batch per shard)
    with pytest.raises(KeyboardInterrupt):
        GotdSelector(cfg, embedder=TableEmbedder(table, fail_after=2)).fit(data, target, k=15, output_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "shards").glob("rows-*")) == ["rows-00000.parquet", "rows-00001.parquet"]
    emb = TableEmbedder(table)
    resumed = GotdSelector(cfg, embedder=emb).fit(data, target, k=15, output_dir=tmp_path)
    assert emb.rows == 300 - 128  # the three unfinished shards (the target embedding is cached)
    fresh = fitted(toy)
    np.testing.assert_allclose(
        np.asarray(resumed.scores["gotd_score"]), np.asarray(fresh.scores["gotd_score"]), atol=1e-9
    )
    # a second resume reuses shards, solve and scores: nothing is embedded but the (cached) target
    emb2 = TableEmbedder(table)
    again = GotdSelector(cfg, embedder=emb2).fit(data, target, k=15, output_dir=tmp_path)
    assert emb2.rows == 0
    assert again.selected_ids().tolist() == resumed.selected_ids().tolist()


def test_one_call_select(toy):
    _, _, pool, target, table = toy
    out = select(pool, target, k=15, config=GotdConfig(**FAST), embedder=TableEmbedder(table))
    assert out["row_idx"] == sorted(fitted(toy).selected_ids().tolist())
    scores = GotdSelector(GotdConfig(**FAST), embedder=TableEmbedder(table)).score(pool, target)
    best = np.asarray(scores["row_idx"])[np.argsort(np.asarray(scores["gotd_score"]))[:15]]
    assert sorted(best.tolist()) == out["row_idx"]


def test_out_of_fit_scoring_and_pickle(toy):
    import pickle

    pool_x, _, _, _, _ = toy
    selector = fitted(toy)
    np.testing.assert_allclose(selector.score_embeddings(pool_x), np.asarray(selector.scores["gotd_score"]), atol=1e-5)
    clone = pickle.loads(pickle.dumps(selector))
    assert clone._embedder is None and clone.selected_ids().tolist() == selector.selected_ids().tolist()
