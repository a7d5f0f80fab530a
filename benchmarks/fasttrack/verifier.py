"""Train the cross-encoder verifier from the full 6-layer MiniLM and store its held-out-relation pair report.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fasttrack/verifier.py [--train-queries 200]

`train_verifier` on LAMA-TREx: half the relations (seed 0) train, the dev split of queries (20%, stratified by
relation) tunes the decision threshold, and the pair metrics are reported only on the queries of the other
relations, next to two simple baselines on the same pairs: answering "supports" to every pair, and a BM25 score
threshold tuned on the dev pairs. The model is cached under benchmarks/results/fasttrack/cache/ (keyed by the
arguments), so reruns and end_to_end.py reuse it. Writes benchmarks/results/fasttrack/verifier_training_report.json.
Data: CC BY-NC 4.0. This is a trained cross-encoder, not the paper's LLM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, load_data, minilm_path, write_rows  # noqa: E402

from hf_datavalue.fasttrack.verifier_training import VerifierTrainingArguments, train_verifier  # noqa: E402


def arguments(train_queries: int = 200, epochs: int = 2, lr: float = 8e-5, max_length: int = 128):
    """The benchmark's training arguments (full 6-layer MiniLM; seeded query caps, recorded in the report)."""
    return VerifierTrainingArguments(
        base_model=minilm_path(),
        epochs=epochs,
        learning_rate=lr,
        max_length=max_length,
        batch_size=32,
        max_train_queries=train_queries,
        max_dev_queries=120,
        max_eval_queries=150,
        seed=0,
    )


def verifier_dir(targs: VerifierTrainingArguments) -> Path:
    """Cache folder of the model trained with `targs` (a hash of the arguments that shape the weights)."""
    key = {k: v for k, v in targs.to_dict().items() if k not in ("base_model", "prescreen_keep")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE / f"verifier_L6_{digest}"


def trained_verifier(targs: VerifierTrainingArguments, corpus=None, queries=None) -> tuple[Path, dict]:
    """Train once (cached) and return `(folder, training report)`."""
    vdir = verifier_dir(targs)
    if not (vdir / "training_report.json").is_file():
        if corpus is None:
            corpus, queries = load_data()
        train_verifier(queries, corpus, vdir, targs, progress=True, overwrite=True)
    return vdir, json.loads((vdir / "training_report.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-queries", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    targs = arguments(args.train_queries, args.epochs, args.lr, args.max_length)
    start = time.perf_counter()
    vdir, report = trained_verifier(targs)
    row = {k: v for k, v in report.items() if k not in ("eval_query_ids",)}
    row.update(
        cache_folder=vdir.name,
        wall_seconds_this_run=time.perf_counter() - start,
        load_average_1min=os.getloadavg()[0],
        note="trained cross-encoder verifier (6-layer MiniLM fine-tuned on CPU); not the paper's LLM",
        license="cc-by-nc-4.0",
    )
    write_rows("verifier_training_report", row)
    ev, base = report.get("eval", {}), report.get("eval_baselines", {})
    print(json.dumps({"eval": ev, "baselines": base, "train_seconds": report["train_seconds"]}, indent=1))


if __name__ == "__main__":
    main()
