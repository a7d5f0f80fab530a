"""Seconds per query of TracIn (single-checkpoint grad-dot, `hf_datavalue.attribution.grad_dot_scores`) on a small
causal LM, for the FastTrack speed comparison.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/fasttrack/tracin_timing.py

The model is a 2-layer GPT-2 (d=128) built from a config (no pretrained causal LM is available offline) over the
MiniLM WordPiece vocabulary; the train side is a seeded subset of the corpus, and the per-query cost on the full
23,227-row corpus is extrapolated linearly in rows (grad-dot needs one gradient per training row per sweep; the
query gradients are cheap). Causal-LM form: loss of `obj_label` given `query_prefix` (queries without a prefix are
excluded, spec §6). Writes benchmarks/results/fasttrack/tracin_timing.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_data, minilm_path, write_rows  # noqa: E402

N_TRAIN = 256
N_QUERIES = 8


def main() -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from hf_datavalue.attribution import GradDotConfig, grad_dot_scores

    torch.set_num_threads(1)
    corpus, queries = load_data()
    tok = AutoTokenizer.from_pretrained(minilm_path())
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(corpus), size=N_TRAIN, replace=False))
    with_prefix = [i for i, p in enumerate(queries["query_prefix"]) if p]
    qrows = np.sort(rng.choice(with_prefix, size=N_QUERIES, replace=False))

    def encode(texts, max_len=64):
        enc = tok(texts, truncation=True, max_length=max_len, padding="max_length")
        labels = [
            [t if m else -100 for t, m in zip(ids, mask)] for ids, mask in zip(enc["input_ids"], enc["attention_mask"])
        ]
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}

    train = Dataset.from_dict(encode([corpus["text"][int(i)] for i in rows]))
    q_text = [f"{queries['query_prefix'][int(i)]} {queries['obj_label'][int(i)]}" for i in qrows]
    test = Dataset.from_dict(encode(q_text, 32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT2LMHeadModel(
            GPT2Config(vocab_size=tok.vocab_size, n_positions=128, n_embd=128, n_layer=2, n_head=2)
        ).eval()
    t0 = time.perf_counter()
    res = grad_dot_scores(model, train, test, GradDotConfig(batch_size=16))
    secs = time.perf_counter() - t0
    assert res.scores.shape == (N_TRAIN, N_QUERIES)
    per_query_full = secs / N_QUERIES * len(corpus) / N_TRAIN
    write_rows(
        "tracin_timing",
        {
            "model": "GPT-2 2x128 from config (random weights; timing only)",
            "n_train_rows": N_TRAIN,
            "n_queries": N_QUERIES,
            "seconds": secs,
            "seconds_per_query_on_subset": secs / N_QUERIES,
            "seconds_per_query_full_corpus_extrapolated": per_query_full,
            "corpus_rows": len(corpus),
            "machine": "2 shared CPU cores (loaded)",
            "license": "cc-by-nc-4.0",
        },
    )
    print(secs, per_query_full)


if __name__ == "__main__":
    main()
