"""DAM marketplaces on the Hub: seller summaries as dataset-card YAML, hidden seller data in a separate repo.

Public repo (what a buyer may read), one per marketplace:

```
README.md                              card; YAML: configs buyer + preview, `hf_datavalue_dam:` (budget, prices, sellers)
sellers/seller_00.md ... seller_19.md  one dataset card per seller: size_categories + `hf_datavalue_dam:` summary
buyer/train-00000-of-00001.parquet     the buyer's Db (features, label)
preview/train-00000-of-00001.parquet   the 5 sample rows of every seller (seller, features, label)
```

Hidden repo (private; only the evaluator reads it): `sellers/train-00000-of-00001.parquet` (config `sellers`: seller,
features, label) and `generation.json` (the simulator's answer key). The public card never holds hidden rows.

Usage:

```python
from hf_datavalue.hub_cards.marketplace import load_marketplace, push_marketplace

push_marketplace(markets[0], "me/dam-m0", hidden_repo_id="me/dam-m0-hidden")
view = load_marketplace("me/dam-m0")                                      # Marketplace (public view)
market = load_marketplace("me/dam-m0", hidden_repo_id="me/dam-m0-hidden")  # SimulatedMarketplace (evaluator)
```
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

from ..core.errors import ValueTableError
from ..dam.marketplace import Marketplace, SellerData, SellerInfo, SimulatedMarketplace
from ..dam.storage import feature_table, public_from_files, read_features

__all__ = [
    "BLOCK_KEY",
    "load_marketplace",
    "push_marketplace",
    "seller_card",
    "seller_card_metadata",
    "size_category",
]

logger = logging.getLogger(__name__)

BLOCK_KEY = "hf_datavalue_dam"
BUYER_FILE = "buyer/train-00000-of-00001.parquet"
PREVIEW_FILE = "preview/train-00000-of-00001.parquet"
HIDDEN_FILE = "sellers/train-00000-of-00001.parquet"


def size_category(n: int) -> str:
    """The Hub's `size_categories` bucket of `n` rows."""
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < bound:
            return label
    return "1M<n<10M"


def _seller_path(i: int) -> str:
    return f"sellers/seller_{i:02d}.md"


def seller_card_metadata(info: SellerInfo, marketplace_id: int = 0) -> dict[str, Any]:
    """The YAML metadata of one seller's card (spec §9): size category and the `hf_datavalue_dam:` summary block."""
    summary = info.summary.to_dict()
    return {
        "size_categories": [size_category(info.row_number)],
        "tags": ["dam", "data-acquisition", "hf_datavalue"],
        BLOCK_KEY: {
            "marketplace": int(marketplace_id),
            "seller": int(info.seller_id),
            "row_number": summary["row_number"],
            "column_number": summary["column_number"],
            "price": {"type": "linear", "max_p": float(info.price.max_price)},
            "hist": summary["hist"],
            "label_correlation": summary["label_correlation"],
        },
    }


def seller_card(info: SellerInfo, marketplace_id: int = 0) -> Any:
    """A [`~huggingface_hub.DatasetCard`] of one seller: YAML summary plus a short text."""
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(**seller_card_metadata(info, marketplace_id))
    text = (
        f"\n# Seller {info.seller_id} (DAM marketplace {marketplace_id})\n\n"
        f"{info.row_number} rows, linear price: all rows cost {info.price.max_price:g}. The YAML block "
        f"`{BLOCK_KEY}` holds the DAM summary (10-bin histograms per column, label last, and per-feature label "
        "correlations). The seller's rows are not in this repository.\n"
    )
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{text}")


def _market_card(view: Marketplace, hidden_repo_id: str | None) -> Any:
    from huggingface_hub import DatasetCard, DatasetCardData

    block = {
        "format": "hf_datavalue.dam/1",
        "marketplace": view.marketplace_id,
        "budget": view.getbudget(),
        "classes": [c if isinstance(c, (int, str)) else str(c) for c in view.classes],
        "price": {"type": "linear", "max_p": float(view.sellers[0].price.max_price)},
        "sellers": [
            {"seller": s.seller_id, "row_number": s.row_number, "card": _seller_path(s.seller_id)}
            for s in view.sellers
        ],  # fmt: skip
        "hidden_data": "a separate private repository" if hidden_repo_id else "not published",
        "note": "hf_datavalue simulator marketplace; scores are not DataPerf leaderboard numbers",
    }
    extra: dict[str, Any] = {BLOCK_KEY: block}
    data = DatasetCardData(
        configs=[
            {"config_name": "buyer", "data_files": [{"split": "train", "path": BUYER_FILE}]},
            {"config_name": "preview", "data_files": [{"split": "train", "path": PREVIEW_FILE}]},
        ],
        size_categories=[size_category(int(view.sizes.sum()))],
        tags=["dam", "data-acquisition", "hf_datavalue"],
        **extra,
    )
    text = (
        f"\n# DAM marketplace {view.marketplace_id}\n\nOne buyer and {view.n_sellers} sellers (budget "
        f"{view.getbudget():g}). Config `buyer` is the buyer's evaluation set; config `preview` holds 5 sample rows "
        "per seller; `sellers/seller_XX.md` are the sellers' summary cards.\n"
    )
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{text}")


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def push_marketplace(
    market: SimulatedMarketplace | Marketplace,
    repo_id: str,
    *,
    hidden_repo_id: str | None = None,
    token: str | None = None,
    commit_message: str = "hf_datavalue: DAM marketplace",
) -> dict[str, str]:
    """Publish a marketplace's public view to `repo_id` and, for a simulated one, its hidden data to `hidden_repo_id`.

    Returns:
        `{"public": commit sha, "hidden": commit sha}` (no `"hidden"` when nothing hidden was pushed).
    """
    import numpy as np
    from huggingface_hub import CommitOperationAdd, HfApi

    view = market.public if isinstance(market, SimulatedMarketplace) else market
    api = HfApi(token=token, library_name="hf_datavalue")
    px = np.concatenate([s.sample_features for s in view.sellers])
    py = np.concatenate([s.sample_labels for s in view.sellers])
    ps = np.concatenate([np.full(len(s.sample_labels), s.seller_id) for s in view.sellers])
    ops = [
        CommitOperationAdd("README.md", str(_market_card(view, hidden_repo_id)).encode("utf-8")),
        CommitOperationAdd(BUYER_FILE, _parquet_bytes(feature_table(view.buyer_features, view.buyer_labels))),
        CommitOperationAdd(PREVIEW_FILE, _parquet_bytes(feature_table(px, py, ps))),
    ]
    ops += [
        CommitOperationAdd(_seller_path(s.seller_id), str(seller_card(s, view.marketplace_id)).encode("utf-8"))
        for s in view.sellers
    ]
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    out = {"public": api.create_commit(repo_id, ops, commit_message=commit_message, repo_type="dataset").oid}
    if isinstance(market, SimulatedMarketplace) and hidden_repo_id:
        sx = np.concatenate([s.features for s in market.sellers])
        sy = np.concatenate([s.labels for s in market.sellers])
        si = np.concatenate([np.full(len(s), i) for i, s in enumerate(market.sellers)])
        card = (
            "---\nconfigs:\n- config_name: sellers\n  data_files:\n  - split: train\n    path: " + HIDDEN_FILE + "\n"
            f"{BLOCK_KEY}_hidden:\n  public_repo: {repo_id}\n  marketplace: {view.marketplace_id}\n---\n\n"
            "# Hidden seller data of a DAM marketplace\n\nFor the evaluator only; never give it to a buyer strategy.\n"
        )
        hidden_ops = [
            CommitOperationAdd("README.md", card.encode("utf-8")),
            CommitOperationAdd(HIDDEN_FILE, _parquet_bytes(feature_table(sx, sy, si))),
            CommitOperationAdd("generation.json", (json.dumps(market.generation, sort_keys=True) + "\n").encode()),
        ]
        api.create_repo(hidden_repo_id, repo_type="dataset", exist_ok=True, private=True)
        out["hidden"] = api.create_commit(
            hidden_repo_id, hidden_ops, commit_message=commit_message, repo_type="dataset"
        ).oid
    logger.info("pushed DAM marketplace %d to %s", view.marketplace_id, repo_id)
    return out


def _card_block(path: str, key: str = BLOCK_KEY) -> dict[str, Any]:
    from huggingface_hub import DatasetCard

    data = DatasetCard.load(path).data.to_dict()
    if key not in data:
        raise ValueTableError(f"{path} has no `{key}:` block; it is not a DAM marketplace card")
    return dict(data[key])


def load_marketplace(
    repo_id: str, *, hidden_repo_id: str | None = None, revision: str | None = None, token: str | None = None
) -> Marketplace | SimulatedMarketplace:
    """Read a marketplace pushed by [`push_marketplace`]: the public view, plus the hidden data when asked."""
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="hf_datavalue")

    def get(repo: str, name: str) -> str:
        return str(api.hf_hub_download(repo, name, repo_type="dataset", revision=revision))

    block = _card_block(get(repo_id, "README.md"))
    sellers = []
    for entry in block["sellers"]:
        seller = _card_block(get(repo_id, entry["card"]))
        price = seller.get("price", {})
        if price.get("type") != "linear":
            raise ValueTableError(f"seller {entry['seller']} has price {price!r}; only linear pricing is supported")
        summary = {k: seller[k] for k in ("row_number", "column_number", "hist", "label_correlation")}
        sellers.append(
            {
                "seller": entry["seller"],
                "price": {"type": "linear", "max_p": price["max_p"], "row_number": summary["row_number"]},
                "summary": summary,
            }  # fmt: skip
        )
    meta = {"marketplace": block["marketplace"], "budget": block["budget"], "classes": block["classes"],
            "sellers": sellers}  # fmt: skip
    view = public_from_files(meta, get(repo_id, BUYER_FILE), get(repo_id, PREVIEW_FILE))
    if hidden_repo_id is None:
        return view
    x, y, ids = read_features(Path(get(hidden_repo_id, HIDDEN_FILE)))
    if ids is None:
        raise ValueTableError(f"{hidden_repo_id} has no seller column")
    hidden = [SellerData(features=x[ids == i], labels=y[ids == i]) for i in range(view.n_sellers)]
    generation = json.loads(Path(get(hidden_repo_id, "generation.json")).read_text(encoding="utf-8"))
    return SimulatedMarketplace(public=view, sellers=hidden, generation=generation)
