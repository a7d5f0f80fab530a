"""hf_datavalue rows of the mislabel benchmark: self-loss, grad-dot, Forward-INF (per-test, group, JVP). Shared venv."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, auroc, load_task, write_rows  # noqa: E402

from hf_datavalue.attribution import (  # noqa: E402
    ForwardInfConfig,
    GradDotConfig,
    SelfLossConfig,
    forward_inf_scores,
    grad_dot_scores,
    self_loss_scores,
)

N_PER_TEST = 30  # per-test methods score the first 30 clean queries; group methods use all 300
BATCH = 256


class Rows(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "y": self.y[i]}


def collate(features: list[dict]) -> dict:
    return {"x": torch.stack([f["x"] for f in features]), "y": torch.stack([f["y"] for f in features])}


def loss_fn(model, batch):
    return torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"], reduction="none")


def run(task: str) -> list[dict]:
    model, d = load_task(task)
    train, group_q = Rows(d["x_train"], d["y_train"]), Rows(d["x_query"], d["y_query"])
    per_q = Rows(d["x_query"][:N_PER_TEST], d["y_query"][:N_PER_TEST])
    flipped = d["flipped"]
    kw = {"loss_fn": loss_fn, "collate_fn": collate}
    methods = {
        "self-loss": lambda: self_loss_scores(model, train, SelfLossConfig(batch_size=BATCH), **kw),
        "grad-dot (per-test, 30 queries)": lambda: grad_dot_scores(
            model, train, per_q, GradDotConfig(batch_size=BATCH), **kw
        ),
        "grad-dot (group, 300 queries)": lambda: grad_dot_scores(
            model, train, group_q, GradDotConfig(mode="group", batch_size=BATCH), **kw
        ),
        "Forward-INF per-test (1 SGD step, lr 1e-3, 30 queries)": lambda: forward_inf_scores(
            model, train, per_q, ForwardInfConfig(lr=1e-3, batch_size=BATCH, query_chunk_size=10), **kw
        ),
        "Forward-INF per-test JVP (30 queries)": lambda: forward_inf_scores(
            model, train, per_q, ForwardInfConfig(mode="jvp", batch_size=BATCH), **kw
        ),
        "Forward-INF group (1 SGD step, lr 1e-2, 300 queries)": lambda: forward_inf_scores(
            model, train, group_q, ForwardInfConfig(mode="group", lr=1e-2, batch_size=BATCH), **kw
        ),
        "Forward-INF group (10 SGD steps, lr 0.1, 300 queries)": lambda: forward_inf_scores(
            model, train, group_q, ForwardInfConfig(mode="group", lr=0.1, steps=10, batch_size=BATCH), **kw
        ),
        "Forward-INF group (1 Adam step, lr 5e-3, ascent, |Δ|; reference-like)": lambda: forward_inf_scores(
            model,
            train,
            group_q,
            ForwardInfConfig(
                mode="group", optimizer="adam", lr=5e-3, direction="ascent", signed=False, batch_size=BATCH
            ),
            **kw,
        ),  # fmt: skip
    }
    if task == "cifar10_cnn":  # keep the whole benchmark within its CPU budget: JVP only on the small head
        methods.pop("Forward-INF per-test JVP (30 queries)")
    rows = []
    for name, fn in methods.items():
        t0 = time.perf_counter()
        res = fn()
        seconds = time.perf_counter() - t0
        if res.method == "self_loss":
            harm = res.scores[:, 0]
        elif res.score_semantics.startswith("absolute"):
            harm = res.scores.mean(axis=1)  # |Δloss|: larger change = more suspicious (direction-free)
        else:
            harm = -res.scores.mean(axis=1)  # mislabeled rows are opponents of clean queries
        rows.append({"task": task, "library": "hf_datavalue", "method": name, "auroc": auroc(flipped, harm),
                     "seconds": seconds})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    torch.set_num_threads(2)
    tasks = sys.argv[1:] or ["sst2_minilm", "cifar10_cnn"]
    for t in tasks:
        write_rows(RESULTS / f"{t}_ours.json", run(t))
