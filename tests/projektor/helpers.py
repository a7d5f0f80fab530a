"""Small real inputs for the Projektor tests: Gaussian 10-class toys and the CIFAR-10 three-source protocol on the
logits of a tiny CNN trained on a disjoint split (benchmarks/projektor/cnn.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.launch import load_script

# the benchmark's CNN, the §6 proportions and the source drawing: one copy, in benchmarks/projektor/cnn.py
CNN_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "projektor" / "cnn.py"


_CNN = load_script(CNN_SCRIPT, "projektor_bench_cnn")
PROPORTIONS, P_STAR = _CNN.PROPORTIONS, _CNN.P_STAR


def gaussian_sources(n: int = 300, n_valid: int = 300, d: int = 5, seed: int = 0):
    """Three sources with the spec §6 class proportions over 10 Gaussian classes, and a balanced validation set."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(10, d)) * 3
    xs, ys = [], []
    for props in PROPORTIONS:
        c = rng.choice(10, size=n, p=props / props.sum())
        xs.append(mu[c] + rng.normal(size=(n, d)))
        ys.append(c)
    vc = np.repeat(np.arange(10), n_valid // 10)
    return xs, ys, mu[vc] + rng.normal(size=(len(vc), d)), vc


def cnn_logit_sources(data_dir: Path, n_per_source: int = 1000, seed: int = 0):
    """Spec §7 cheap check inputs with "a small CNN trained on a disjoint split": the tiny CNN of
    `benchmarks/projektor/cnn.py` (width 16, BatchNorm, 10 epochs, one-cycle Adam, flips; about 25 s on one CPU
    thread, about 50 % test accuracy) trained on `split[:2500]`; its logits are the features; the three sources are
    drawn from `split[2500:]` with the §6 proportions; the 1,000 test images are the validation set."""
    feats, y, valid, yt, pool, _, _, _ = _CNN.cnn_features(data_dir)
    (xs,), ys = _CNN.draw_sources([feats], y, pool, n_per_source, seed)
    return xs, ys, valid, yt, float((valid.argmax(1) == yt).mean())
