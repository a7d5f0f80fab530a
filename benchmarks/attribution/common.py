"""Shared by the benchmark scripts of both virtual environments: models, data files, AUROC (torch + numpy only)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from torch import nn

WORK = Path(os.environ.get("BENCH_WORK", Path(__file__).resolve().parents[2] / "outputs" / "bench_attribution"))
RESULTS = Path(__file__).resolve().parents[1] / "results" / "attribution"


class HeadMLP(nn.Module):
    """A small classifier head over frozen MiniLM sentence embeddings."""

    def __init__(self, dim: int = 384, hidden: int = 64, classes: int = 2):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class SmallCNN(nn.Module):
    """2 conv + 2 FC, as in the reference's non-convex checks (no BatchNorm, so every peer can vmap it)."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 8 * 8, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


MODELS = {"sst2_minilm": HeadMLP, "cifar10_cnn": SmallCNN}


def load_task(name: str) -> tuple[nn.Module, dict[str, np.ndarray]]:
    """The trained model and the arrays written by prepare.py (x_train, y_train, flipped, x_query, y_query)."""
    from safetensors.torch import load_file

    data = dict(np.load(WORK / name / "data.npz"))
    model = MODELS[name]()
    model.load_state_dict(load_file(str(WORK / name / "model.safetensors")))
    model.eval()
    return model, data


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties get average ranks)."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
               "threads": torch.get_num_threads()}  # fmt: skip
    path.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
