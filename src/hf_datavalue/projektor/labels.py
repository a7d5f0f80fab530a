"""Performance labels: train a learner on each pilot mixture of a grid and record its validation score (resumable).

[`PerformanceLabels`] draws `D(N, p)` exactly as [`MixtureOT`] does (`round(N·p_i)` per source, with replacement,
seeded per mixture, size and repeat), calls a learner, and appends one JSON line per finished run to
`output_dir/labels.jsonl`. A killed run resumes: finished `(mixture, size, rep)` keys are skipped. Under
`accelerate launch` the runs are dealt out one per process per round and rank 0 writes the file (see `run`). The
built-in learner is a scikit-learn logistic regression on fixed features; a Trainer-based learner lives in the
adapter layer (`hf_datavalue.trainer_callbacks.projektor_labels`).

Usage:

```python
from hf_datavalue.projektor.labels import PerformanceLabels, logistic_regression_learner

learner = logistic_regression_learner(xs, ys, x_val, y_val)
rows = PerformanceLabels([len(x) for x in xs], learner, "runs/labels").run(simplex_grid(3, 10), sizes=[1000, 1500])
mixtures, accuracy = PerformanceLabels.table(rows, "accuracy", 1000)   # median over reps
```

The same script under `accelerate launch --num_processes 4 script.py` measures four mixtures at a time.
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

from ..core.distributed import ProcessContext, process_context
from ..core.errors import ConfigError, DataValueError, EmptyDatasetError, NonFiniteError, ShapeMismatchError
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
        ctx: ProcessContext | None = None,
    ):
        if len(source_sizes) < 2:
            raise ConfigError(f"labels need at least 2 sources, got {len(source_sizes)}")
        empty = [i for i, n in enumerate(source_sizes) if int(n) <= 0]
        if empty:
            raise EmptyDatasetError(f"sources {empty} are empty: every source needs pilot rows")
        self.source_sizes = [int(n) for n in source_sizes]
        self.learner = learner
        self.ctx = ctx or process_context()
        run_config = {"sources": self.source_sizes, "seed": seed}
        self.ctx.check_same("label-run settings (source sizes, seed, output folder)", [run_config, str(output_dir)])
        self.output_dir = Path(self.ctx.on_main(prepare_output_dir, output_dir, run_config=run_config))
        self.ctx.barrier()
        self.path = self.output_dir / "labels.jsonl"
        self.seed = int(seed)
        self.progress = progress
        self.n_learned = 0  # learner calls made by this process (a resumed run skips finished ones)

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
        """Measure every `(mixture, size, rep)` not on disk yet; return all rows (including earlier ones).

        Under `accelerate launch` the runs still to do are dealt out in rounds of one run per process; after each
        round rank 0 gathers the rows and appends them (fsynced), so a killed job loses at most one round and
        resumes from the file. Every process returns the full table. Seeds depend only on `(mixture, size, rep)`,
        so N processes give the same labels as one.
        """
        ctx = self.ctx
        mixes = np.asarray(mixtures, dtype=np.float64)
        if mixes.ndim != 2 or mixes.shape[1] != len(self.source_sizes):
            raise ShapeMismatchError(f"mixtures must be (K, {len(self.source_sizes)}), got shape {mixes.shape}")
        mixes = np.stack([check_mixture(p, len(self.source_sizes), f"mixture {k}") for k, p in enumerate(mixes)])
        jobs = [(k, int(n), r) for k in range(len(mixes)) for n in sizes for r in range(reps)]
        ctx.check_same("label jobs (mixtures, sizes, reps)", [mixes.round(10).tolist(), list(sizes), reps])
        have: dict[str, dict[str, Any]] = ctx.on_main(self.done)  # rank 0 reads the file; every rank agrees
        todo = [j for j in jobs if self.key(mixes[j[0]], j[1], j[2]) not in have]
        logger.info("%d of %d label runs already on disk; %d to go", len(jobs) - len(todo), len(jobs), len(todo))
        rounds: Any = range(0, len(todo), ctx.world)
        if self.progress and ctx.is_main:
            from tqdm.auto import tqdm

            rounds = tqdm(rounds, desc="Performance labels", unit=f"x{ctx.world} runs")
        fh = self.path.open("a", encoding="utf-8") if ctx.is_main else None
        try:
            for start in rounds:
                mine = start + ctx.rank
                row, err = None, None
                if mine < len(todo):
                    try:
                        row = self._measure(mixes, *todo[mine])
                    except DataValueError as e:
                        err = e
                ctx.raise_any(err)
                for got in ctx.gather(row):
                    if got is None:
                        continue
                    if fh is not None:
                        fh.write(json.dumps(got) + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                    have[got["key"]] = got
        finally:
            if fh is not None:
                fh.close()
        ctx.barrier()
        return [have[self.key(mixes[k], n, r)] for k, n, r in jobs]

    def _measure(self, mixes: np.ndarray, k: int, n: int, r: int) -> dict[str, Any]:
        """One learner run on `D(n, mixes[k])`, rep `r` (seeded by `(k, n, r)` only)."""
        seed = self.seed + 1_000_003 * r + 1009 * n + k
        idx = draw_mixture(mixes[k], n, self.source_sizes, np.random.default_rng(seed))
        self.n_learned += 1
        scores = {name: float(v) for name, v in self.learner(idx, seed).items()}
        bad = [name for name, v in scores.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteError(f"the learner returned non-finite {bad} for mixture {mixes[k].tolist()}")
        return {"key": self.key(mixes[k], n, r), "p": mixes[k].tolist(), "size": n, "rep": r, **scores}

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
