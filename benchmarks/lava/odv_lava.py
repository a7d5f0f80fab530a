"""OpenDataVal's `LavaEvaluator` on the feature files written by `bench.py prepare` (runs in its own venv).

OpenDataVal pins torch 2.1 / numpy < 1.26 / pandas < 2, so it lives in `.bench-venvs/opendataval` (see run.sh)
and reads the very same features as hf_datavalue from `.npz` files. Its values are negated (low = bad); we negate
them back so both are scored with "higher = more harmful".

```bash
.bench-venvs/opendataval/bin/python benchmarks/lava/odv_lava.py --data benchmarks/results/lava/data/sst2.npz
```
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from opendataval.dataval.lava import LavaEvaluator


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--label", default="raw embeddings")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = np.load(args.data)
    flipped = data["flipped"].astype(bool)
    n_classes = int(max(data["y_train"].max(), data["y_valid"].max()) + 1)
    one_hot = lambda y: torch.nn.functional.one_hot(torch.as_tensor(y).long(), n_classes).float()  # noqa: E731
    start = time.perf_counter()
    evaluator = LavaEvaluator(random_state=0)
    evaluator.input_data(
        torch.as_tensor(data["x_train"]),
        one_hot(data["y_train"]),
        torch.as_tensor(data["x_valid"]),
        one_hot(data["y_valid"]),
    )
    evaluator.train_data_values()
    values = -np.asarray(evaluator.evaluate_data_values(), dtype=np.float64)
    wall = time.perf_counter() - start
    k = int(0.2 * len(values))
    row = {
        "method": f"OpenDataVal LavaEvaluator ({args.label})",
        "data": args.data.stem,
        "wall_s": wall,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "auroc": auroc(values, flipped),
        "recall_at_20pct": float(flipped[np.argsort(-values, kind="stable")[:k]].sum() / flipped.sum()),
    }
    text = json.dumps(row, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
