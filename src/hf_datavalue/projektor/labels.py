"""Performance labels: train a learner on each pilot mixture of a grid and record its validation score (resumable).

[`PerformanceLabels`] draws `D(N, p)` exactly as [`MixtureOT`] does (`round(N·p_i)` per source, with replacement,
seeded per mixture, size and repeat), calls a learner, and appends one JSON line per finished run to
`output_dir/labels.jsonl`. A killed run resumes: finished `(mixture, size, rep)` keys are skipped. The built-in
learner is a scikit-learn logistic regression on fixed features; a Trainer-based learner lives in the adapter
layer (`hf_datavalue.trainer_callbacks.projektor_labels`).

Usage:

```python
from hf_datavalue.projektor.labels import PerformanceLabels, logistic_regression_learner

labels = PerformanceLabels(xs, ys, x_val, y_val, learner=logistic_regression_learner(), output_dir="runs/labels")
table = labels.run(simplex_grid(3, 10), sizes=[1000, 1500], reps=1)   # {(p, N): median accuracy}
```
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, EmptyDatasetError, NonFiniteError, ShapeMismatchError
from ..core.io import prepare_output_dir
from .simplex import check_mixture

__all__ = ["Learner", "PerformanceLabels", "draw_mixture", "logistic_regression_learner"]

logger = logging.getLogger(__name__)

# learner(train_indices_per_source, seed) -> {"accuracy": ..., "loss": ..., "log_loss": ...}
Learner = Callable[[list[np.ndarray], int], dict[str, float]]


def draw_mixture(p: np.ndarray, size: int, sources: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices drawn from each source: `round(N·p_i)` with replacement (the reference protocol)."""
    counts = np.rint(size * np.asarray(p)).astype(np.int64)
    return [rng.integers(0, n, size=int(k)) if k > 0 else np.zeros(0, dtype=np.int64) for n, k in zip(sources, counts)]


def logistic_regression_learner(
    source_features: Sequence[np.ndarray],
    source_labels: Sequence[np.ndarray],
    valid_features: np.ndarray,
    valid_labels: np.ndarray,
    C: float = 1.0,
    max_iter: int = 300,
) -> Learner:
    """The fast built-in learner: multinomial logistic regression on fixed features.

    Returns accuracy (%), the 0-1 error rate as `loss`, and the validation log-loss.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    classes = np.unique(np.concatenate([np.unique(valid_labels)] + [np.unique(y) for y in source_labels]))

    def learn(indices: list[np.ndarray], seed: int) -> dict[str, float]:
        x = np.concatenate([f[i] for f, i in zip(source_features, indices)])
        y = np.concatenate([lab[i] for lab, i in zip(source_labels, indices)])
        present = np.unique(y)
        if len(present) < 2:  # a one-class training set predicts its class
            pred = np.full(len(valid_labels), present[0])
            acc = float((pred == valid_labels).mean())
            proba = np.full((len(valid_labels), len(classes)), 1e-15)
            proba[:, np.searchsorted(classes, present[0])] = 1.0
        else:
            model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed).fit(x, y)
            acc = float((model.predict(valid_features) == valid_labels).mean())
            proba = np.full((len(valid_labels), len(classes)), 1e-15)
            proba[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(valid_features)
        proba /= proba.sum(1, keepdims=True)
        return {
            "accuracy": 100.0 * acc,
            "loss": 1.0 - acc,
            "log_loss": float(log_loss(valid_labels, proba, labels=classes)),
        }

    return learn


class PerformanceLabels:
    """Resumable performance labels for a grid of pilot mixtures.

    Args:
        source_sizes (`Sequence[int]`): rows of each source (draws index into them).
        learner (`Learner`): `learner(indices_per_source, seed) -> {"accuracy": .., "loss": .., "log_loss": ..}`.
        output_dir (`str`): where `labels.jsonl` is appended (one line per finished run).
        seed (`int`, *optional*, defaults to 0): base seed of the draws.
        progress (`bool`, *optional*, defaults to `False`): a tqdm bar over runs.
    """

    def __init__(
        self,
        source_sizes: Sequence[int],
        learner: Learner,
        output_dir: str | os.PathLike[str],
        seed: int = 0,
        progress: bool = False,
    ):
        if len(source_sizes) < 2:
            raise ConfigError(f"labels need at least 2 sources, got {len(source_sizes)}")
        empty = [i for i, n in enumerate(source_sizes) if int(n) <= 0]
        if empty:
            raise EmptyDatasetError(f"sources {empty} are empty: every source needs pilot rows")
        self.source_sizes = [int(n) for n in source_sizes]
        self.learner = learner
        self.output_dir = prepare_output_dir(output_dir, run_config={"sources": self.source_sizes, "seed": seed})
        self.path = Path(self.output_dir) / "labels.jsonl"
        self.seed = int(seed)
        self.progress = progress

    @staticmethod
    def key(p: np.ndarray, size: int, rep: int) -> str:
        return json.dumps([[round(float(v), 10) for v in p], int(size), int(rep)])

    def done(self) -> dict[str, dict[str, Any]]:
        """Finished runs on disk, by key (a torn last line from a killed run is ignored)."""
        out: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                out[row["key"]] = row
        return out

    def run(
        self, mixtures: np.ndarray | Sequence[Sequence[float]], sizes: Sequence[int], reps: int = 1
    ) -> list[dict[str, Any]]:
        """Measure every `(mixture, size, rep)` not on disk yet; return all rows (including earlier ones)."""
        mixes = np.asarray(mixtures, dtype=np.float64)
        if mixes.ndim != 2 or mixes.shape[1] != len(self.source_sizes):
            raise ShapeMismatchError(f"mixtures must be (K, {len(self.source_sizes)}), got shape {mixes.shape}")
        mixes = np.stack([check_mixture(p, len(self.source_sizes), f"mixture {k}") for k, p in enumerate(mixes)])
        have = self.done()
        jobs = [(k, int(n), r) for k in range(len(mixes)) for n in sizes for r in range(reps)]
        todo = [j for j in jobs if self.key(mixes[j[0]], j[1], j[2]) not in have]
        logger.info("%d of %d label runs already on disk; %d to go", len(jobs) - len(todo), len(jobs), len(todo))
        it: Any = todo
        if self.progress:
            from tqdm.auto import tqdm

            it = tqdm(todo, desc="Performance labels")
        with self.path.open("a", encoding="utf-8") as fh:
            for k, n, r in it:
                seed = self.seed + 1_000_003 * r + 1009 * n + k
                rng = np.random.default_rng(seed)
                idx = draw_mixture(mixes[k], n, self.source_sizes, rng)
                scores = {name: float(v) for name, v in self.learner(idx, seed).items()}
                bad = [name for name, v in scores.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteError(f"the learner returned non-finite {bad} for mixture {mixes[k].tolist()}")
                row = {"key": self.key(mixes[k], n, r), "p": mixes[k].tolist(), "size": n, "rep": r, **scores}
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                have[row["key"]] = row
        return [have[self.key(mixes[k], n, r)] for k, n, r in jobs]

    @staticmethod
    def table(rows: Sequence[dict[str, Any]], target: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        """`(mixtures, median score over reps)` at one size, in first-seen order."""
        groups: dict[str, list[float]] = {}
        ps: dict[str, list[float]] = {}
        for row in rows:
            if int(row["size"]) != int(size):
                continue
            key = json.dumps([round(v, 10) for v in row["p"]])
            groups.setdefault(key, []).append(float(row[target]))
            ps[key] = row["p"]
        if not groups:
            raise EmptyDatasetError(f"no label rows at size {size}")
        return np.asarray([ps[k] for k in groups]), np.asarray([float(np.median(v)) for v in groups.values()])
