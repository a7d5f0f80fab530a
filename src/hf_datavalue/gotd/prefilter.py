"""GOT-D's optional domain pre-filter (specs/gotd.md §3.3): keep the domains closest to the target in OT distance.

For each domain a probe of `prefilter_probe_size` rows (seeded) is embedded (its first chunk) and its entropic OT
cost to the target is computed with ε = `prefilter_eps`, threshold 5e-2 and at most 2,000 iterations, as in the
reference; the `prefilter_keep_domains` closest domains are kept.

Usage:

```python
from hf_datavalue.gotd.prefilter import domain_prefilter

kept, distances = domain_prefilter(pool, target_x, config, embedder)  # ({"news", "books"}, {domain: OT cost})
```
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from ..core.distributed import resolve_device
from ..core.embeddings import Embedder, embedding_matrix
from ..core.errors import ConfigError, ShapeMismatchError
from ..core.ot import PointCloudCost, sinkhorn
from .config import GotdConfig
from .embedding import embed_texts, is_iterable
from .text import chunk_text

__all__ = ["domain_prefilter"]

logger = logging.getLogger(__name__)


def domain_prefilter(
    pool: Any, target_x: np.ndarray, cfg: GotdConfig, embedder: Embedder | None
) -> tuple[set[str] | None, dict[str, float]]:
    """`(kept domains, OT distance per probed domain)`; `(None, {})` when the pre-filter is off.

    Args:
        pool (`datasets.Dataset`): the candidate pool with `cfg.domain_column`.
        target_x (`np.ndarray`): the target embeddings.
        cfg ([`GotdConfig`]): `prefilter_keep_domains`, `prefilter_probe_size`, `prefilter_eps`, `seed`.
        embedder ([`~hf_datavalue.core.embeddings.Embedder`], *optional*): needed unless `embedding_column`.
    """
    if cfg.prefilter_keep_domains is None:
        return None, {}
    assert cfg.domain_column is not None
    if is_iterable(pool):
        raise ConfigError("the domain pre-filter needs a map-style Dataset pool (it samples probes per domain)")
    domains = np.asarray([str(d) for d in pool[cfg.domain_column]])
    names = sorted(set(domains.tolist()))
    if cfg.prefilter_keep_domains >= len(names):
        logger.info("pre-filter keeps all %d domains", len(names))
        return set(names), {}
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    distances: dict[str, float] = {}
    items: Any = names
    if cfg.progress:
        from tqdm.auto import tqdm

        items = tqdm(names, desc="Domain pre-filter")
    for name in items:
        members = np.flatnonzero(domains == name)
        probe = np.sort(rng.choice(members, size=min(cfg.prefilter_probe_size, len(members)), replace=False))
        rows = pool.select(probe)
        if cfg.embedding_column is not None:
            x = embedding_matrix(rows, cfg.embedding_column, what=f"pool domain {name!r}")
        else:
            assert embedder is not None
            texts = [(chunk_text(t, cfg.chunk_size, 1) or [""])[0] for t in rows[cfg.text_column]]
            x = embed_texts(embedder, texts, cfg.embed_batch_size, f"pool domain {name!r}")
        if x.shape[1] != target_x.shape[1]:
            raise ShapeMismatchError(
                f"pool embeddings have dimension {x.shape[1]} but target embeddings have dimension "
                f"{target_x.shape[1]}: pool and target must be embedded with the same model"
            )
        cost = PointCloudCost(x, target_x, dtype=torch.float64, device=device)
        result = sinkhorn(cost, eps=cfg.prefilter_eps, eps_mode="absolute", tol=5e-2, max_iter=2000)
        distances[name] = result.value
        logger.info("pre-filter: domain %r (%d probes) OT distance %.4g", name, len(probe), result.value)
    kept = set(sorted(distances, key=lambda d: (distances[d], d))[: cfg.prefilter_keep_domains])
    logger.info("pre-filter keeps domains %s", sorted(kept))
    return kept, distances
