"""Shared data preparation for the mixing benchmarks: the 7-domain toy corpus, a locally trained BPE tokenizer,
fixed-length token blocks per domain, and a tiny GPT-2 built from a config (no downloads)."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DOMAINS = ("wikipedia", "arxiv", "github", "books", "stackexchange", "pubmed", "speeches")
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "multidomain_text"


def load_docs(data_dir: Path = DATA) -> dict[str, list[str]]:
    out = {}
    for d in DOMAINS:
        with gzip.open(data_dir / f"{d}.jsonl.gz", "rt", encoding="utf-8") as fh:
            out[d] = [json.loads(line)["text"] for line in fh]
    return out


def train_tokenizer(texts: list[str], vocab_size: int = 2048):
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"])
    return tok


def pack(ids_per_doc: list[list[int]], block: int, eos: int) -> np.ndarray:
    flat = np.fromiter((t for ids in ids_per_doc for t in (*ids, eos)), dtype=np.int32)
    n = len(flat) // block
    return flat[: n * block].reshape(n, block)


def prepare(
    block: int = 64,
    vocab_size: int = 2048,
    n_valid_docs: int = 200,
    max_eval_blocks: int = 48,
    seed: int = 0,
    cache: Path | None = None,
):
    """Per-domain train blocks (shuffled) and eval blocks as `datasets.Dataset`s of `input_ids`/`labels`."""
    from datasets import Dataset

    if cache is not None and (cache / "blocks.npz").exists():
        z = np.load(cache / "blocks.npz")
        train = {d: z[f"train_{d}"] for d in DOMAINS}
        valid = {d: z[f"valid_{d}"] for d in DOMAINS}
    else:
        docs = load_docs()
        rng = np.random.default_rng(seed)
        split = {}
        for d, texts in docs.items():
            perm = rng.permutation(len(texts))
            split[d] = ([texts[i] for i in perm[n_valid_docs:]], [texts[i] for i in perm[:n_valid_docs]])
        tok = train_tokenizer([t for tr, _ in split.values() for t in tr[:600]], vocab_size)
        eos = tok.token_to_id("<|endoftext|>")
        train, valid = {}, {}
        for d, (tr, va) in split.items():
            train[d] = pack([e.ids for e in tok.encode_batch(tr)], block, eos)
            train[d] = train[d][rng.permutation(len(train[d]))]
            valid[d] = pack([e.ids for e in tok.encode_batch(va)], block, eos)[:max_eval_blocks]
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(
                cache / "blocks.npz",
                **{f"train_{d}": train[d] for d in DOMAINS},
                **{f"valid_{d}": valid[d] for d in DOMAINS},
            )

    def to_ds(arr: np.ndarray) -> Dataset:
        ids = arr.astype(np.int64).tolist()
        return Dataset.from_dict({"input_ids": ids, "labels": ids})

    return {d: to_ds(train[d]) for d in DOMAINS}, {d: to_ds(valid[d]) for d in DOMAINS}


def tiny_gpt2(
    vocab_size: int = 2048, block: int = 64, n_layer: int = 2, n_embd: int = 64, n_head: int = 2, seed: int = 0
):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_positions=block,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(cfg)
