"""Recursive k-means: split the corpus until every leaf holds at most `tau` rows.

The top level uses `k = min(ceil(N / tau), max_top_clusters)`; every child larger than `tau` is re-split into
`branching` clusters. A split that leaves a single non-empty child (duplicate or degenerate embeddings) falls
back to an arbitrary balanced split of that child's rows in index order, so the recursion always terminates.
Each split is seeded from `(seed, path)`, so the same seed gives identical clusters.

Usage:

```python
import numpy as np
from hf_datavalue.fasttrack.clustering import recursive_kmeans

x = np.random.default_rng(0).normal(size=(1000, 8)).astype("float32")
tree = recursive_kmeans(x, tau=50, seed=0)
tree.labels.shape, tree.n_leaves, max(tree.sizes)  # ((1000,), ..., <= 50)
tree.paths[tree.labels[0]]                          # e.g. "3/7"
```
"""

from __future__ import annotations

import logging
import math
import warnings
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..core.errors import ConfigError, EmptyDatasetError, NonFiniteError

__all__ = ["ClusterTree", "kmeans_labels", "recursive_kmeans"]

logger = logging.getLogger(__name__)


@dataclass
class ClusterTree:
    """Leaves of a recursive k-means.

    Args:
        labels (`np.ndarray`): `(N,)` int64 leaf id (`cluster_id`) of every row.
        paths (`list[str]`): per leaf, its path of child indices from the root (`"12/3"`); leaf ids follow the
            numeric order of the paths.
        centroids (`np.ndarray`): `(n_leaves, d)` float32 mean embedding of each leaf.
        n_fallback_splits (`int`): splits that fell back to a balanced split (degenerate input).
        backend (`str`): the k-means library that ran.
    """

    labels: np.ndarray
    paths: list[str]
    centroids: np.ndarray
    n_fallback_splits: int = 0
    backend: str = ""

    @property
    def n_leaves(self) -> int:
        return len(self.paths)

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_leaves)


def _split_seed(seed: int, path: str) -> int:
    return (zlib.crc32(f"{seed}:{path}".encode()) + int(seed)) % (2**31 - 1)


def resolve_backend(backend: str) -> Literal["sklearn", "faiss"]:
    """`"auto"` -> `"faiss"` when importable, else `"sklearn"`; an explicit `"faiss"` without faiss raises."""
    if backend == "sklearn":
        return "sklearn"
    try:
        import faiss  # noqa: F401
    except ImportError:
        if backend == "faiss":
            from ..core.errors import MissingDependencyError

            raise MissingDependencyError("faiss-cpu", "fasttrack", "kmeans_backend='faiss'") from None
        return "sklearn"
    if backend not in ("auto", "faiss"):
        raise ConfigError(f"kmeans backend must be 'auto', 'sklearn' or 'faiss', got {backend!r}")
    return "faiss"


def kmeans_labels(
    x: np.ndarray, k: int, seed: int, n_init: int = 3, backend: Literal["sklearn", "faiss"] = "sklearn"
) -> np.ndarray:
    """Labels `(n,)` of one k-means++ run with `n_init` restarts (`k <= n`)."""
    if backend == "faiss":
        import faiss

        km = faiss.Kmeans(x.shape[1], k, niter=25, nredo=n_init, seed=seed, verbose=False, min_points_per_centroid=1)
        km.train(np.ascontiguousarray(x, dtype=np.float32))
        _, idx = km.index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
        return idx[:, 0].astype(np.int64)
    if backend == "sklearn":
        from sklearn.cluster import KMeans

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "fewer distinct points than clusters" on duplicates: handled below
            km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed, max_iter=100)
            return km.fit_predict(x).astype(np.int64)
    raise ConfigError(f"kmeans backend must be 'sklearn' or 'faiss', got {backend!r}")


def recursive_kmeans(
    x: np.ndarray,
    tau: int = 100,
    branching: int = 10,
    max_top_clusters: int = 1000,
    n_init: int = 3,
    seed: int = 0,
    backend: Literal["auto", "sklearn", "faiss"] = "auto",
    progress: bool = False,
) -> ClusterTree:
    """Cluster the rows of `x` recursively until every leaf has at most `tau` members.

    Args:
        x (`np.ndarray`): `(N, d)` finite embeddings.
        tau (`int`, *optional*, defaults to 100): maximum leaf size.
        branching (`int`, *optional*, defaults to 10): children of every re-split.
        max_top_clusters (`int`, *optional*, defaults to 1000): cap of the top-level k.
        n_init (`int`, *optional*, defaults to 3): k-means++ restarts per split.
        seed (`int`, *optional*, defaults to 0): base seed; each split derives its own from its path.
        backend (`str`, *optional*, defaults to `"auto"`): `"sklearn"`, `"faiss"` or `"auto"` (faiss if installed).
        progress (`bool`, *optional*, defaults to `False`): show a tqdm bar over clustered rows.

    Returns:
        A [`ClusterTree`] whose leaves partition the rows.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ConfigError(f"embeddings must be a 2-D (N, d) array, got shape {x.shape}")
    n = len(x)
    if n == 0:
        raise EmptyDatasetError("cannot cluster an empty corpus: the index needs at least one row")
    if not np.isfinite(x).all():
        raise NonFiniteError("the corpus embeddings hold NaN or infinite values; re-embed those rows")
    if tau < 1 or branching < 2:
        raise ConfigError(f"need tau >= 1 and branching >= 2, got tau={tau}, branching={branching}")

    from tqdm.auto import tqdm

    resolved = resolve_backend(backend)
    bar = tqdm(total=n, desc="Recursive k-means", unit="row", disable=not progress)
    leaves: list[tuple[tuple[int, ...], np.ndarray]] = []
    fallbacks = 0
    stack: list[tuple[tuple[int, ...], np.ndarray]] = [((), np.arange(n, dtype=np.int64))]
    while stack:
        path, idx = stack.pop()
        if len(idx) <= tau:
            leaves.append((path, idx))
            bar.update(len(idx))
            continue
        k = min(max_top_clusters, math.ceil(len(idx) / tau)) if not path else branching
        k = max(2, min(k, len(idx)))
        sub = x[idx]
        children: list[np.ndarray] = []
        if len(np.unique(sub, axis=0)) > 1:
            labels = kmeans_labels(sub, k, _split_seed(seed, "/".join(map(str, path))), n_init, resolved)
            children = [idx[labels == c] for c in range(k)]
            children = [c for c in children if len(c)]
        if len(children) <= 1:  # degenerate: all rows identical or k-means collapsed to one cluster
            fallbacks += 1
            children = [c for c in np.array_split(idx, k) if len(c)]
        for c, child in reversed(list(enumerate(children))):
            stack.append(((*path, c), child))
    bar.close()
    leaves.sort(key=lambda item: item[0])
    labels_out = np.empty(n, dtype=np.int64)
    centroids = np.empty((len(leaves), x.shape[1]), dtype=np.float32)
    paths = []
    for leaf, (path, idx) in enumerate(leaves):
        labels_out[idx] = leaf
        centroids[leaf] = x[idx].mean(0)
        paths.append("/".join(map(str, path)) if path else "0")
    if fallbacks:
        logger.info("recursive k-means: %d degenerate splits fell back to balanced splits", fallbacks)
    return ClusterTree(
        labels=labels_out, paths=paths, centroids=centroids, n_fallback_splits=fallbacks, backend=resolved
    )
