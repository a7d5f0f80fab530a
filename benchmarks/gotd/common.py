"""Shared loading for the GOT-D benchmarks: the cached real MiniLM embeddings of `embed_corpus.py`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

EMB = Path(__file__).resolve().parents[1] / "results" / "gotd_emb"


def load_part(name: str) -> dict[str, np.ndarray]:
    """All finished shards of one part: `x` (L2-normalised, as sentence-transformers does), `sha`, `tag`, `text`."""
    files = sorted(EMB.glob(f"{name}-[0-9][0-9][0-9][0-9][0-9].npz"))
    if not files:
        raise FileNotFoundError(f"no shards of part {name!r} under {EMB}: run benchmarks/gotd/embed_corpus.py")
    parts = [np.load(f) for f in files]
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("x", "sha", "tag", "text")}
    out["x"] = out["x"] / np.linalg.norm(out["x"], axis=1, keepdims=True)
    return out
