"""GOT-D embedding: the target matrix and the sharded, resumable, rank-aware pool embedding.

Every text goes through the core batched path ([`~hf_datavalue.core.embeddings.embed_dataset`] and
[`~hf_datavalue.core.embeddings.embedding_matrix`]); there is no second embedding loop. The pool is cut into
fixed shards of `shard_size` rows (the same cut in one process and in N), each shard is embedded by the
process that owns it ([`~hf_datavalue.core.distributed.ProcessContext.owns`]) and written to the run folder,
and a finished shard is reused only after its rows are verified against the pool given now.

Usage:

```python
from hf_datavalue.gotd.embedding import build_embedder, embed_pool, target_matrix

embedder = build_embedder(config)
target_x = target_matrix(target, config, embedder)
embed_pool(pool, store, config, embedder, dim=target_x.shape[1], id_column="row_idx")
```
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.distributed import ProcessContext, process_context, resolve_device
from ..core.embeddings import Embedder, TransformersEmbedder, embed_dataset, embedding_matrix, get_embedder
from ..core.errors import (
    ConfigError,
    EmptyDatasetError,
    MissingColumnError,
    NonFiniteError,
    OutputExistsError,
    ShapeMismatchError,
)
from ..core.rows import ROW_KEY
from .config import GotdConfig
from .shards import ShardStore
from .text import chunk_text, concat_texts, hash_texts

__all__ = ["build_embedder", "embed_pool", "embed_texts", "is_iterable", "pool_columns", "target_matrix"]

logger = logging.getLogger(__name__)

_COLUMN = "_gotd_embedding"


def is_iterable(ds: Any) -> bool:
    """Whether `ds` is a streaming `datasets.IterableDataset`."""
    from datasets import IterableDataset

    return isinstance(ds, IterableDataset)


def build_embedder(cfg: GotdConfig, ctx: ProcessContext | None = None) -> Embedder:
    """The embedder of `cfg` (reference pooling and padding under `faithful=True`), on this process's device."""
    if cfg.embedder.startswith(("st:", "image:")) or cfg.embedder == "pixels":
        return get_embedder(cfg.embedder)
    return TransformersEmbedder(
        cfg.embedder,
        pooling="unmasked_mean" if cfg.faithful else cfg.pooling,
        max_length=cfg.max_length,
        padding="max_length" if cfg.faithful else "longest",
        normalize=cfg.normalize and not cfg.faithful,
        device=resolve_device("auto", ctx),
    )


def embed_texts(
    embedder: Embedder, texts: list[str], batch_size: int, what: str, cache_dir: str | Path | None = None
) -> np.ndarray:
    """`(len(texts), d)` float32 embeddings through the core batched path (`cache_dir`: where `datasets` keeps
    the arrow file; pass a temporary folder for data that is stored elsewhere, like pool shards)."""
    from datasets import Dataset

    if not texts:
        raise EmptyDatasetError(f"no {what} text to embed")
    ds = embed_dataset(
        Dataset.from_dict({"text": texts}),
        "text",
        embedder,
        output_column=_COLUMN,
        batch_size=batch_size,
        cache_dir=cache_dir,
        progress=False,
    )
    return embedding_matrix(ds, _COLUMN, what=what)


def target_matrix(target: Any, cfg: GotdConfig, embedder: Embedder | None) -> np.ndarray:
    """The target embeddings (`embedding_column`, or the texts embedded, concatenated first with
    `target_concat`)."""
    from datasets import Dataset

    if is_iterable(target):
        raise ConfigError("the target sample must be a map-style datasets.Dataset (it is small)")
    if len(target) == 0:
        raise EmptyDatasetError("the target sample is empty: GOT-D needs at least one target row")
    if cfg.embedding_column is not None:
        return embedding_matrix(target, cfg.embedding_column, what="target dataset")
    if cfg.text_column not in target.column_names:
        raise MissingColumnError("target dataset", cfg.text_column, target.column_names)
    assert embedder is not None
    if cfg.target_concat:
        assert cfg.chunk_size is not None
        texts = concat_texts(target[cfg.text_column], cfg.chunk_size)
        logger.info(
            "target: %d texts concatenated into %d pieces of <= %d chars", len(target), len(texts), cfg.chunk_size
        )
        target = Dataset.from_dict({cfg.text_column: texts})
    ds = embed_dataset(
        target,
        cfg.text_column,
        embedder,
        output_column=_COLUMN,
        batch_size=cfg.embed_batch_size,
        progress=cfg.progress,
    )
    return embedding_matrix(ds, _COLUMN, what="target dataset")


def pool_columns(cfg: GotdConfig, id_column: str | None) -> list[str]:
    """The pool columns GOT-D reads (ids, text or embeddings, domains)."""
    cols = (
        id_column,
        cfg.text_column if cfg.embedding_column is None else None,
        cfg.embedding_column,
        cfg.domain_column,
    )
    return [c for c in cols if c is not None]


def _shards(pool: Any, cfg: GotdConfig, id_column: str | None, need: Any) -> Iterator[tuple[int, int, Any]]:
    """`(shard index, first position, column batch or None)` for every shard; the batch is read only when
    `need(i)` is true (a streaming pool is read through anyway)."""
    narrow = pool.select_columns(pool_columns(cfg, id_column))
    if is_iterable(pool):
        for i, batch in enumerate(narrow.iter(batch_size=cfg.shard_size)):
            yield i, i * cfg.shard_size, batch
        return
    for i, s in enumerate(range(0, len(pool), cfg.shard_size)):
        yield i, s, narrow[s : s + cfg.shard_size] if need(i) else None


def _shard_rows(batch: dict[str, list], start: int, cfg: GotdConfig, id_column: str | None, kept_domains: Any) -> Any:
    n = len(next(iter(batch.values())))
    ids = np.asarray(batch[id_column], dtype=np.int64) if id_column else np.arange(start, start + n, dtype=np.int64)
    values = batch[cfg.embedding_column] if cfg.embedding_column else batch[cfg.text_column]
    domains = [str(d) for d in batch[cfg.domain_column]] if cfg.domain_column else [""] * n
    kept = np.array([kept_domains is None or d in kept_domains for d in domains], dtype=bool)
    return ids, values, hash_texts(values), domains, kept


def _embed_shard(
    i: int, rows: Any, cfg: GotdConfig, embedder: Embedder | None, store: ShardStore, dim: int, cache: Path
) -> None:
    ids, values, row_hash, domains, kept = rows
    unit_rows: list[int] = []
    unit_chunks: list[int] = []
    x: np.ndarray
    if cfg.embedding_column is not None:
        sel = np.flatnonzero(kept)
        x = np.asarray([values[j] for j in sel], dtype=np.float32).reshape(len(sel), -1)
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise NonFiniteError(
                f"column {cfg.embedding_column!r} of the pool has NaN or infinite values in {int(bad.sum())} rows "
                f"(first: row_idx {int(ids[sel[np.flatnonzero(bad)[0]]])}); drop or re-embed those rows"
            )
        unit_rows, unit_chunks = sel.tolist(), [0] * len(sel)
    else:
        assert embedder is not None
        texts: list[str] = []
        for j in np.flatnonzero(kept):
            for c, piece in enumerate(chunk_text(values[j], cfg.chunk_size, cfg.min_chunk_chars)):
                texts.append(piece)
                unit_rows.append(int(j))
                unit_chunks.append(c)
        x = (
            embed_texts(embedder, texts, cfg.embed_batch_size, "pool", cache)
            if texts
            else np.zeros((0, dim), np.float32)
        )
        for f in cache.glob("*.arrow"):  # the shard files are the store; drop the datasets cache copy
            f.unlink(missing_ok=True)
    if len(x) and x.shape[1] != dim:
        raise ShapeMismatchError(
            f"pool embeddings have dimension {x.shape[1]} but target embeddings have dimension {dim}: "
            "pool and target must be embedded with the same model"
        )
    pos = np.asarray(unit_rows, dtype=np.int64)
    units = {
        ROW_KEY: ids[pos] if len(pos) else np.zeros(0, np.int64),
        "chunk_idx": np.asarray(unit_chunks, np.int64),
    }
    store.write_shard(
        i, x.reshape(len(pos), dim), units, {ROW_KEY: ids, "row_hash": row_hash, "domain": domains, "kept": kept}
    )


def embed_pool(
    pool: Any,
    store: ShardStore,
    cfg: GotdConfig,
    embedder: Embedder | None,
    *,
    dim: int,
    id_column: str | None,
    kept_domains: set[str] | None = None,
    overwrite: bool = False,
    ctx: ProcessContext | None = None,
) -> int:
    """Embed the shards this process owns that are not finished yet; verify the finished ones it owns.

    A finished shard whose rows differ from the pool given now raises
    [`~hf_datavalue.core.errors.OutputExistsError`], or is recomputed with `overwrite=True`. The progress bar
    counts pool rows. Returns the number of shards of the pool.
    """
    ctx = ctx or process_context()
    total = None if is_iterable(pool) else len(pool)
    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        desc = "Embedding pool" + (f" (rank {ctx.rank}/{ctx.world})" if ctx.distributed else "")
        bar = tqdm(total=total, unit="row", desc=desc, position=ctx.rank)
    n_shards = n_new = 0
    with tempfile.TemporaryDirectory(prefix=".embed-", dir=store.root) as cache:
        for i, start, batch in _shards(pool, cfg, id_column, ctx.owns):
            n_shards = i + 1
            if batch is None or not ctx.owns(i):
                continue
            rows = _shard_rows(batch, start, cfg, id_column, kept_domains)
            if store.has_shard(i):
                try:
                    store.verify_rows(i, rows[0], rows[2], rows[4])
                except OutputExistsError:
                    if not overwrite:
                        raise
                    logger.info("shard %d holds other rows than the pool given now: recomputing it", i)
                    store.drop_shard(i)
            if not store.has_shard(i):
                _embed_shard(i, rows, cfg, embedder, store, dim, Path(cache))
                n_new += 1
            if bar is not None:
                bar.update(len(rows[0]))
    if bar is not None:
        bar.close()
    logger.info("pool: %d shards, %d embedded now by rank %d", n_shards, n_new, ctx.rank)
    return n_shards
