"""One GOT-D run inside its run folder: sharded embedding, one solve, sharded scoring, the gathered result.

Under `accelerate launch` with N processes:

1. each process embeds the pool shards it owns (`shard % N == rank`) into the shared run folder;
2. rank 0 reads every shard and solves the entropic OT problem once (or reuses the stored solve of the same
   config, target and shard contents) and broadcasts the target potentials;
3. each process scores its own shards against them (the soft c-transform) and writes the score shards;
4. the per-shard scores are gathered in shard order (keyed by `row_idx`), so every process holds the same
   result as one process would, and rank 0 writes the outputs.

Usage:

```python
from hf_datavalue.gotd.pipeline import run_gotd

result = run_gotd(root, pool, target_x, config, embedder, id_column="row_idx")
```
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core.distributed import ProcessContext, process_context, resolve_device
from ..core.embeddings import Embedder
from ..core.errors import ConfigError, DataValueError, EmptyDatasetError, RowKeyMismatchError, ShapeMismatchError
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY
from .config import GotdConfig
from .embedding import embed_pool, is_iterable
from .result import SCORE_COLUMN, SCORE_SEMANTICS, GotdResult
from .scoring import GotdSolve, pool_potentials, solve_gotd, target_marginal_error
from .shards import ShardStore, content_fingerprint

__all__ = ["aggregate_chunks", "run_gotd"]

logger = logging.getLogger(__name__)


def aggregate_chunks(ids: np.ndarray, u_ids: np.ndarray, unit_scores: np.ndarray, how: str) -> tuple[Any, Any]:
    """Row scores from unit (chunk) scores: `(score per row, chunks per row)`; rows without units get NaN."""
    order = np.argsort(ids, kind="stable")
    pos = order[np.searchsorted(ids, u_ids, sorter=order)]
    counts = np.bincount(pos, minlength=len(ids))
    if how == "min":
        agg = np.full(len(ids), np.inf)
        np.minimum.at(agg, pos, unit_scores)
    else:
        agg = np.bincount(pos, weights=unit_scores, minlength=len(ids)) / np.maximum(counts, 1)
    agg[counts == 0] = np.nan
    return agg, counts


def _solve(
    store: ShardStore, n_shards: int, target_x: np.ndarray, cfg: GotdConfig, key: str, device: str
) -> GotdSolve:
    """Rank 0: reuse the stored solve of the same key, or solve over every shard and store it."""
    cached = store.read_solve()
    if cached is not None:
        arrays, info = cached
        if info.get("solve_key") == key and np.array_equal(arrays["target"], target_x):
            logger.info("reusing the OT solve in %s", store.root)
            return GotdSolve(arrays["f"], target_x, float(info["eps"]), int(info["n_pool"]), str(info["dtype"]), info)
    for i in range(n_shards):  # stale scores of another solve
        store.score_path(i).unlink(missing_ok=True)
    pool_x = np.concatenate([store.read_shard(i)[0].reshape(-1, target_x.shape[1]) for i in range(n_shards)])
    solve, _ = solve_gotd(
        pool_x,
        target_x,
        dtype=cfg.dtype,
        device=device,
        progress=cfg.progress,
        **cfg.ot_kwargs(),
    )
    solve.info.update({"solve_key": key, "dtype": solve.dtype})
    store.write_solve({"f": solve.f, "target": target_x}, solve.info)
    return solve


def _score_shard(store: ShardStore, i: int, solve: GotdSolve, device: str) -> tuple[np.ndarray, np.ndarray]:
    x, units, _ = store.read_shard(i)
    done = store.read_scores(i)
    if done is not None and len(done[0]["gotd_potential"]) == len(x):
        return np.asarray(done[0]["gotd_potential"], dtype=np.float64), done[1]
    if len(x) == 0:
        g, lse = np.zeros(0), np.full(len(solve.f), -np.inf)
    else:
        g, lse = pool_potentials(solve, x, device=device)
    store.write_scores(i, {ROW_KEY: units[ROW_KEY], "chunk_idx": units["chunk_idx"], "gotd_potential": g}, lse)
    return g, lse


def run_gotd(
    root: Path,
    pool: Any,
    target_x: np.ndarray,
    cfg: GotdConfig,
    embedder: Embedder | None,
    *,
    id_column: str | None,
    embedder_identity: dict[str, Any],
    kept_domains: set[str] | None = None,
    overwrite: bool = False,
    run_key: str = "",
    extra: dict[str, Any] | None = None,
    ctx: ProcessContext | None = None,
) -> tuple[GotdResult, GotdSolve]:
    """Embed, solve, score and gather one GOT-D run in `root` (resumable; rank-aware).

    `embedder_identity` is checked against the shards already in `root`; `run_key` (the run config) joins the
    solve's reuse key; `extra` goes into the provenance.

    Returns:
        `(result, solve)`: the same on every process.
    """
    ctx = ctx or process_context()
    device = resolve_device(cfg.device, ctx)
    store = ShardStore(root)
    dim = target_x.shape[1]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    err: BaseException | None = None
    n_shards = 0
    try:
        store.check_embedder(embedder_identity)
        n_shards = embed_pool(
            pool, store, cfg, embedder, dim=dim, id_column=id_column, kept_domains=kept_domains,
            overwrite=overwrite, ctx=ctx,
        )  # fmt: skip
    except DataValueError as e:
        err = e
    timings["embed"] = time.perf_counter() - t0
    ctx.raise_any(err)  # an input error on any rank stops every rank
    timings["embed_wait"] = time.perf_counter() - t0 - timings["embed"]

    rows = [store.read_rows(i) for i in range(n_shards)]
    units = [store.read_units(i) for i in range(n_shards)]
    ids = np.concatenate([r[ROW_KEY] for r in rows]).astype(np.int64) if rows else np.zeros(0, np.int64)
    if len(ids) == 0:
        raise EmptyDatasetError("the candidate pool is empty")
    if len(np.unique(ids)) != len(ids):
        raise RowKeyMismatchError(f"the pool id column {id_column or '(positions)'} holds duplicate ids")
    u_ids = np.concatenate([u[ROW_KEY] for u in units]).astype(np.int64)
    u_chunks = np.concatenate([u["chunk_idx"] for u in units]).astype(np.int64)
    if len(u_ids) == 0:
        raise EmptyDatasetError("no pool row is left to score (all filtered out or empty texts)")
    if cfg.k is not None and cfg.k > len(ids):
        raise ConfigError(f"k={cfg.k} is larger than the pool ({len(ids)} rows)")
    row_hash = np.concatenate([r["row_hash"] for r in rows]).astype(np.int64)
    kept = np.concatenate([r["kept"] for r in rows]).astype(bool)

    t1 = time.perf_counter()
    key = content_fingerprint(u_ids, u_chunks, ids, row_hash, kept, target_x) + "|" + run_key
    solve = ctx.on_main(_solve, store, n_shards, target_x, cfg, key, device)
    timings["solve"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    mine = {i: _score_shard(store, i, solve, device) for i in range(n_shards) if ctx.owns(i)}
    timings["score"] = time.perf_counter() - t2
    parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    per_rank = ctx.gather((mine, timings))
    for part, _ in per_rank:
        parts.update(part)
    if sorted(parts) != list(range(n_shards)):
        raise ShapeMismatchError(f"score shards missing after the gather: {sorted(set(range(n_shards)) - set(parts))}")
    g_all = np.concatenate([parts[i][0] for i in range(n_shards)])
    if len(g_all) != len(u_ids):
        raise RowKeyMismatchError(f"{len(g_all)} scores for {len(u_ids)} units: delete the run's scores/ and resume")
    lse_total = np.full(len(solve.f), -np.inf)
    for i in range(n_shards):
        lse_total = np.logaddexp(lse_total, parts[i][1])
    solve.info["target_marginal_error"] = target_marginal_error(solve, lse_total)
    solve.info["pool_marginal_error"] = 0.0
    if not solve.info.get("converged", True):
        logger.warning(
            "GOT-D: Sinkhorn did not converge (target marginal error %.3g)", solve.info["target_marginal_error"]
        )

    unit_scores = g_all - g_all.mean()
    score, n_chunks = aggregate_chunks(ids, u_ids, unit_scores, cfg.chunk_aggregate)
    domain = np.concatenate([np.asarray(r["domain"], dtype=object) for r in rows]) if cfg.domain_column else None
    provenance = ValueProvenance(
        method="gotd",
        score_column=SCORE_COLUMN,
        score_semantics=SCORE_SEMANTICS,
        n_rows=len(ids),
        row_fingerprint=row_key_fingerprint(ids),
        params=cfg.to_dict(),
        row_key=ROW_KEY,
        source_fingerprint=None if is_iterable(pool) else getattr(pool, "_fingerprint", None),
        validation={"name": "target", "n_rows": int(len(target_x))},
        embedder=embedder_identity,
        extra={
            "solve": {k: v for k, v in solve.info.items() if k != "solve_key"},
            "n_units": int(len(g_all)),
            "id_column": id_column,
            "n_processes": ctx.world,
            "n_shards": n_shards,
            "timings_per_rank": [t for _, t in per_rank],
            **(extra or {}),
            "calibration": "gotd_score = g - mean(g); ranks exactly as raw g and as the reference/LAVA calibrations",
        },
    )
    result = GotdResult(
        row_idx=ids, score=score, n_chunks=n_chunks, kept=kept, row_hash=row_hash, domain=domain,
        chunk_row_idx=u_ids, chunk_idx=u_chunks, chunk_potential=g_all, provenance=provenance, config=cfg,
    )  # fmt: skip
    return result, solve
