"""Checks of spec §9 on a convex model: multinomial logistic regression on scikit-learn digits (fp64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores, grad_dot_scores, self_loss_scores

from .convex import LogReg, ce_losses, digits_split, hessian, retrain_batch


def linear_model(w: np.ndarray) -> torch.nn.Module:
    model = torch.nn.Linear(w.shape[0], w.shape[1], bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w.T))
    return model


def loss_fn(model, batch):
    return torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"], reduction="none")


def rows(x: np.ndarray, y: np.ndarray) -> list[dict]:
    return [{"x": x[i], "y": int(y[i])} for i in range(len(y))]


@pytest.fixture(scope="module")
def convex():
    xtr, ytr, xte, yte, _ = digits_split(600, 500)
    model = LogReg(l2=1e-2, n_ref=len(ytr))
    w = model.fit(xtr, ytr)
    h_inv = np.linalg.inv(hessian(model, xtr, w))
    test_loss = ce_losses(w, xte, yte)
    queries = np.argsort(-test_loss)[:10]  # the 10 highest-loss test points, as in the reference
    w_loo = retrain_batch(model, xtr, ytr, w, h_inv, drop=np.arange(len(ytr)))
    # Library sign: Inf(i -> T) = L(T; A(D \ i)) - L(T; A(D)), positive = removing i hurts T.
    loo = np.stack([ce_losses(w_loo[i], xte[queries], yte[queries]) for i in range(len(ytr))])
    loo -= test_loss[queries][None]
    return {
        "xtr": xtr,
        "ytr": ytr,
        "xte": xte,
        "yte": yte,
        "w": w,
        "h_inv": h_inv,
        "q": queries,
        "loo": loo,
        "m": model,
    }


def mean_pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(a.shape[1])]))


def test_mirrored_retraining_agrees_with_exact_loo(convex, record_property):
    c = convex
    w_mir = retrain_batch(
        c["m"], c["xtr"], c["ytr"], c["w"], c["h_inv"], add_x=c["xte"][c["q"]], add_y=c["yte"][c["q"]]
    )
    base = ce_losses(c["w"], c["xtr"], c["ytr"])
    # Mirrored: Inf(i <- T) = L(i; A(D)) - L(i; A(D u T)).
    mirrored = np.stack([base - ce_losses(w_mir[j], c["xtr"], c["ytr"]) for j in range(len(c["q"]))], axis=1)
    pearson = mean_pearson(c["loo"], mirrored)
    record_property("mirrored_vs_loo_pearson", pearson)
    assert pearson >= 0.99


def test_cheap_estimator_agreement_is_reported(convex, record_property):
    c = convex
    model = linear_model(c["w"])
    train, test = rows(c["xtr"], c["ytr"]), rows(c["xte"][c["q"]], c["yte"][c["q"]])
    finf = forward_inf_scores(model, train, test, ForwardInfConfig(lr=1e-3, batch_size=200), loss_fn=loss_fn)
    gd = grad_dot_scores(model, train, test, loss_fn=loss_fn)
    p_finf, p_gd = mean_pearson(c["loo"], finf.scores), mean_pearson(c["loo"], gd.scores)
    record_property("forward_inf_sgd_1e-3_vs_loo_pearson", p_finf)
    record_property("grad_dot_vs_loo_pearson", p_gd)
    print(f"cheap Forward-INF vs exact LOO: Pearson {p_finf:.3f}; grad-dot {p_gd:.3f} (spec: about 0.536 each)")
    # The cheap estimator is TracIn at one checkpoint, not LOO: moderate agreement, far below retraining.
    # specs/forward_inf.md §9.3: both reach about 0.536 Pearson against LOO, accept 0.45-0.62.
    assert 0.45 <= p_finf <= 0.62, p_finf
    assert 0.45 <= p_gd <= 0.62, p_gd
    assert abs(p_finf - p_gd) < 0.01


def test_one_sgd_step_is_lr_times_grad_dot(convex):
    c = convex
    model = linear_model(c["w"])
    train, test = rows(c["xtr"], c["ytr"]), rows(c["xte"][c["q"][:3]], c["yte"][c["q"][:3]])
    lr = 1e-3
    finf = forward_inf_scores(model, train, test, ForwardInfConfig(lr=lr, batch_size=300), loss_fn=loss_fn)
    gd = grad_dot_scores(model, train, test, loss_fn=loss_fn, config=None).scores
    assert finf.scores.shape == gd.shape == (600, 3)
    assert np.corrcoef(finf.scores.ravel(), gd.ravel())[0, 1] >= 0.9999
    assert np.abs(finf.scores - lr * gd).max() <= 1e-2 * lr * np.abs(gd).max()


def test_jvp_mode_is_the_small_lr_limit(convex):
    c = convex
    model = linear_model(c["w"])
    train, test = rows(c["xtr"][:200], c["ytr"][:200]), rows(c["xte"][c["q"][:2]], c["yte"][c["q"][:2]])
    lr = 1e-4
    s = forward_inf_scores(model, train, test, ForwardInfConfig(lr=lr), loss_fn=loss_fn).scores
    j = forward_inf_scores(model, train, test, ForwardInfConfig(lr=lr, mode="jvp"), loss_fn=loss_fn).scores
    assert np.abs(s / lr - j).max() <= 1e-3 * np.abs(j).max()


def test_group_mode_detects_flipped_labels_with_self_loss_reported(record_property):
    xtr, ytr, xte, yte, flipped = digits_split(1000, 300, flip=0.1, seed=1)
    w = LogReg(l2=1e-3, n_ref=1000).fit(xtr, ytr)
    model = linear_model(w)
    train, valid = rows(xtr, ytr), rows(xte, yte)
    auc = {}
    for steps in (1, 10):
        cfg = ForwardInfConfig(mode="group", lr=1.0, steps=steps, batch_size=500)
        harm = -forward_inf_scores(model, train, valid, cfg, loss_fn=loss_fn).scores[:, 0]
        auc[steps] = roc_auc_score(flipped, harm)
    auc_self = roc_auc_score(flipped, self_loss_scores(model, train, loss_fn=loss_fn).scores[:, 0])
    for key, value in {"group_1step": auc[1], "group_10step": auc[10], "self_loss": auc_self}.items():
        record_property(f"auc_{key}", value)
    print(f"mislabel AUROC: group 1 step {auc[1]:.3f}, 10 steps {auc[10]:.3f}, self-loss {auc_self:.3f}")
    assert auc[1] >= 0.6 and auc[10] >= 0.8
    assert auc_self >= 0.9  # the trivial baseline is strong here (spec: 0.998)
