"""The DAM simulator: K marketplaces of one buyer and S heterogeneous sellers from any labelled dataset (§6).

Sellers differ in label mix (Dirichlet), size (log-uniform), and quality faults on chosen sellers: label noise,
exact duplicates and off-task rows. Everything is drawn from `numpy.random.default_rng([seed, k, ...])`, so a
seed fixes every marketplace bit for bit. The generating parameters are recorded in
`SimulatedMarketplace.generation` (the answer key, never shown to strategies).

Off-task rows: when an `offtask` dataset (same feature space, e.g. embeddings of another corpus) is passed, its
rows are used with labels drawn uniformly from the buyer's classes; without one, off-task rows are pool rows whose
feature coordinates go through a fixed random permutation (same value range, no task meaning) with uniform labels.

Usage:

```python
from hf_datavalue.dam import DamConfig, Simulator

markets = Simulator(DamConfig(embedding_column="embedding", seed=0)).build(dataset)  # 5 x 20 sellers
markets[0].public.getsellerinfo(0)[1]["row_number"]
```
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ..core.embeddings import Embedder, embed_dataset, embedding_matrix, get_embedder
from ..core.errors import ConfigError, EmptyDatasetError, LabelError, MissingColumnError
from .config import DamConfig
from .marketplace import SimulatedMarketplace

__all__ = ["ROLES", "Simulator", "dataset_arrays"]

logger = logging.getLogger(__name__)

ROLES = ("clean", "noisy", "duplicate", "offtask")


def dataset_arrays(
    dataset: Any, config: DamConfig, embedder: str | Embedder | None = None, what: str = "dataset"
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """`(features float32 (n, d), class ids int64 (n,), class names)` of a labelled dataset.

    Uses `config.embedding_column` when present, else embeds `config.text_column` with `embedder` /
    `config.embedder`. Raises typed errors for a missing column, NaN features or fewer than two classes.
    """
    if len(dataset) == 0:
        raise EmptyDatasetError(f"the {what} is empty")
    if config.label_column not in dataset.column_names:
        raise MissingColumnError(what, config.label_column, dataset.column_names)
    if config.embedding_column in dataset.column_names:
        x = embedding_matrix(dataset, config.embedding_column, what)
    elif config.text_column is not None:
        model = embedder if embedder is not None else config.embedder
        if model is None:
            raise ConfigError(f"text_column={config.text_column!r} needs an embedder (DamConfig.embedder)")
        if config.text_column not in dataset.column_names:
            raise MissingColumnError(what, config.text_column, dataset.column_names)
        emb = embed_dataset(dataset, config.text_column, get_embedder(model), "__dam_embedding", progress=False)
        x = embedding_matrix(emb, "__dam_embedding", what)
    else:
        raise MissingColumnError(what, config.embedding_column, dataset.column_names)
    feature = dataset.features.get(config.label_column)
    raw = list(dataset[config.label_column])
    names = list(getattr(feature, "names", []) or [])
    if any(isinstance(v, str) for v in raw):
        classes = sorted({str(v) for v in raw})
        index = {c: i for i, c in enumerate(classes)}
        y = np.asarray([index[str(v)] for v in raw], dtype=np.int64)
        names = classes
    else:
        y = np.asarray(raw, dtype=np.int64)
        if y.min() < 0:
            raise LabelError(f"labels must be non-negative class ids, got {int(y.min())}")
        if not names:
            names = [int(c) for c in range(int(y.max()) + 1)]
    present = np.unique(y)
    if len(present) < 2:
        raise LabelError(f"the {what} has one class only ({names[int(present[0])]!r}); DAM needs at least two")
    return x, y, names


class Simulator:
    """Builds seeded DAM marketplaces from a labelled dataset.

    Args:
        config ([`DamConfig`], *optional*): sizes, heterogeneity, budget and seed.
        embedder (`str` or `Embedder`, *optional*): embeds `config.text_column` when there is no feature column.
    """

    def __init__(self, config: DamConfig | None = None, embedder: str | Embedder | None = None):
        self.config = config or DamConfig()
        self.embedder = embedder

    def build(self, dataset: Any, offtask: Any = None) -> list[SimulatedMarketplace]:
        """`config.n_marketplaces` marketplaces from `dataset` (and off-task rows from `offtask`, if given)."""
        cfg = self.config
        x, y, classes = dataset_arrays(dataset, cfg, self.embedder)
        off_x = None
        if offtask is not None:
            off_x = (
                embedding_matrix(offtask, cfg.embedding_column, "off-task dataset")
                if cfg.embedding_column in offtask.column_names
                else dataset_arrays(offtask, cfg, self.embedder, "off-task dataset")[0]
            )
            if off_x.shape[1] != x.shape[1]:
                raise ConfigError(f"off-task features have width {off_x.shape[1]}, the dataset {x.shape[1]}")
        return [self.build_one(x, y, classes, k, off_x) for k in range(cfg.n_marketplaces)]

    def build_one(
        self, x: np.ndarray, y: np.ndarray, classes: list[Any], k: int, off_x: np.ndarray | None = None
    ) -> SimulatedMarketplace:
        """Marketplace number `k` from ready arrays (deterministic in `(config.seed, k)`)."""
        cfg = self.config
        n = len(y)
        n_classes = len(classes)
        rng = np.random.default_rng([cfg.seed, k])
        n_buyer = min(cfg.buyer_size, n // 4)
        if n_buyer < 2 or n - n_buyer < cfg.min_seller_size:
            raise EmptyDatasetError(
                f"{n} rows are too few for a buyer set and sellers of at least {cfg.min_seller_size} rows"
            )
        perm = rng.permutation(n)
        buyer, pool = perm[:n_buyer], perm[n_buyer:]
        by_class = [pool[y[pool] == c] for c in range(n_classes)]
        lo, hi = math.log(cfg.min_seller_size), math.log(min(cfg.max_seller_size, len(pool)))
        sizes = np.clip(np.rint(np.exp(rng.uniform(lo, max(lo, hi), cfg.n_sellers))), cfg.min_seller_size, None)
        sizes = sizes.astype(np.int64)
        roles = np.array(["clean"] * cfg.n_sellers, dtype=object)
        order = rng.permutation(cfg.n_sellers)
        start = 0
        for role, frac in (("noisy", cfg.noisy_fraction), ("duplicate", cfg.duplicate_fraction),
                           ("offtask", cfg.offtask_fraction)):  # fmt: skip
            m = int(round(frac * cfg.n_sellers))
            roles[order[start : start + m]] = role
            start += m
        dim_perm = rng.permutation(x.shape[1])
        seller_x, seller_y, gen_sellers = [], [], []
        for i in range(cfg.n_sellers):
            srng = np.random.default_rng([cfg.seed, k, i])
            alpha = float(cfg.label_alphas[int(srng.integers(len(cfg.label_alphas)))])
            props = srng.dirichlet(np.full(n_classes, alpha))
            n_i = int(sizes[i])
            n_unique = (
                max(cfg.preview_rows, int(math.ceil(cfg.duplicate_unique * n_i))) if roles[i] == "duplicate" else n_i
            )
            per_class = srng.multinomial(n_unique, props)
            rows = []
            for c, m in enumerate(per_class):
                if m == 0:
                    continue
                if len(by_class[c]) == 0:  # a class absent from the pool: give its rows to the largest class
                    c = int(np.argmax([len(b) for b in by_class]))
                rows.append(srng.choice(by_class[c], size=int(m), replace=int(m) > len(by_class[c])))
            idx = np.concatenate(rows)
            if roles[i] == "duplicate":
                idx = np.concatenate([idx, srng.choice(idx, size=n_i - len(idx), replace=True)])
            idx = idx[srng.permutation(len(idx))]
            xi, yi = x[idx].copy(), y[idx].copy()
            n_faulty = 0
            if roles[i] == "noisy":
                flip = srng.random(n_i) < cfg.noise_rate
                yi[flip] = (yi[flip] + srng.integers(1, n_classes, int(flip.sum()))) % n_classes
                n_faulty = int(flip.sum())
            elif roles[i] == "offtask":
                off = srng.random(n_i) < cfg.offtask_rate
                n_faulty = int(off.sum())
                if off_x is not None:
                    xi[off] = off_x[srng.integers(0, len(off_x), n_faulty)]
                else:
                    xi[off] = x[srng.choice(pool, n_faulty)][:, dim_perm]
                yi[off] = srng.integers(0, n_classes, n_faulty)
            seller_x.append(xi)
            seller_y.append(yi)
            gen_sellers.append(
                {
                    "seller": i,
                    "role": str(roles[i]),
                    "size": n_i,
                    "label_alpha": alpha,
                    "label_props": [float(p) for p in props],
                    "faulty_rows": n_faulty,
                    "unique_rows": int(len(np.unique(idx))),
                }  # fmt: skip
            )
        generation = {
            "seed": cfg.seed,
            "marketplace": k,
            "buyer_rows": int(n_buyer),
            "offtask_source": "dataset" if off_x is not None else "permuted_features",
            "sellers": gen_sellers,
        }
        market = SimulatedMarketplace.from_arrays(
            x[buyer],
            y[buyer],
            seller_x,
            seller_y,
            cfg.budget,
            max_price=cfg.max_price,
            preview_rows=cfg.preview_rows,
            hist_bins=cfg.hist_bins,
            classes=classes,
            marketplace_id=k,
            seed=cfg.seed,
            generation=generation,
        )
        logger.info("built marketplace %d: %d buyer rows, sellers %s", k, n_buyer, sizes.tolist())
        return market
