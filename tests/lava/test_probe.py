"""The linear probe: same optimum as the earlier torch L-BFGS loop, constant features, probe-loss baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_datavalue.core.errors import ConfigError, ShapeMismatchError
from hf_datavalue.core.probe import LinearProbe
from hf_datavalue.lava import knn_label_disagreement, probe_loss_scores
from hf_datavalue.lava.baselines import probe_loss_scores as direct


def _old_torch_lbfgs_logits(x, y, n_classes, l2, x_eval, max_iter=200):
    """The previous implementation (torch.optim.LBFGS, strong Wolfe), kept here as the reference."""
    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-8
    xt = torch.as_tensor((x - mean) / scale)
    yt = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    w = (0.01 * torch.randn(x.shape[1], n_classes, generator=gen, dtype=torch.float64)).requires_grad_()
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    xe = torch.as_tensor((np.asarray(x_eval, dtype=np.float64) - mean) / scale)
    return (xe @ w + b).detach().numpy()


def _gaussians(n, d, k, seed=0):
    means = np.random.default_rng(100 + k).normal(0, 0.6, size=(k, d))  # the same classes for every seed
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    return (means[y] + rng.normal(size=(n, d))).astype(np.float32), y


@pytest.mark.parametrize(("k", "l2"), [(2, 0.3), (3, 0.01), (4, 0.1)])
def test_fast_fit_matches_the_old_torch_lbfgs_path(k, l2):
    x, y = _gaussians(300, 48, k)
    x_eval, _ = _gaussians(200, 48, k, seed=1)
    probe = LinearProbe(k, l2=l2).fit(x, y)
    old = _old_torch_lbfgs_logits(x, y, k, l2, x_eval)
    new = probe.logits(x_eval)
    assert probe.converged_
    # logits are defined up to a per-row constant: compare centred logits, and the predictions
    old_c, new_c = old - old.mean(1, keepdims=True), new - new.mean(1, keepdims=True)
    np.testing.assert_allclose(new_c, old_c, atol=2e-3 * np.abs(old_c).max())
    assert (new.argmax(1) == old.argmax(1)).mean() >= 0.995


def test_feature_constant_on_the_fitting_set_is_not_blown_up():
    x, y = _gaussians(200, 8, 3)
    x_const = np.concatenate([x, np.full((len(x), 1), 0.5, dtype=np.float32)], axis=1)
    probe = LinearProbe(3, l2=0.1).fit(x_const, y)
    ref = LinearProbe(3, l2=0.1).fit(x, y)
    rows, _ = _gaussians(50, 8, 3, seed=2)
    varied = np.concatenate([rows, np.random.default_rng(3).normal(0.5, 1.0, (50, 1))], axis=1)
    # Before: the constant column was divided by 1e-8 and its (unconverged, nonzero) weight multiplied by 1e8.
    assert probe.scale_[-1] == 1.0
    np.testing.assert_allclose(probe.logits(varied), ref.logits(rows), atol=1e-4)
    assert np.abs(probe.logits(varied)).max() < 100


def test_probe_rejects_bad_input():
    with pytest.raises(ConfigError):
        LinearProbe(1)
    with pytest.raises(ConfigError):
        LinearProbe(2, l2=float("nan"))
    probe = LinearProbe(2).fit(*_gaussians(20, 3, 2))
    with pytest.raises(ShapeMismatchError):
        probe.logits(np.zeros((2, 4)))
    with pytest.raises(ShapeMismatchError):
        LinearProbe(2).fit(np.zeros((4, 3)), np.array([0, 1, 2, 0]))


def test_probe_loss_baseline_flags_flipped_labels():
    assert probe_loss_scores is direct
    x_train, y_clean = _gaussians(400, 16, 4, seed=4)
    x_valid, y_valid = _gaussians(200, 16, 4, seed=5)
    rng = np.random.default_rng(0)
    flipped = rng.random(len(y_clean)) < 0.2
    y_train = np.where(flipped, (y_clean + rng.integers(1, 4, len(y_clean))) % 4, y_clean)
    scores = probe_loss_scores(x_train, y_train, x_valid, y_valid, l2=0.1)
    probe = LinearProbe(4, l2=0.1).fit(x_valid, y_valid)
    np.testing.assert_allclose(scores, probe.label_loss(x_train, y_train))
    from hf_datavalue.core.metrics import auroc

    assert auroc(scores, flipped) > 0.9
    assert scores.shape == (400,) and np.isfinite(scores).all()
    knn = knn_label_disagreement(x_train, y_train, x_valid, y_valid, k=10)
    assert knn.shape == scores.shape
    with pytest.raises(ShapeMismatchError):
        probe_loss_scores(x_train, y_train, x_valid[:, :3], y_valid)
