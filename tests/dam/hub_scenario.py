"""DAM Hub round trip, run in a fresh process whose environment points HF_ENDPOINT at the local Hub.

`python tests/dam/hub_scenario.py push|load '<json kwargs>'` prints `RESULT:<json>` as its last line.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `tests.dam.toy`

PUBLIC, HIDDEN = "local/dam-m0", "local/dam-m0-hidden"


def digest_view(view) -> dict:
    """A digest of everything a buyer can see, and of the seller summaries."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(view.buyer_features).tobytes())
    h.update(np.ascontiguousarray(view.buyer_labels).tobytes())
    for i in range(view.n_sellers):
        price, summary, samples = view.getsellerinfo(i)
        h.update(json.dumps(summary, sort_keys=True).encode())
        h.update(np.ascontiguousarray(samples).tobytes())
        h.update(repr(price(7)).encode())
    return {"view": h.hexdigest(), "budget": view.getbudget(), "n_sellers": view.n_sellers}


def digest_hidden(market) -> str:
    h = hashlib.sha256()
    for s in market.sellers:
        h.update(np.ascontiguousarray(s.features).tobytes())
        h.update(np.ascontiguousarray(s.labels).tobytes())
    h.update(json.dumps(market.generation, sort_keys=True).encode())
    return h.hexdigest()


def push() -> dict:
    from hf_datavalue.hub_cards.marketplace import push_marketplace
    from tests.dam.toy import small_markets

    market = small_markets()[0]
    commits = push_marketplace(market, PUBLIC, hidden_repo_id=HIDDEN)
    return {"commits": commits, "public": digest_view(market.public), "hidden": digest_hidden(market)}


def load() -> dict:
    import datasets
    from huggingface_hub import DatasetCard, HfApi

    from hf_datavalue.dam import SimulatedMarketplace, evaluate, get_strategy
    from hf_datavalue.hub_cards.marketplace import BLOCK_KEY, load_marketplace

    view = load_marketplace(PUBLIC)
    market = load_marketplace(PUBLIC, hidden_repo_id=HIDDEN)
    assert isinstance(market, SimulatedMarketplace)
    files = HfApi().list_repo_files(PUBLIC, repo_type="dataset")
    card = DatasetCard.load(HfApi().hf_hub_download(PUBLIC, "sellers/seller_03.md", repo_type="dataset"))
    preview = datasets.load_dataset(PUBLIC, "preview", split="train")
    counts = get_strategy("uniform").propose(view)
    return {
        "public": digest_view(view),
        "public_via_hidden": digest_view(market.public),
        "hidden": digest_hidden(market),
        "public_files": files,
        "seller_card": {k: card.data.to_dict()[BLOCK_KEY][k] for k in ("row_number", "column_number", "price")},
        "size_categories": card.data.to_dict()["size_categories"],
        "preview_rows": len(preview),
        "preview_columns": preview.column_names,
        "score": evaluate(market, counts, trials=2).score,
    }


if __name__ == "__main__":
    name = sys.argv[1]
    result = {"push": push, "load": load}[name]()
    print("RESULT:" + json.dumps(result, default=str))
