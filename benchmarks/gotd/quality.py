"""AG News directional check (specs/gotd.md §8.7, local variant): which domains each method selects.

    PYTHONPATH=src python benchmarks/gotd/quality.py --n-target 2000

Pool: 10,000 500-character multidomain chunks plus the
skewed AG News test items (all World, Sports, Sci/Tech; 190 Business). Target: 2,000 AG News train texts,
labels hidden. Embedder: all-MiniLM-L6-v2, masked mean, L2-normalised. Methods: GOT-D (library defaults,
eps = 0.02 x median cost), kNN (one nearest candidate per target point, de-duplicated), TAPT/c (ceil(k/n)
nearest per target point, duplicates kept), DSIR (hashed n-grams, own venv), random.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EMB, load_part  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def label_hist(tags: list[str]) -> np.ndarray:
    counts = collections.Counter(t.split(":", 1)[1] for t in tags if t.startswith("ag_news:"))
    return np.array([counts.get(lab, 0) for lab in LABELS], dtype=float)


def kl(p: np.ndarray, q: np.ndarray) -> float:
    p = (p + 1e-9) / (p + 1e-9).sum()
    q = (q + 1e-9) / (q + 1e-9).sum()
    return float((p * np.log(p / q)).sum())


def knn(pool: np.ndarray, target: np.ndarray, k: int, duplicates: bool) -> np.ndarray:
    sims = target @ pool.T  # unit vectors: nearest = largest inner product
    perm = np.random.default_rng(0).permutation(len(target))  # target points in a seeded random order
    if not duplicates:
        nearest = np.argmax(sims, axis=1)[perm]
        _, first = np.unique(nearest, return_index=True)
        return nearest[np.sort(first)][:k]  # de-duplicated, in that order (fewer than k when they run out)
    per = math.ceil(k / len(target))
    nearest = np.argsort(-sims, axis=1)[:, :per]
    return nearest[perm].T.reshape(-1)[:k]


def tfidf_svd(pool_texts: list[str], target_texts: list[str], dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """TF-IDF (sublinear tf, English stop words, min_df 2) -> truncated SVD -> L2, fitted on pool + target."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english").fit_transform(pool_texts + target_texts)
    z = TruncatedSVD(dim, random_state=0).fit_transform(tfidf)
    z = (z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-12)).astype(np.float32)
    return z[: len(pool_texts)], z[len(pool_texts) :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-target", type=int, default=2000)
    parser.add_argument("--ks", default="150,2000")
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gotd" / "quality.jsonl"))
    parser.add_argument(
        "--selections", default=str(EMB / "selections.json"), help="row ids per method and k (for downstream.py)"
    )
    parser.add_argument(
        "--features",
        choices=["minilm", "tfidf-svd"],
        default="minilm",
        help="tfidf-svd: the spec's weak stand-in embedder (TF-IDF, 128-d SVD, L2), to separate method from embedder",
    )
    args = parser.parse_args()
    import torch
    from datasets import Dataset

    from hf_datavalue.gotd import GotdConfig, GotdSelector

    torch.set_num_threads(2)
    news, chunks, tgt = load_part("news"), load_part("chunk500"), load_part("target")
    pool_x = np.concatenate([news["x"], chunks["x"]]).astype(np.float32)
    tags = np.concatenate([news["tag"], chunks["tag"]]).tolist()
    sha = np.concatenate([news["sha"], chunks["sha"]])
    target_x = tgt["x"][: args.n_target].astype(np.float32)
    target_tags = tgt["tag"][: args.n_target].tolist()
    if args.features == "tfidf-svd":
        pool_x, target_x = tfidf_svd([*news["text"], *chunks["text"]], tgt["text"][: args.n_target].tolist())
    # index integrity (pitfall 1): the DSIR text file must list the very rows whose embeddings we score
    lines = [json.loads(line) for line in (EMB / "pool_quality.jsonl").open()]
    assert len(lines) >= len(pool_x)
    text_sha = np.array([hashlib.sha1(r["text"].encode()).hexdigest() for r in lines[: len(pool_x)]])
    assert (text_sha == sha).all(), "text file and embeddings are misaligned"

    pool_hist = label_hist(tags)
    target_hist = label_hist(target_tags)
    base_business = pool_hist[2] / pool_hist.sum()
    ks = [int(k) for k in args.ks.split(",")]
    results = []
    selections: dict[str, dict[str, list[int]]] = collections.defaultdict(dict)

    def report(method: str, k: int, picks: np.ndarray, seconds: float, extra: dict | None = None) -> None:
        selections[method][str(k)] = [int(i) for i in picks]
        sel = [tags[i] for i in picks]
        hist = label_hist(sel)
        news_n = hist.sum()
        row = {
            "method": method, "k": k, "distinct": int(len(np.unique(picks))), "news_share": round(news_n / len(sel), 4),
            "business_share_of_news": round(hist[2] / news_n, 4) if news_n else None,
            "business_base_share": round(base_business, 4), "kl_to_pool": round(kl(hist, pool_hist), 4),
            "kl_to_target": round(kl(hist, target_hist), 4), "seconds": round(seconds, 1),
            "domains": dict(collections.Counter(t.split(":")[0] for t in sel)), "labels": dict(zip(LABELS, hist.tolist())),
        } | (extra or {})  # fmt: skip
        results.append(row)
        print(json.dumps(row), flush=True)

    pool = Dataset.from_dict({"row_idx": np.arange(len(pool_x)), "emb": pool_x, "tag": tags})
    target = Dataset.from_dict({"emb": target_x})
    t0 = time.perf_counter()
    cfg = GotdConfig(embedding_column="emb", eps=args.eps, eps_mode="relative", tol=1e-3, progress=False)
    selector = GotdSelector(cfg).fit(pool, target)
    fit_s = time.perf_counter() - t0
    info = selector.solve_info
    for k in ks:
        picks = selector.selected_ids(k)
        report("gotd", k, picks, fit_s, {"eps": info["eps"], "n_iter": info["n_iter"], "converged": info["converged"]})
    for k in ks:
        t0 = time.perf_counter()
        report("knn_dedup", k, knn(pool_x, target_x, k, duplicates=False), time.perf_counter() - t0)
        t0 = time.perf_counter()
        report("tapt_c", k, knn(pool_x, target_x, k, duplicates=True), time.perf_counter() - t0)
        report("random", k, np.random.default_rng(0).choice(len(pool_x), k, replace=False), 0.0)
        dsir_py = ROOT / ".bench-venvs" / "dsir" / "bin" / "python"
        if dsir_py.exists():
            out = EMB / f"dsir_quality_{k}.json"
            cmd = [str(dsir_py), str(ROOT / "benchmarks" / "gotd" / "dsir_select.py"), "--pool", "pool_quality.jsonl",
                   "--n-target", str(args.n_target), "--k", str(k), "--out", str(out)]  # fmt: skip
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            res = json.loads(line)
            report("dsir", k, np.asarray(json.loads(out.read_text())["row_idx"]), res["wall_s"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in results))
    # Row ids index the lines of pool_quality.jsonl (its `row_idx`), checked against the embedded texts above.
    meta = {"pool": "pool_quality.jsonl", "target": "target.jsonl", "n_target": args.n_target}
    Path(args.selections).write_text(json.dumps(meta | {"selections": selections}))


if __name__ == "__main__":
    main()
