"""Small real inputs for the Projektor tests: Gaussian 10-class toys and the CIFAR-10 three-source protocol
(pixel PCA/LDA features, or the logits of a tiny CNN trained on a disjoint split, as benchmarks/projektor/cnn.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# spec §6: class proportions of the three CIFAR-10 sources
PROPORTIONS = [
    np.r_[[0.2425] * 4, [0.005] * 6],
    np.r_[[0.0057] * 4, [0.32] * 3, [0.0057] * 3],
    np.r_[[0.0014] * 7, [0.33] * 3],
]
P_STAR = np.array([0.4035, 0.3049, 0.2916])
CNN_SCRIPT = (
    Path(__file__).resolve().parents[2] / "benchmarks" / "projektor" / "cnn.py"
)  # the benchmark's CNN, one copy


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


def cifar_sources(data_dir: Path, n_per_source: int = 1000, seed: int = 0):
    """The spec §7 cheap check inputs: fixed LDA features (PCA-50 then LDA-9, fitted on a seeded half of the train
    images), three sources drawn with replacement from the other half with the §6 proportions, and the 1,000
    test images as the validation set."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    d = np.load(data_dir / "cifar10_subset" / "cifar10_subset.npz")
    x = d["x_train"].reshape(len(d["x_train"]), -1).astype(np.float32) / 255.0
    y = d["y_train"]
    xt = d["x_test"].reshape(len(d["x_test"]), -1).astype(np.float32) / 255.0
    yt = d["y_test"]
    split = np.random.default_rng(123).permutation(len(x))
    fit, pool = split[:2500], split[2500:]
    pca = PCA(50, svd_solver="randomized", random_state=0).fit(x[fit])
    lda = LinearDiscriminantAnalysis().fit(pca.transform(x[fit]), y[fit])
    feats = lda.transform(pca.transform(x)).astype(np.float64)
    valid = lda.transform(pca.transform(xt)).astype(np.float64)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for props in PROPORTIONS:
        cls = rng.choice(10, size=n_per_source, p=props / props.sum())
        idx = np.array([rng.choice(pool[y[pool] == c]) for c in cls])
        xs.append(feats[idx])
        ys.append(y[idx])
    return xs, ys, valid, yt


def cnn_logit_sources(data_dir: Path, n_per_source: int = 1000, seed: int = 0):
    """Spec §7 cheap check inputs with "a small CNN trained on a disjoint split": the tiny CNN of
    `benchmarks/projektor/cnn.py` (width 16, BatchNorm, 10 epochs, one-cycle Adam, flips; about 25 s on one CPU
    thread, about 50 % test accuracy) trained on `split[:2500]`; its logits are the features; the three sources are
    drawn from `split[2500:]` with the §6 proportions; the 1,000 test images are the validation set."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("projektor_bench_cnn", CNN_SCRIPT)
    cnn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cnn)
    feats, y, valid, yt, pool, _, _, _ = cnn.cnn_features(data_dir)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for props in PROPORTIONS:
        cls = rng.choice(10, size=n_per_source, p=props / props.sum())
        idx = np.array([rng.choice(pool[y[pool] == c]) for c in cls])
        xs.append(feats[idx])
        ys.append(y[idx])
    return xs, ys, valid, yt, float((valid.argmax(1) == yt).mean())
