"""GOT-D pre-fine-tuning data selection as a `datasets` transform (specs/gotd.md).

A [`GotdSelector`] is fitted on a candidate pool and a small target sample. It embeds both (or reads an
embedding column), optionally chunks long documents and pre-filters domains, solves one entropic OT problem
between target and pool with the shared OT core, and scores every pool row by its dual potential:
`gotd_score = g - mean(g)`, **lower = select first** (a [`GotdResult`]). The fitted selector is then a
predicate for `pool.filter(selector, with_indices=True, batched=True)` keeping the k best rows by their stable
row id.

The same code runs in one process and under `accelerate launch` (see [`~hf_datavalue.gotd.pipeline`]): the pool
shards are embedded and scored by the process that owns them, the solve runs once on rank 0, and every process
ends with the same result; only rank 0 writes the shared outputs.

Usage:

```python
from hf_datavalue.gotd import GotdConfig, GotdSelector

selector = GotdSelector(GotdConfig(k=20_000, embedder="sentence-transformers/all-MiniLM-L6-v2"))
selector.fit(pool, target, output_dir="outputs/gotd/run1")  # resumable, shard by shard
warmup = pool.filter(selector, with_indices=True, batched=True)  # == selector.select(pool)
selector.result.to_dataset()  # Dataset(row_idx, gotd_score, ...) for inspection
```
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core.distributed import process_context, resolve_device
from ..core.embeddings import Embedder
from ..core.errors import ConfigError, EmptyDatasetError, MissingColumnError, RowKeyMismatchError, ShapeMismatchError
from ..core.provenance import ValueProvenance
from ..core.rows import ROW_KEY
from .config import GotdConfig
from .embedding import build_embedder, is_iterable, pool_columns, target_matrix
from .pipeline import run_gotd
from .prefilter import domain_prefilter
from .result import SCORE_COLUMN, GotdResult
from .run_folder import open_run_folder, run_config_of
from .scoring import GotdSolve, pool_potentials, top_k
from .shards import content_fingerprint
from .text import chunk_text, hash_texts

__all__ = ["GotdSelector", "select"]

logger = logging.getLogger(__name__)


def _data_identity(pool: Any, target: Any, cfg: GotdConfig, id_column: str | None) -> dict[str, Any]:
    """A cheap identity of the data every process was given: sizes, columns, hashes of the first rows."""
    col = cfg.embedding_column or cfg.text_column
    head = pool.select_columns(pool_columns(cfg, id_column))
    first = list(head.take(min(cfg.shard_size, 1000))) if is_iterable(pool) else head[: min(cfg.shard_size, 1000)]
    if isinstance(first, list):
        first = {c: [r[c] for r in first] for c in pool_columns(cfg, id_column)}
    return {
        "pool_rows": None if is_iterable(pool) else len(pool),
        "pool_columns": pool.column_names,
        "pool_head": content_fingerprint(*(hash_texts(first[c]) for c in sorted(first))),
        "target": content_fingerprint(hash_texts(target[col])) if col in target.column_names else None,
    }


class GotdSelector:
    """Scores a candidate pool against a target sample with GOT-D and selects the k best rows.

    Args:
        config ([`GotdConfig`], *optional*): settings; defaults to `GotdConfig()`.
        embedder (`str` or [`~hf_datavalue.core.embeddings.Embedder`], *optional*): overrides
            `config.embedder` (e.g. an already loaded model or a custom [`Embedder`]).
        **overrides: fields of [`GotdConfig`] to change.

    After [`fit`], the selector exposes `result` (a [`GotdResult`]), `scores` (its `Dataset`), `chunk_scores`,
    `provenance`, `solve_info` and `selected_ids(k)`, and is callable as a batched `Dataset.filter` predicate.

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
        self._result: GotdResult | None = None
        self.k_: int | None = self.config.k
        self.id_column_: str | None = None
        self.prefilter_distances_: dict[str, float] = {}
        self._keep_cache: dict[int, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        # `Dataset.filter` fingerprints (and multiprocessing pickles) the predicate: leave the model out
        state = dict(self.__dict__)
        state["_embedder"] = None
        return state

    @property
    def embedder(self) -> Embedder:
        """The embedder (built from the config on first use)."""
        if self._embedder is None:
            self._embedder = build_embedder(self.config)
        return self._embedder

    # ------------------------------------------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------------------------------------------
    def _check_inputs(self, pool: Any, k: int | None) -> None:
        cfg = self.config
        if k is not None:
            if not isinstance(k, (int, np.integer)) or k <= 0:
                raise ConfigError(f"k must be a positive integer, got {k!r}")
            self.k_ = int(k)
        names = pool.column_names
        if names is not None:
            need = [cfg.embedding_column or cfg.text_column] + ([cfg.domain_column] if cfg.domain_column else [])
            if cfg.id_column:
                need.append(cfg.id_column)
            for col in need:
                if col not in names:
                    raise MissingColumnError("pool dataset", col, names)
        if not is_iterable(pool) and len(pool) == 0:
            raise EmptyDatasetError("the candidate pool is empty")
        if not is_iterable(pool) and self.k_ is not None and self.k_ > len(pool):
            raise ConfigError(f"k={self.k_} is larger than the pool ({len(pool)} rows)")
        self.id_column_ = cfg.id_column or (ROW_KEY if names is not None and ROW_KEY in names else None)

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

        Under `accelerate launch` every process calls `fit` with the same arguments; each embeds and scores its
        own pool shards, rank 0 solves and writes, and every process ends with the same result.

        Args:
            pool (`datasets.Dataset` or `datasets.IterableDataset`): the candidate pool.
            target (`datasets.Dataset`): the target-task sample (labels are ignored).
            k (`int`, *optional*): the default budget of `select` and of the filter predicate.
            output_dir (`str`, *optional*): run folder for shards, scores, `meta.json` and plots; without it a
                temporary folder is used and removed.
            overwrite (`bool`, *optional*, defaults to `False`): a folder holding another run (another config, or
                shards of other pool rows) raises [`~hf_datavalue.core.errors.OutputExistsError`]; with
                `overwrite=True` what differs is recomputed from scratch.
            pool_embedder_info, target_embedder_info (`dict`, *optional*): identities of the models that made
                precomputed embedding columns (e.g. `Embedder.describe()`); they must match.

        Returns:
            `self`.
        """
        cfg = self.config
        ctx = process_context()
        self._check_inputs(pool, k)
        if pool_embedder_info is not None and target_embedder_info not in (None, pool_embedder_info):
            raise ShapeMismatchError(
                f"the pool was embedded with {pool_embedder_info} but the target with {target_embedder_info}: "
                "embed both with the same model"
            )
        ctx.check_same("GOT-D config and budget", (cfg.to_json(), self.k_, overwrite, output_dir is None))
        embedder = None if cfg.embedding_column is not None else self.embedder
        identity = (
            embedder.describe()
            if embedder is not None
            else (pool_embedder_info or {"type": "precomputed", "column": cfg.embedding_column})
        )
        ctx.check_same("embedder", identity)
        t0 = time.perf_counter()
        target_x = ctx.on_main(target_matrix, target, cfg, embedder)
        target_s = time.perf_counter() - t0
        if ctx.distributed:
            ctx.check_same("pool and target data", _data_identity(pool, target, cfg, self.id_column_))
        kept, distances = ctx.on_main(domain_prefilter, pool, target_x, cfg, embedder)
        run_config = run_config_of(cfg.to_dict(), identity, kept)
        tmp = ctx.on_main(lambda: tempfile.mkdtemp(prefix="gotd-")) if output_dir is None else None
        try:
            root = Path(tmp) if tmp else open_run_folder(output_dir, run_config, overwrite, ctx)  # type: ignore[arg-type]
            extra = {
                "prefilter_distances": distances,
                "kept_domains": sorted(kept) if distances and kept is not None else None,
                "target_embed_s": target_s,
            }
            result, solve = run_gotd(
                root, pool, target_x, dataclasses.replace(cfg, k=self.k_), embedder, id_column=self.id_column_,
                embedder_identity=identity, kept_domains=kept, overwrite=overwrite,
                run_key=content_fingerprint(np.frombuffer(str(run_config).encode(), np.uint8)), extra=extra, ctx=ctx,
            )  # fmt: skip
            self._result, self.solve_ = result, solve
            self.prefilter_distances_ = distances
            self._order = np.argsort(result.row_idx, kind="stable")
            self._keep_cache = {}
            if output_dir is not None and ctx.is_main:
                result.save(root, overwrite=True)
            ctx.barrier()
        finally:
            if tmp is not None:
                ctx.barrier()
                if ctx.is_main:
                    shutil.rmtree(tmp, ignore_errors=True)
        return self

    def compute(self, pool: Any, target: Any, **fit_kwargs: Any) -> GotdResult:
        """Fit on `(pool, target)` and return the [`GotdResult`] (the method contract's entry point)."""
        return self.fit(pool, target, **fit_kwargs).result

    def score(self, pool: Any, target: Any, **fit_kwargs: Any) -> Any:
        """Fit on `(pool, target)` and return [`scores`]: `row_idx` and `gotd_score` (lower = select first).

        Args:
            pool, target: see [`fit`].
            **fit_kwargs: `k`, `output_dir`, ... passed to [`fit`].
        """
        return self.fit(pool, target, **fit_kwargs).scores

    # ------------------------------------------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------------------------------------------
    @property
    def result(self) -> GotdResult:
        """The [`GotdResult`] of the last [`fit`]."""
        if self._result is None:
            raise ConfigError("the GotdSelector is not fitted: call fit(pool, target) first")
        return self._result

    def _check_fitted(self) -> None:
        self.result  # noqa: B018 - raises when not fitted

    @property
    def provenance(self) -> ValueProvenance:
        return self.result.provenance

    @property
    def solve_info(self) -> dict[str, Any]:
        """OT value, epsilon, iterations, both marginal errors, convergence and timings."""
        return self.result.solve_info

    @property
    def scores(self) -> Any:
        """A `Dataset` with one row per pool row: `row_idx`, `gotd_score` (lower = select first; NaN when the
        row was pre-filtered out or had no text), `n_chunks`, `domain`, `kept`."""
        return self.result.to_dataset()

    @property
    def chunk_scores(self) -> Any:
        """A `Dataset` with one row per scored unit (chunk): `row_idx`, `chunk_idx`, `gotd_potential` (raw g)
        and `gotd_score` (g - mean g)."""
        return self.result.chunk_dataset()

    @property
    def row_ids_(self) -> np.ndarray:
        return self.result.row_idx

    @property
    def row_score_(self) -> np.ndarray:
        return self.result.score

    @property
    def row_hash_(self) -> np.ndarray:
        return self.result.row_hash

    def _resolve_k(self, k: int | None) -> int:
        return self.result.resolve_k(self.k_ if k is None else k)

    def selected_ids(self, k: int | None = None) -> np.ndarray:
        """The row ids of the `k` best rows, best first (ties broken by row id)."""
        return top_k(self.row_score_, self._resolve_k(k), self.row_ids_)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Positions of row keys `ids` in the result's row arrays; unknown ids raise [`RowKeyMismatchError`]."""
        return self._lookup(np.asarray(ids, dtype=np.int64))

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
        if is_iterable(pool):
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
        unit_keys = self.result.chunk_row_idx * 1_000_003 + self.result.chunk_idx
        best = top_k(self.result.chunk_score, k, unit_keys)
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
        score_of = dict(zip(unit_keys.tolist(), self.result.chunk_score.tolist()))
        rows: list[tuple[int, int, int, str, float]] = []
        for rid, text in zip(pool_ids[positions].tolist(), texts):
            for c, piece in enumerate(chunk_text(text, cfg.chunk_size, cfg.min_chunk_chars)):
                key = rid * 1_000_003 + c
                if key in order:
                    rows.append((order[key], rid, c, piece, score_of[key]))
        rows.sort()
        return Dataset.from_dict(
            {
                ROW_KEY: [r[1] for r in rows],
                "chunk_idx": [r[2] for r in rows],
                cfg.text_column: [r[3] for r in rows],
                SCORE_COLUMN: [r[4] for r in rows],
            }
        )

    def score_embeddings(self, x: np.ndarray) -> np.ndarray:
        """Scores (same centring as the fitted pool) of new embedded rows, from the fitted target potentials."""
        self._check_fitted()
        solve: GotdSolve = self.solve_
        g, _ = pool_potentials(solve, np.asarray(x, dtype=np.float32), device=resolve_device(self.config.device))
        return g - float(self.result.chunk_potential.mean())

    def save(self, output_dir: str | Path, overwrite: bool = True) -> Path:
        """Write the result ([`GotdResult.save`]): scores, chunk scores, config, meta and the domain plot."""
        return self.result.save(output_dir, overwrite=overwrite)

    def plot_scores_by_domain(self, path: str | Path | None = None, k: int | None = None) -> Any:
        """Histograms of `gotd_score` per domain, with the k-th best score as a vertical line.

        Returns the matplotlib figure (saved to `path` when given).
        """
        return self.result.plot_scores_by_domain(path, k if k is not None else self.k_)


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
