"""A tiny CPU CNN trained on a disjoint half of `cifar10_subset` train images: the fixed embedder of the spec §7
cheap check ("any small CNN trained on a disjoint split"). Its logits are the features (the reference uses logits).

Three conv blocks (width 16/32/64, BatchNorm, ReLU, max-pool; global average pool; linear head), Adam with a
one-cycle schedule, horizontal flips, batch 64, 10 epochs, seeded; about 25 s on one CPU thread, about 50 % test
accuracy. Trained on the seeded half `split[:2500]` (the same split as `cifar.py`); the sources are drawn from the
other half (`draw_sources`, the spec §6 proportions), and the 1,000 test images are the validation set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

# spec §6: class proportions of the three CIFAR-10 sources, and the exactly class-balanced mixture of §7
PROPORTIONS = [
    np.r_[[0.2425] * 4, [0.005] * 6],
    np.r_[[0.0057] * 4, [0.32] * 3, [0.0057] * 3],
    np.r_[[0.0014] * 7, [0.33] * 3],
]
P_STAR = np.array([0.4035, 0.3049, 0.2916])


def draw_sources(feats: list[np.ndarray], y: np.ndarray, pool: np.ndarray, n: int, seed: int):
    """The three §6 sources, `n` rows each drawn with replacement from `pool` (the rows the CNN never saw).

    Returns `(per_feature, labels)`: for every array in `feats`, its rows of each source (the same draws), and each
    source's labels."""
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in feats]
    ys = []
    for props in PROPORTIONS:
        cls = rng.choice(10, size=n, p=props / props.sum())
        idx = np.array([rng.choice(pool[y[pool] == c]) for c in cls])
        for k, f in enumerate(feats):
            out[k].append(f[idx])
        ys.append(y[idx])
    return out, ys


def cnn_features(data_dir: Path, width: int = 16, epochs: int = 10, seed: int = 0):
    """`(train_logits, y_train, test_logits, y_test, pool, test_accuracy, train_penultimate, test_penultimate)`;
    `pool` = the train rows not used for training the CNN (`split[2500:]` of `default_rng(123).permutation(5000)`);
    the penultimate features are the `4·width` globally pooled activations."""
    d = np.load(Path(data_dir) / "cifar10_subset" / "cifar10_subset.npz")
    x = torch.tensor(d["x_train"]).permute(0, 3, 1, 2).float() / 255.0
    xt = torch.tensor(d["x_test"]).permute(0, 3, 1, 2).float() / 255.0
    y, yt = d["y_train"], d["y_test"]
    split = np.random.default_rng(123).permutation(len(x))
    fit, pool = split[:2500], split[2500:]
    mean, std = x[fit].mean((0, 2, 3), keepdim=True), x[fit].std((0, 2, 3), keepdim=True)
    x, xt = (x - mean) / std, (xt - mean) / std
    torch.manual_seed(seed)
    w = width
    net = nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, 10),
    )  # fmt: skip
    batches = (len(fit) + 63) // 64
    opt = torch.optim.Adam(net.parameters(), 3e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * batches)
    gen = torch.Generator().manual_seed(seed)
    xf, yf = x[fit], torch.tensor(y[fit])
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xf), generator=gen)
        for i in range(0, len(xf), 64):
            b = perm[i : i + 64]
            flip = torch.rand(len(b), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xf[b].flip(3), xf[b])
            loss = nn.functional.cross_entropy(net(xb), yf[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        fx, fv = net(x).double().numpy(), net(xt).double().numpy()
        px, pv = net[:-1](x).double().numpy(), net[:-1](xt).double().numpy()
    return fx, y, fv, yt, pool, float((fv.argmax(1) == yt).mean()), px, pv
