"""Marketplaces on disk: a public folder per marketplace (what strategies read) and a separate hidden folder.

Layout of a market directory:

```
MARKET_DIR/manifest.json                       config, number of marketplaces, classes
MARKET_DIR/public/<k>/market.json              budget, prices and seller summaries
MARKET_DIR/public/<k>/buyer.parquet            the buyer's Db (features, label)
MARKET_DIR/public/<k>/preview.parquet          the 5 sample rows of every seller (seller, features, label)
MARKET_DIR/hidden/<k>/sellers.parquet          every seller's full data (seller, features, label)
MARKET_DIR/hidden/<k>/generation.json          the answer key (roles, label mixes, noise)
```

Usage:

```python
save_markets(markets, "market/", config)
views = load_public_markets("market/")   # list[Marketplace], reads nothing under hidden/
markets = load_markets("market/")        # list[SimulatedMarketplace], for the evaluator
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.io import read_json, write_json_atomic, write_parquet_atomic
from .config import DamConfig
from .marketplace import LinearPrice, Marketplace, SellerData, SellerInfo, SellerSummary, SimulatedMarketplace

__all__ = [
    "feature_table",
    "load_markets",
    "load_public",
    "load_public_markets",
    "public_from_files",
    "public_market_json",
    "read_features",
    "read_manifest",
    "save_markets",
    "save_public",
]


def feature_table(features: np.ndarray, labels: np.ndarray, seller: np.ndarray | None = None) -> Any:
    import pyarrow as pa

    x = np.ascontiguousarray(features, dtype=np.float32)
    cols: dict[str, Any] = {}
    if seller is not None:
        cols["seller"] = pa.array(seller, pa.int64())
    cols["features"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), x.shape[1])
    cols["label"] = pa.array(np.asarray(labels, dtype=np.int64), pa.int64())
    return pa.table(cols)


def read_features(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    col = table.column("features").combine_chunks()
    width = col.type.list_size
    x = col.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, width)
    y = table.column("label").to_numpy().astype(np.int64)
    seller = table.column("seller").to_numpy().astype(np.int64) if "seller" in table.column_names else None
    return x, y, seller


def public_market_json(view: Marketplace) -> dict[str, Any]:
    """The JSON of a marketplace's public part (budget, prices, summaries; rows live in parquet)."""
    return {
        "marketplace": view.marketplace_id,
        "budget": view.getbudget(),
        "classes": [c if isinstance(c, (int, str)) else str(c) for c in view.classes],
        "sellers": [
            {"seller": s.seller_id, "price": s.price.to_dict(), "summary": s.summary.to_dict()} for s in view.sellers
        ],
    }


def save_public(view: Marketplace, folder: str | os.PathLike[str]) -> Path:
    """Write one marketplace's public part (market.json, buyer.parquet, preview.parquet) into `folder`."""
    out = Path(folder)
    write_json_atomic(out / "market.json", public_market_json(view))
    write_parquet_atomic(out / "buyer.parquet", feature_table(view.buyer_features, view.buyer_labels))
    px = np.concatenate([s.sample_features for s in view.sellers])
    py = np.concatenate([s.sample_labels for s in view.sellers])
    ps = np.concatenate([np.full(len(s.sample_labels), s.seller_id) for s in view.sellers])
    write_parquet_atomic(out / "preview.parquet", feature_table(px, py, ps))
    return out


def load_public(folder: str | os.PathLike[str]) -> Marketplace:
    """Read one marketplace's public part written by [`save_public`]."""
    root = Path(folder)
    return public_from_files(read_json(root / "market.json"), root / "buyer.parquet", root / "preview.parquet")


def public_from_files(
    meta: dict[str, Any], buyer: str | os.PathLike[str], preview: str | os.PathLike[str]
) -> Marketplace:
    """A [`Marketplace`] from its public JSON (budget, prices, summaries) and the buyer/preview parquet files."""
    bx, by, _ = read_features(Path(buyer))
    px, py, ps = read_features(Path(preview))
    if ps is None:
        raise ConfigError(f"{preview} has no seller column")
    sellers = []
    for entry in meta["sellers"]:
        i = int(entry["seller"])
        price = entry["price"]
        if price.get("type") != "linear":
            raise ConfigError(f"seller {i} has price type {price.get('type')!r}; only 'linear' is supported")
        sellers.append(
            SellerInfo(
                seller_id=i,
                price=LinearPrice(int(price["row_number"]), float(price["max_p"])),
                summary=SellerSummary.from_dict(entry["summary"]),
                sample_features=px[ps == i],
                sample_labels=py[ps == i],
            )
        )
    return Marketplace(bx, by, sellers, float(meta["budget"]), meta.get("classes"), int(meta["marketplace"]))


def save_markets(
    markets: Sequence[SimulatedMarketplace], out_dir: str | os.PathLike[str], config: DamConfig | None = None
) -> Path:
    """Write every marketplace (public and hidden parts) and a manifest into `out_dir`."""
    out = Path(out_dir)
    for m in markets:
        k = m.marketplace_id
        save_public(m.public, out / "public" / str(k))
        sx = np.concatenate([s.features for s in m.sellers])
        sy = np.concatenate([s.labels for s in m.sellers])
        si = np.concatenate([np.full(len(s), i) for i, s in enumerate(m.sellers)])
        write_parquet_atomic(out / "hidden" / str(k) / "sellers.parquet", feature_table(sx, sy, si))
        write_json_atomic(out / "hidden" / str(k) / "generation.json", m.generation)
    manifest = {
        "format": "hf_datavalue.dam/1",
        "marketplaces": [m.marketplace_id for m in markets],
        "n_sellers": markets[0].public.n_sellers if markets else 0,
        "config": (config or DamConfig()).to_dict(),
    }
    write_json_atomic(out / "manifest.json", manifest)
    return out


def read_manifest(market_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(market_dir) / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"{market_dir} is not a DAM market directory (no manifest.json); build one with `dam build`")
    data = read_json(path)
    return dict(data)


def load_public_markets(market_dir: str | os.PathLike[str]) -> list[Marketplace]:
    """The public views of every marketplace in `market_dir` (reads nothing under `hidden/`)."""
    manifest = read_manifest(market_dir)
    return [load_public(Path(market_dir) / "public" / str(k)) for k in manifest["marketplaces"]]


def load_markets(market_dir: str | os.PathLike[str]) -> list[SimulatedMarketplace]:
    """Every marketplace with its hidden data (for the evaluator)."""
    manifest = read_manifest(market_dir)
    out = []
    for k in manifest["marketplaces"]:
        view = load_public(Path(market_dir) / "public" / str(k))
        hidden = Path(market_dir) / "hidden" / str(k)
        x, y, seller = read_features(hidden / "sellers.parquet")
        assert seller is not None
        sellers = [SellerData(features=x[seller == i], labels=y[seller == i]) for i in range(view.n_sellers)]
        out.append(
            SimulatedMarketplace(public=view, sellers=sellers, generation=read_json(hidden / "generation.json"))
        )
    return out
