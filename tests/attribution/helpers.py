"""Tiny models and datasets shared by the attribution and callback tests (built from configs, no downloads)."""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset

VOCAB = 64
SEQ = 8


def tiny_bert(num_labels: int = 2, seed: int = 0, dropout: float = 0.0):
    from transformers import AutoModelForSequenceClassification, BertConfig

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=num_labels,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    return AutoModelForSequenceClassification.from_config(cfg)


def tiny_gpt2(seed: int = 0, vocab_size: int = VOCAB):
    from transformers import AutoModelForCausalLM, GPT2Config

    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    return AutoModelForCausalLM.from_config(cfg)


def token_dataset(n: int, seed: int = 0, with_labels: bool = True, text: bool = True) -> Dataset:
    """Fixed-length random token rows; label = whether token 1 is in the first half of the vocabulary."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, size=(n, SEQ))
    data: dict = {"input_ids": ids.tolist(), "attention_mask": np.ones_like(ids).tolist()}
    if with_labels:
        data["labels"] = (ids[:, 1] < VOCAB // 2).astype(int).tolist()
    if text:
        data["sentence"] = [f"row {i}" for i in range(n)]
    return Dataset.from_dict(data)
