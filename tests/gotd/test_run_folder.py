"""A run folder is reused only for the same config and the same data (issue 11 item 9); the bar counts rows."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset, IterableDataset

from hf_datavalue.core.errors import OutputExistsError
from hf_datavalue.gotd import GotdConfig, GotdResult, GotdSelector

from .helpers import TableEmbedder, cat_dog, text_datasets

FAST = {"eps": 0.1, "eps_mode": "absolute", "tol": 1e-4, "max_iter": 20_000, "progress": False, "shard_size": 64}


@pytest.fixture
def toy():
    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    return text_datasets(pool_x, target_x)


def fit(pool, target, table, out=None, **kw):
    cfg = GotdConfig(**(FAST | {k: v for k, v in kw.items() if k != "overwrite"}))
    return GotdSelector(cfg, embedder=TableEmbedder(table)).fit(
        pool, target, k=15, output_dir=out, overwrite=kw.get("overwrite", False)
    )


def test_overwrite_with_another_eps_solves_again(toy, tmp_path):
    pool, target, table = toy
    first = fit(pool, target, table, tmp_path, eps=0.1)
    with pytest.raises(OutputExistsError, match="eps"):
        fit(pool, target, table, tmp_path, eps=5.0)
    again = fit(pool, target, table, tmp_path, eps=5.0, overwrite=True)
    fresh = fit(pool, target, table, None, eps=5.0)
    assert again.solve_info["eps"] == pytest.approx(5.0) == fresh.solve_info["eps"]
    np.testing.assert_allclose(np.asarray(again.scores["gotd_score"]), np.asarray(fresh.scores["gotd_score"]))
    assert not np.allclose(np.asarray(again.scores["gotd_score"]), np.asarray(first.scores["gotd_score"]))
    assert GotdConfig.load(tmp_path / "config.json").eps == 5.0
    assert GotdResult.load(tmp_path).solve_info["eps"] == pytest.approx(5.0)


@pytest.mark.parametrize("streaming", [False, True])
def test_changed_pool_content_is_detected(toy, tmp_path, streaming):
    pool, target, table = toy
    # the same ids and config, other texts in shard 2 (rows 128..191 now point at other vectors)
    swapped = pool.map(
        lambda r: {"text": f"p{(r['row_idx'] + 150) % 300}" if 128 <= r["row_idx"] < 192 else r["text"]}
    )

    def data(ds):
        return IterableDataset.from_generator(lambda: iter(ds)) if streaming else ds

    fit(data(pool), target, table, tmp_path)
    with pytest.raises(OutputExistsError, match="shard 2"):
        fit(data(swapped), target, table, tmp_path)
    emb = TableEmbedder(table)
    cfg = GotdConfig(**FAST)
    redone = GotdSelector(cfg, embedder=emb).fit(data(swapped), target, k=15, output_dir=tmp_path, overwrite=True)
    assert emb.rows == 64  # only the changed shard is embedded again (the target embedding is cached)
    fresh = fit(swapped, target, table)
    np.testing.assert_allclose(
        np.asarray(redone.scores["gotd_score"]), np.asarray(fresh.scores["gotd_score"]), atol=1e-9
    )
    assert redone.selected_ids().tolist() == fresh.selected_ids().tolist()


def test_progress_bar_counts_rows(toy, capsys):
    pool, target, table = toy
    GotdSelector(GotdConfig(**(FAST | {"progress": True, "shard_size": 10_000})), embedder=TableEmbedder(table)).fit(
        pool, target, k=15
    )
    err = capsys.readouterr().err
    assert "300/300" in err and "row" in err, err[-500:]


def test_result_round_trip(toy, tmp_path):
    pool, target, table = toy
    selector = fit(pool, target, table, tmp_path / "run")
    result = GotdResult.load(tmp_path / "run")
    assert result.to_dataset().to_dict() == selector.result.to_dataset().to_dict()
    assert result.selected_ids(15).tolist() == selector.selected_ids().tolist()
    assert result.provenance.to_dict() == selector.provenance.to_dict()
    with pytest.raises(OutputExistsError):
        result.save(tmp_path / "run")
    result.save(tmp_path / "copy")
    assert GotdResult.load(tmp_path / "copy").row_hash.tolist() == selector.result.row_hash.tolist()
    assert isinstance(Dataset.from_parquet(str(tmp_path / "copy" / "scores.parquet")), Dataset)
