"""GOT-D pre-fine-tuning data selection as a `datasets` transform (specs/gotd.md).

A [`GotdSelector`] is fitted on a candidate pool and a small target sample. It embeds both (or reads an
embedding column), optionally chunks long documents and pre-filters domains, solves one entropic OT problem
between target and pool with the shared OT core, and scores every pool row by its dual potential:
`gotd_score = g - mean(g)`, **lower = select first**. The fitted selector is then a predicate for
`pool.filter(selector, with_indices=True, batched=True)` keeping the k best rows by their stable row id.

Usage:

```python
from hf_datavalue.gotd import GotdConfig, GotdSelector

selector = GotdSelector(GotdConfig(k=20_000, embedder="sentence-transformers/all-MiniLM-L6-v2"))
selector.fit(pool, target, output_dir="outputs/gotd/run1")  # resumable, shard by shard
warmup = pool.filter(selector, with_indices=True, batched=True)  # == selector.select(pool)
selector.scores  # Dataset(row_idx, gotd_score, ...) for inspection
```
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.embeddings import Embedder, TransformersEmbedder, embed_dataset, embedding_matrix, get_embedder
from ..core.errors import (
    ConfigError,
    EmptyDatasetError,
    MissingColumnError,
    NonFiniteError,
    RowKeyMismatchError,
    ShapeMismatchError,
)
from ..core.io import prepare_output_dir, write_json_atomic, write_parquet_atomic
from ..core.ot import PointCloudCost, sinkhorn
from ..core.provenance import ValueProvenance, row_key_fingerprint
from .config import GotdConfig
from .scoring import GotdSolve, pool_potentials, solve_gotd, target_marginal_error, top_k
from .shards import ShardStore
from .text import chunk_text, concat_texts, hash_texts

__all__ = ["GotdSelector", "select"]

logger = logging.getLogger(__name__)

SCORE_COLUMN = "gotd_score"
SCORE_SEMANTICS = "lower = select first"


def _is_iterable(ds: Any) -> bool:
    from datasets import IterableDataset

    return isinstance(ds, IterableDataset)


def _bar(iterable: Any, enabled: bool, **kwargs: Any) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


class GotdSelector:
    """Scores a candidate pool against a target sample with GOT-D and selects the k best rows.

    Args:
        config ([`GotdConfig`], *optional*): settings; defaults to `GotdConfig()`.
        embedder (`str` or [`~hf_datavalue.core.embeddings.Embedder`], *optional*): overrides
            `config.embedder` (e.g. an already loaded model or a custom [`Embedder`]).
        **overrides: fields of [`GotdConfig`] to change.

    After [`fit`], the selector exposes `scores` (a `Dataset` keyed by `row_idx`), `chunk_scores` (one row
    per scored chunk), `provenance`, `solve_info` and `selected_ids(k)`, and is callable as a batched
    `Dataset.filter` predicate.

    Usage:

    ```python
    from datasets import Dataset
    from hf_datavalue.gotd import GotdSelector

    pool = Dataset.from_dict({"text": [...], "domain": [...]})
    target = Dataset.from_dict({"text": [...]})
    selector = GotdSelector(embedder="path/to/all-MiniLM-L6-v2", k=1000, domain_column="domain")
    selector.fit(pool, target)
    selected = pool.filter(selector, with_indices=True, batched=True)
    selector.plot_scores_by_domain("scores_by_domain.png")
    ```
    """

    def __init__(self, config: GotdConfig | None = None, embedder: str | Embedder | None = None, **overrides: Any):
        base = config.to_dict() if config is not None else {}
        base.update(overrides)
        if isinstance(embedder, str):
            base["embedder"] = embedder
        self.config = GotdConfig.from_dict(base) if base else GotdConfig()
        self._embedder: Embedder | None = embedder if isinstance(embedder, Embedder) else None
        self._fitted = False
        self.k_: int | None = self.config.k
        self._keep_cache: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        # `Dataset.filter` fingerprints (and multiprocessing pickles) the predicate: leave the model out
        state = dict(self.__dict__)
        state["_embedder"] = None
        return state

    # ------------------------------------------------------------------------------------------------------
    # embedding
    # ------------------------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder (built from the config on first use)."""
        if self._embedder is None:
            cfg = self.config
            if cfg.embedder.startswith(("st:", "image:")) or cfg.embedder == "pixels":
                self._embedder = get_embedder(cfg.embedder)
            else:
                self._embedder = TransformersEmbedder(
                    cfg.embedder,
                    pooling="unmasked_mean" if cfg.faithful else cfg.pooling,
                    max_length=cfg.max_length,
                    padding="max_length" if cfg.faithful else "longest",
                    normalize=cfg.normalize and not cfg.faithful,
                )
        return self._embedder

    def _embedder_identity(self, info: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.config.embedding_column is not None:
            return info or {"type": "precomputed", "column": self.config.embedding_column}
        return self.embedder.describe()

    def _embed_texts(self, texts: list[str], what: str) -> np.ndarray:
        cfg = self.config
        parts = [
            self.embedder.embed(texts[i : i + cfg.embed_batch_size])
            for i in range(0, len(texts), cfg.embed_batch_size)
        ]
        x = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)
        bad = ~np.isfinite(x).all(axis=1) if len(x) else np.zeros(0, bool)
        if bad.any():
            raise NonFiniteError(
                f"the embedder produced NaN or infinite values for {int(bad.sum())} {what} rows "
                f"(first: {int(np.flatnonzero(bad)[0])})"
            )
        return x

    def _target_matrix(self, target: Any) -> np.ndarray:
        from datasets import Dataset

        cfg = self.config
        if _is_iterable(target):
            raise ConfigError("the target sample must be a map-style datasets.Dataset (it is small)")
        if len(target) == 0:
            raise EmptyDatasetError("the target sample is empty: GOT-D needs at least one target row")
        if cfg.embedding_column is not None:
            return embedding_matrix(target, cfg.embedding_column, what="target dataset")
        if cfg.text_column not in target.column_names:
            raise MissingColumnError("target dataset", cfg.text_column, target.column_names)
        if cfg.target_concat:
            assert cfg.chunk_size is not None
            texts = concat_texts(target[cfg.text_column], cfg.chunk_size)
            logger.info(
                "target: %d texts concatenated into %d pieces of <= %d chars", len(target), len(texts), cfg.chunk_size
            )
            target = Dataset.from_dict({cfg.text_column: texts})
        ds = embed_dataset(
            target, cfg.text_column, self.embedder, output_column="_gotd_embedding", progress=cfg.progress
        )
        return embedding_matrix(ds, "_gotd_embedding", what="target dataset")

    # ------------------------------------------------------------------------------------------------------
    # domain pre-filter
    # ------------------------------------------------------------------------------------------------------
    def _prefilter(self, pool: Any, target_x: np.ndarray) -> tuple[set[str] | None, dict[str, float]]:
        cfg = self.config
        if cfg.prefilter_keep_domains is None:
            return None, {}
        assert cfg.domain_column is not None
        if _is_iterable(pool):
            raise ConfigError("the domain pre-filter needs a map-style Dataset pool (it samples probes per domain)")
        domains = np.asarray([str(d) for d in pool[cfg.domain_column]])
        names = sorted(set(domains.tolist()))
        if cfg.prefilter_keep_domains >= len(names):
            logger.info("pre-filter keeps all %d domains", len(names))
            return set(names), {}
        rng = np.random.default_rng(cfg.seed)
        distances: dict[str, float] = {}
        for name in _bar(names, cfg.progress, desc="Domain pre-filter"):
            members = np.flatnonzero(domains == name)
            probe = np.sort(rng.choice(members, size=min(cfg.prefilter_probe_size, len(members)), replace=False))
            rows = pool.select(probe)
            if cfg.embedding_column is not None:
                x = embedding_matrix(rows, cfg.embedding_column, what=f"pool domain {name!r}")
            else:
                texts = [(chunk_text(t, cfg.chunk_size, 1) or [""])[0] for t in rows[cfg.text_column]]
                x = self._embed_texts(texts, f"pool domain {name!r}")
            if x.shape[1] != target_x.shape[1]:
                raise ShapeMismatchError(
                    f"pool embeddings have dimension {x.shape[1]} but target embeddings have dimension "
                    f"{target_x.shape[1]}: pool and target must be embedded with the same model"
                )
            cost = PointCloudCost(x, target_x, dtype=torch.float64, device=cfg.device)
            result = sinkhorn(cost, eps=cfg.prefilter_eps, eps_mode="absolute", tol=5e-2, max_iter=2000)
            distances[name] = result.value
            logger.info("pre-filter: domain %r (%d probes) OT distance %.4g", name, len(probe), result.value)
        kept = set(sorted(distances, key=lambda d: (distances[d], d))[: cfg.prefilter_keep_domains])
        logger.info("pre-filter keeps domains %s", sorted(kept))
        return kept, distances

    # ------------------------------------------------------------------------------------------------------
    # sharded embedding
    # ------------------------------------------------------------------------------------------------------
    def _pool_batches(
        self, pool: Any, start_shard: int, store: ShardStore
    ) -> Iterator[tuple[int, int, dict[str, list]]]:
        """Yield `(shard index, first position, column batch)` for the shards not finished yet."""
        cfg = self.config
        cols = [
            c
            for c in (
                self.id_column_,
                cfg.text_column if cfg.embedding_column is None else None,
                cfg.embedding_column,
                cfg.domain_column,
            )
            if c is not None
        ]
        if _is_iterable(pool):
            done_rows = store.n_rows_done(start_shard)
            stream = pool.select_columns(cols)
            if done_rows:
                stream = stream.skip(done_rows)
            for i, batch in enumerate(stream.iter(batch_size=cfg.shard_size), start=start_shard):
                yield i, done_rows + (i - start_shard) * cfg.shard_size, batch
            return
        narrow = pool.select_columns(cols)
        for i, s in enumerate(range(0, len(pool), cfg.shard_size)):
            if not store.has_shard(i):
                yield i, s, narrow[s : s + cfg.shard_size]

    def _embed_shard(
        self, i: int, start: int, batch: dict[str, list], kept_domains: set[str] | None, store: ShardStore, dim: int
    ) -> None:
        cfg = self.config
        n = len(next(iter(batch.values())))
        ids = np.asarray(batch[self.id_column_], dtype=np.int64) if self.id_column_ else np.arange(start, start + n)
        values = batch[cfg.embedding_column] if cfg.embedding_column else batch[cfg.text_column]
        row_hash = hash_texts(values)
        domains = [str(d) for d in batch[cfg.domain_column]] if cfg.domain_column else [""] * n
        kept = np.array([kept_domains is None or d in kept_domains for d in domains], dtype=bool)
        unit_rows: list[int] = []
        unit_chunks: list[int] = []
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
            texts: list[str] = []
            for j in np.flatnonzero(kept):
                for c, piece in enumerate(chunk_text(values[j], cfg.chunk_size, cfg.min_chunk_chars)):
                    texts.append(piece)
                    unit_rows.append(int(j))
                    unit_chunks.append(c)
            x = self._embed_texts(texts, "pool") if texts else np.zeros((0, dim), np.float32)
        if len(x) and x.shape[1] != dim:
            raise ShapeMismatchError(
                f"pool embeddings have dimension {x.shape[1]} but target embeddings have dimension {dim}: "
                "pool and target must be embedded with the same model"
            )
        pos = np.asarray(unit_rows, dtype=np.int64)
        units = {
            "row_idx": ids[pos] if len(pos) else np.zeros(0, np.int64),
            "chunk_idx": np.asarray(unit_chunks, dtype=np.int64),
        }
        rows = {"row_idx": ids, "row_hash": row_hash, "domain": domains, "kept": kept}
        store.write_shard(i, x.reshape(len(pos), dim), units, rows)

    # ------------------------------------------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------------------------------------------
    def fit(
        self,
        pool: Any,
        target: Any,
        k: int | None = None,
        output_dir: str | Path | None = None,
        *,
        overwrite: bool = False,
        pool_embedder_info: dict[str, Any] | None = None,
        target_embedder_info: dict[str, Any] | None = None,
    ) -> GotdSelector:
        """Embed, solve and score. Resumes from finished shards when `output_dir` holds an interrupted run.

        Args:
            pool (`datasets.Dataset` or `datasets.IterableDataset`): the candidate pool.
            target (`datasets.Dataset`): the target-task sample (labels are ignored).
            k (`int`, *optional*): the default budget of `select` and of the filter predicate.
            output_dir (`str`, *optional*): run folder for shards, scores, `meta.json` and plots; without it a
                temporary folder is used and removed.
            overwrite (`bool`, *optional*, defaults to `False`): reuse an `output_dir` of a different run.
            pool_embedder_info, target_embedder_info (`dict`, *optional*): identities of the models that made
                precomputed embedding columns (e.g. `Embedder.describe()`); they must match.

        Returns:
            `self`.
        """
        cfg = self.config
        if k is not None:
            if not isinstance(k, (int, np.integer)) or k <= 0:
                raise ConfigError(f"k must be a positive integer, got {k!r}")
            self.k_ = int(k)
        if (
            pool_embedder_info is not None
            and target_embedder_info is not None
            and pool_embedder_info != target_embedder_info
        ):
            raise ShapeMismatchError(
                f"the pool was embedded with {pool_embedder_info} but the target with {target_embedder_info}: "
                "embed both with the same model"
            )
        names = pool.column_names
        if names is not None:
            need = [cfg.embedding_column or cfg.text_column] + ([cfg.domain_column] if cfg.domain_column else [])
            if cfg.id_column:
                need.append(cfg.id_column)
            for col in need:
                if col not in names:
                    raise MissingColumnError("pool dataset", col, names)
        if not _is_iterable(pool) and len(pool) == 0:
            raise EmptyDatasetError("the candidate pool is empty")
        if not _is_iterable(pool) and self.k_ is not None and self.k_ > len(pool):
            raise ConfigError(f"k={self.k_} is larger than the pool ({len(pool)} rows)")
        self.id_column_ = cfg.id_column or ("row_idx" if names is not None and "row_idx" in names else None)

        target_x = self._target_matrix(target)
        kept_domains, distances = self._prefilter(pool, target_x)

        tmp = None
        if output_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="gotd-")
            root = Path(tmp.name)
        else:
            run_config = {
                "config": {k_: v for k_, v in cfg.to_dict().items() if k_ not in ("k", "progress")},
                "embedder": self._embedder_identity(pool_embedder_info),
                "pool_fingerprint": None if _is_iterable(pool) else getattr(pool, "_fingerprint", None),
                "kept_domains": sorted(kept_domains) if kept_domains is not None else None,
            }
            root = prepare_output_dir(output_dir, run_config=run_config, overwrite=overwrite)
        try:
            self._fit_in(root, pool, target_x, kept_domains, distances, pool_embedder_info)
            if output_dir is not None:
                self.save(root)
        finally:
            if tmp is not None:
                tmp.cleanup()
        return self

    def _fit_in(
        self,
        root: Path,
        pool: Any,
        target_x: np.ndarray,
        kept_domains: set[str] | None,
        distances: dict[str, float],
        pool_embedder_info: dict[str, Any] | None,
    ) -> None:
        cfg = self.config
        store = ShardStore(root)
        store.check_embedder(self._embedder_identity(pool_embedder_info))
        dim = target_x.shape[1]
        start = store.finished_prefix() if _is_iterable(pool) else 0
        if start:
            logger.info("resuming: %d finished shards in %s", start, root)
        total = None if _is_iterable(pool) else math.ceil(len(pool) / cfg.shard_size)
        n_written = 0
        for i, s, batch in _bar(
            self._pool_batches(pool, start, store),
            cfg.progress,
            desc="Embedding pool shards",
            total=None if total is None else total - sum(store.has_shard(j) for j in range(total)),
        ):
            self._embed_shard(i, s, batch, kept_domains, store, dim)
            n_written += 1
        n_shards = store.finished_prefix() if total is None else total
        logger.info("pool: %d shards (%d embedded now, %d reused)", n_shards, n_written, n_shards - n_written)

        xs, unit_ids, unit_chunks, row_parts = [], [], [], []
        for i in range(n_shards):
            x, units, rows = store.read_shard(i)
            if x.shape[1] != dim and len(x):
                raise ShapeMismatchError(
                    f"pool embeddings have dimension {x.shape[1]} but target embeddings have dimension {dim}: "
                    "pool and target must be embedded with the same model"
                )
            xs.append(x.reshape(len(x), dim))
            unit_ids.append(units["row_idx"])
            unit_chunks.append(units["chunk_idx"])
            row_parts.append(rows)
        pool_x = np.concatenate(xs) if xs else np.zeros((0, dim), np.float32)
        ids = np.concatenate([r["row_idx"] for r in row_parts]).astype(np.int64)
        if len(ids) == 0:
            raise EmptyDatasetError("the candidate pool is empty")
        if len(np.unique(ids)) != len(ids):
            raise RowKeyMismatchError(f"the pool id column {self.id_column_ or '(positions)'} holds duplicate ids")
        if len(pool_x) == 0:
            raise EmptyDatasetError("no pool row is left to score (all filtered out or empty texts)")
        u_ids = np.concatenate(unit_ids).astype(np.int64)
        u_chunks = np.concatenate(unit_chunks).astype(np.int64)
        if self.k_ is not None and self.k_ > len(ids):
            raise ConfigError(f"k={self.k_} is larger than the pool ({len(ids)} rows)")

        # solve (reused when the same units were solved before)
        unit_fp = row_key_fingerprint(u_ids * 1_000_003 + u_chunks)
        cached = store.read_solve()
        solve: GotdSolve | None = None
        if cached is not None:
            arrays, info = cached
            if (
                info.get("unit_fingerprint") == unit_fp
                and info.get("n_pool") == len(pool_x)
                and arrays["target"].shape == target_x.shape
                and np.array_equal(arrays["target"], target_x)
            ):
                solve = GotdSolve(
                    f=arrays["f"],
                    target=target_x,
                    eps=float(info["eps"]),
                    n_pool=len(pool_x),
                    dtype=str(info["dtype"]),
                    info=info,
                )
                logger.info("resuming: reusing the OT solve in %s", root)
        if solve is None:
            for i in range(n_shards):  # stale scores of another solve
                store.score_path(i).unlink(missing_ok=True)
            solve, _ = solve_gotd(
                pool_x,
                target_x,
                eps=cfg.eps,
                eps_mode=cfg.eps_mode,
                tol=cfg.tol,
                max_iter=cfg.max_iter,
                momentum=cfg.momentum,
                mode=cfg.ot_mode,
                dtype=cfg.dtype,
                block_size=cfg.block_size,
                device=cfg.device,
                seed=cfg.seed,
                progress=cfg.progress,
            )
            solve.info.update({"unit_fingerprint": unit_fp, "dtype": solve.dtype})
            store.write_solve({"f": solve.f, "target": target_x}, solve.info)

        # score shard by shard
        g_parts = []
        lse_total = np.full(len(solve.f), -np.inf)
        offset = 0
        for i in _bar(range(n_shards), cfg.progress, desc="Scoring pool shards"):
            n_units = len(xs[i])
            done = store.read_scores(i)
            if done is not None and len(done[0]["gotd_potential"]) == n_units:
                g, lse = done[0]["gotd_potential"], done[1]
            else:
                g, lse = pool_potentials(solve, xs[i], device=cfg.device)
                store.write_scores(i, {"row_idx": unit_ids[i], "chunk_idx": unit_chunks[i], "gotd_potential": g}, lse)
            g_parts.append(np.asarray(g, dtype=np.float64))
            lse_total = np.logaddexp(lse_total, lse)
            offset += n_units
        g_all = np.concatenate(g_parts)
        solve.info["target_marginal_error"] = target_marginal_error(solve, lse_total)
        solve.info["pool_marginal_error"] = 0.0
        if not solve.info.get("converged", True):
            logger.warning(
                "GOT-D: Sinkhorn did not converge (target marginal error %.3g)", solve.info["target_marginal_error"]
            )

        unit_scores = g_all - g_all.mean()
        self.solve_ = solve
        self.chunk_ids_ = u_ids
        self.chunk_idx_ = u_chunks
        self.chunk_potential_ = g_all
        self.chunk_score_ = unit_scores
        self.row_ids_ = ids
        self.row_hash_ = np.concatenate([r["row_hash"] for r in row_parts]).astype(np.int64)
        self.row_domain_ = np.concatenate([np.asarray(r["domain"], dtype=object) for r in row_parts])
        self.row_kept_ = np.concatenate([r["kept"] for r in row_parts]).astype(bool)
        self.row_score_, self.row_n_chunks_ = self._aggregate(ids, u_ids, unit_scores)
        self.prefilter_distances_ = distances
        self._order = np.argsort(ids, kind="stable")
        self._keep_cache = {}
        self._fitted = True
        self.provenance = ValueProvenance(
            method="gotd",
            score_column=SCORE_COLUMN,
            score_semantics=SCORE_SEMANTICS,
            n_rows=len(ids),
            row_fingerprint=row_key_fingerprint(ids),
            params=cfg.to_dict(),
            row_key="row_idx",
            source_fingerprint=None if _is_iterable(pool) else getattr(pool, "_fingerprint", None),
            validation={"name": "target", "n_rows": int(len(target_x))},
            embedder=self._embedder_identity(pool_embedder_info),
            extra={
                "solve": {k: v for k, v in solve.info.items() if k != "unit_fingerprint"},
                "n_units": int(len(g_all)),
                "id_column": self.id_column_,
                "prefilter_distances": distances,
                "kept_domains": sorted(set(self.row_domain_[self.row_kept_].tolist())) if distances else None,
                "calibration": "gotd_score = g - mean(g); ranks exactly as raw g and as the reference/LAVA calibrations",
            },
        )

    def score(self, pool: Any, target: Any, **fit_kwargs: Any) -> Any:
        """Fit on `(pool, target)` and return [`scores`]: `row_idx` and `gotd_score` (lower = select first).

        Args:
            pool, target: see [`fit`].
            **fit_kwargs: `k`, `output_dir`, ... passed to [`fit`].
        """
        return self.fit(pool, target, **fit_kwargs).scores

    def _aggregate(self, ids: np.ndarray, u_ids: np.ndarray, unit_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(ids, kind="stable")
        pos = order[np.searchsorted(ids, u_ids, sorter=order)]
        counts = np.bincount(pos, minlength=len(ids))
        if self.config.chunk_aggregate == "min":
            agg = np.full(len(ids), np.inf)
            np.minimum.at(agg, pos, unit_scores)
        else:
            agg = np.bincount(pos, weights=unit_scores, minlength=len(ids)) / np.maximum(counts, 1)
        agg[counts == 0] = np.nan
        return agg, counts

    # ------------------------------------------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self._fitted:
            raise ConfigError("the GotdSelector is not fitted: call fit(pool, target) first")

    @property
    def solve_info(self) -> dict[str, Any]:
        """OT value, epsilon, iterations, both marginal errors, convergence and timings."""
        self._check_fitted()
        return dict(self.solve_.info)

    @property
    def scores(self) -> Any:
        """A `Dataset` with one row per pool row: `row_idx`, `gotd_score` (lower = select first; NaN when the
        row was pre-filtered out or had no text), `n_chunks`, `domain`, `kept`."""
        from datasets import Dataset

        self._check_fitted()
        data: dict[str, Any] = {
            "row_idx": self.row_ids_,
            SCORE_COLUMN: self.row_score_,
            "n_chunks": self.row_n_chunks_,
        }
        if self.config.domain_column:
            data["domain"] = self.row_domain_.astype(str).tolist()
        data["kept"] = self.row_kept_
        return Dataset.from_dict(data)

    @property
    def chunk_scores(self) -> Any:
        """A `Dataset` with one row per scored unit (chunk): `row_idx`, `chunk_idx`, `gotd_potential` (raw g)
        and `gotd_score` (g - mean g)."""
        from datasets import Dataset

        self._check_fitted()
        return Dataset.from_dict(
            {
                "row_idx": self.chunk_ids_,
                "chunk_idx": self.chunk_idx_,
                "gotd_potential": self.chunk_potential_,
                SCORE_COLUMN: self.chunk_score_,
            }
        )

    def _resolve_k(self, k: int | None) -> int:
        k = self.k_ if k is None else k
        if k is None:
            raise ConfigError("no budget: pass k to select()/fit() or set GotdConfig.k")
        if not isinstance(k, (int, np.integer)) or k <= 0:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        if k > len(self.row_ids_):
            raise ConfigError(f"k={k} is larger than the pool ({len(self.row_ids_)} rows)")
        return int(k)

    def selected_ids(self, k: int | None = None) -> np.ndarray:
        """The row ids of the `k` best rows, best first (ties broken by row id)."""
        self._check_fitted()
        k = self._resolve_k(k)
        return top_k(self.row_score_, k, self.row_ids_)

    def _lookup(self, ids: np.ndarray) -> np.ndarray:
        """Positions of `ids` in the fitted row arrays; unknown ids raise [`RowKeyMismatchError`]."""
        sorted_ids = self.row_ids_[self._order]
        idx = np.searchsorted(sorted_ids, ids)
        idx = np.clip(idx, 0, len(sorted_ids) - 1)
        bad = sorted_ids[idx] != ids
        if bad.any():
            raise RowKeyMismatchError(
                f"{int(bad.sum())} rows have ids unknown to the fitted selector (first: {int(ids[bad][0])}): "
                "the filter is applied to a dataset other than the one fitted"
            )
        return self._order[idx]

    def _check_hashes(self, ids: np.ndarray, values: Any) -> None:
        got = hash_texts(values)
        want = self.row_hash_[self._lookup(ids)]
        bad = got != want
        if bad.any():
            raise RowKeyMismatchError(
                f"{int(bad.sum())} rows differ from the rows fitted under the same id (first id: {int(ids[bad][0])}): "
                "the filter is applied to a dataset other than the one fitted (or a reordered pool without an "
                "id column; add a `row_idx` column before shuffling)"
            )

    def predicate(self, k: int | None = None) -> Any:
        """A batched `filter` predicate `(batch, indices) -> list[bool]` keeping the `k` best rows."""
        self._check_fitted()
        k = self._resolve_k(k)
        if k not in self._keep_cache:
            self._keep_cache = {k: np.sort(self.selected_ids(k))}
        keep = self._keep_cache[k]
        cfg = self.config
        id_col = self.id_column_
        check_col = cfg.embedding_column or cfg.text_column

        def _predicate(batch: dict[str, list], indices: list[int] | int) -> list[bool] | bool:
            single = isinstance(indices, (int, np.integer))
            if single:
                batch = {key: [v] for key, v in batch.items()}
                indices = [int(indices)]  # type: ignore[arg-type]
            if id_col is not None:
                if id_col not in batch:
                    raise MissingColumnError("filtered dataset", id_col, list(batch))
                ids = np.asarray(batch[id_col], dtype=np.int64)
            else:
                ids = np.asarray(indices, dtype=np.int64)
            if check_col in batch:
                self._check_hashes(ids, batch[check_col])
            else:
                self._lookup(ids)
            pos = np.searchsorted(keep, ids)
            hit = (pos < len(keep)) & (keep[np.minimum(pos, len(keep) - 1)] == ids)
            return bool(hit[0]) if single else hit.tolist()

        return _predicate

    def __call__(self, batch: dict[str, list], indices: list[int] | int) -> list[bool] | bool:
        """`pool.filter(selector, with_indices=True, batched=True)` keeps the `k` best rows (k of fit/config)."""
        return self.predicate()(batch, indices)

    def select(self, pool: Any, k: int | None = None) -> Any:
        """The `k` best rows of `pool`, in pool order (exactly what the filter keeps), matched by row id.

        Args:
            pool (`datasets.Dataset` or `datasets.IterableDataset`): the fitted pool, possibly reordered when it
                carries its id column.
            k (`int`, *optional*): the budget (defaults to the one given to `fit` or the config).

        Returns:
            `datasets.Dataset` (or a filtered `IterableDataset`).
        """
        self._check_fitted()
        if _is_iterable(pool):
            return pool.filter(self.predicate(k), with_indices=True, batched=True)
        chosen = np.sort(self.selected_ids(k))
        if self.id_column_ is not None:
            if self.id_column_ not in pool.column_names:
                raise MissingColumnError("pool dataset", self.id_column_, pool.column_names)
            pool_ids = np.asarray(pool[self.id_column_], dtype=np.int64)
        else:
            pool_ids = np.arange(len(pool), dtype=np.int64)
        self._lookup(pool_ids)
        positions = np.flatnonzero(np.isin(pool_ids, chosen))
        if len(positions) != len(chosen):
            raise RowKeyMismatchError(
                f"{len(chosen) - len(positions)} selected row ids are missing from this pool: it is not the fitted pool"
            )
        out = pool.select(positions)
        check_col = self.config.embedding_column or self.config.text_column
        if check_col in out.column_names:
            self._check_hashes(pool_ids[positions], out[check_col])
        return out

    def select_chunks(self, pool: Any, k: int) -> Any:
        """The `k` best chunks as a new `Dataset` (`row_idx`, `chunk_idx`, text, `gotd_score`), best first.

        Use it with `chunk_size`: the pre-fine-tuning data of the paper are chunks, not whole documents.
        """
        from datasets import Dataset

        self._check_fitted()
        cfg = self.config
        if cfg.embedding_column is not None:
            raise ConfigError("select_chunks needs text (it rebuilds chunks); use select() with embedding columns")
        unit_keys = self.chunk_ids_ * 1_000_003 + self.chunk_idx_
        best = top_k(self.chunk_score_, k, unit_keys)
        order = {int(u): r for r, u in enumerate(best)}
        pool_ids = (
            np.asarray(pool[self.id_column_], dtype=np.int64)
            if self.id_column_ is not None
            else np.arange(len(pool), dtype=np.int64)
        )
        want = np.unique(best // 1_000_003)
        positions = np.flatnonzero(np.isin(pool_ids, want))
        sub = pool.select(positions)
        texts = sub[cfg.text_column]
        self._check_hashes(pool_ids[positions], texts)
        score_of = dict(zip(unit_keys.tolist(), self.chunk_score_.tolist()))
        rows: list[tuple[int, int, int, str, float]] = []
        for rid, text in zip(pool_ids[positions].tolist(), texts):
            for c, piece in enumerate(chunk_text(text, cfg.chunk_size, cfg.min_chunk_chars)):
                key = rid * 1_000_003 + c
                if key in order:
                    rows.append((order[key], rid, c, piece, score_of[key]))
        rows.sort()
        return Dataset.from_dict(
            {
                "row_idx": [r[1] for r in rows],
                "chunk_idx": [r[2] for r in rows],
                cfg.text_column: [r[3] for r in rows],
                SCORE_COLUMN: [r[4] for r in rows],
            }
        )

    def score_embeddings(self, x: np.ndarray) -> np.ndarray:
        """Scores (same centring as the fitted pool) of new embedded rows, from the fitted target potentials."""
        self._check_fitted()
        g, _ = pool_potentials(self.solve_, np.asarray(x, dtype=np.float32), device=self.config.device)
        return g - float(self.chunk_potential_.mean())

    # ------------------------------------------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------------------------------------------
    def save(self, output_dir: str | Path) -> Path:
        """Write `scores.parquet` (with provenance in its schema metadata), `chunk_scores.parquet`,
        `config.json`, `meta.json` and, with a domain column, `scores_by_domain.png`."""
        self._check_fitted()
        out = Path(output_dir)
        meta = self.provenance.to_dict()
        write_parquet_atomic(out / "scores.parquet", self.scores.data.table, metadata=meta)
        write_parquet_atomic(out / "chunk_scores.parquet", self.chunk_scores.data.table, metadata=meta)
        write_json_atomic(out / "config.json", self.config.to_dict())
        write_json_atomic(out / "meta.json", meta)
        if self.config.domain_column:
            self.plot_scores_by_domain(out / "scores_by_domain.png")
        return out

    def plot_scores_by_domain(self, path: str | Path | None = None, k: int | None = None) -> Any:
        """Histograms of `gotd_score` per domain, with the k-th best score as a vertical line.

        Returns the matplotlib figure (saved to `path` when given).
        """
        self._check_fitted()
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        scores = self.row_score_
        domains = self.row_domain_.astype(str) if self.config.domain_column else np.full(len(scores), "pool")
        ok = np.isfinite(scores)
        fig, ax = plt.subplots(figsize=(7, 4))
        bins: Any = np.linspace(np.min(scores[ok]), np.max(scores[ok]), 60) if ok.any() else 10
        for name in sorted(set(domains[ok].tolist())):
            ax.hist(
                scores[ok & (domains == name)],
                bins=bins,
                alpha=0.5,
                label=f"{name} ({int((ok & (domains == name)).sum())})",
            )
        kk = k if k is not None else self.k_
        if kk is not None and ok.any() and kk <= ok.sum():
            ax.axvline(np.sort(scores[ok])[kk - 1], color="k", linestyle="--", label=f"k = {kk}")
        ax.set_xlabel("gotd_score (lower = select first)")
        ax.set_ylabel("rows")
        ax.set_title("GOT-D scores by domain")
        ax.legend(fontsize=7)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return fig


def select(pool: Any, target: Any, k: int, config: GotdConfig | None = None, **kwargs: Any) -> Any:
    """One call: fit a [`GotdSelector`] on `(pool, target)` and return the `k` best pool rows.

    Args:
        pool (`datasets.Dataset`): the candidate pool.
        target (`datasets.Dataset`): the target sample.
        k (`int`): how many rows to keep.
        config ([`GotdConfig`], *optional*): settings; `**kwargs` override its fields (`embedder=...`,
            `output_dir` is passed to `fit`).

    Usage:

    ```python
    from hf_datavalue.gotd import select

    warmup = select(pool, target, k=20_000, embedder="sentence-transformers/all-MiniLM-L6-v2")
    ```
    """
    output_dir = kwargs.pop("output_dir", None)
    embedder = kwargs.pop("embedder", None)
    selector = GotdSelector(config, embedder=embedder, **kwargs)
    selector.fit(pool, target, k=k, output_dir=output_dir)
    return selector.select(pool, k)
