"""The convex calibration of docs/attribution.md as stored rows (specs/forward_inf.md §8 "Calibration", §9.1/9.3).

Multinomial logistic regression on scikit-learn digits in float64, the same model, data and exact retrains as
`tests/attribution/test_convex_checks.py` (whose thresholds are the spec's): exact leave-one-out and mirrored
retrains (asserted converged), Forward-INF (1 SGD step, lr 1e-3) and grad-dot against LOO on the 10 highest-loss
test points, then mislabel detection (10 % flips) with group Forward-INF and the self-loss baseline.

Usage (from the repository root, about a minute of CPU):

```bash
PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/attribution/convex_calibration.py
```
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from attribution.convex import LogReg, ce_losses, digits_split, hessian, retrain_batch  # noqa: E402
from attribution.test_convex_checks import linear_model, loss_fn, mean_pearson, rows  # noqa: E402

from hf_datavalue.attribution import (  # noqa: E402
    ForwardInfConfig,
    forward_inf_scores,
    grad_dot_scores,
    self_loss_scores,
)

OUT = ROOT / "benchmarks" / "results" / "attribution" / "convex_calibration.json"


def mean_spearman(a: np.ndarray, b: np.ndarray) -> float:
    def ranks(x):
        return np.argsort(np.argsort(x))

    return float(np.mean([np.corrcoef(ranks(a[:, j]), ranks(b[:, j]))[0, 1] for j in range(a.shape[1])]))


def main() -> None:
    start = time.perf_counter()
    xtr, ytr, xte, yte, _ = digits_split(600, 500)
    model = LogReg(l2=1e-2, n_ref=len(ytr))
    w = model.fit(xtr, ytr)
    h_inv = np.linalg.inv(hessian(model, xtr, w))
    test_loss = ce_losses(w, xte, yte)
    q = np.argsort(-test_loss)[:10]
    w_loo = retrain_batch(model, xtr, ytr, w, h_inv, drop=np.arange(len(ytr)))
    loo = np.stack([ce_losses(w_loo[i], xte[q], yte[q]) for i in range(len(ytr))]) - test_loss[q][None]
    w_mir = retrain_batch(model, xtr, ytr, w, h_inv, add_x=xte[q], add_y=yte[q])
    base = ce_losses(w, xtr, ytr)
    mirrored = np.stack([base - ce_losses(w_mir[j], xtr, ytr) for j in range(len(q))], axis=1)
    torch_model = linear_model(w)
    train, test = rows(xtr, ytr), rows(xte[q], yte[q])
    finf = forward_inf_scores(torch_model, train, test, ForwardInfConfig(lr=1e-3, batch_size=200), loss_fn=loss_fn)
    gd = grad_dot_scores(torch_model, train, test, loss_fn=loss_fn).scores
    estimators = {"mirrored_loo": mirrored, "forward_inf_sgd_lr1e-3": finf.scores, "grad_dot": gd}
    row: dict = {
        "setup": "digits, 600 train / 500 test, L2 1e-2, 10 highest-loss test points, fp64",
        "train_accuracy": float((np.argmax(xtr @ w, 1) == ytr).mean()),
        "test_accuracy": float((np.argmax(xte @ w, 1) == yte).mean()),
        "vs_exact_loo": {
            name: {"pearson": mean_pearson(loo, s), "spearman": mean_spearman(loo, s)}
            for name, s in estimators.items()
        },
    }
    # mislabel detection on the same family (10 % flips, L2 1e-3, 1,000 train, 300 clean queries)
    xtr, ytr, xte, yte, flipped = digits_split(1000, 300, flip=0.1, seed=1)
    torch_model = linear_model(LogReg(l2=1e-3, n_ref=1000).fit(xtr, ytr))
    auroc = {}
    for steps in (1, 10):
        cfg = ForwardInfConfig(mode="group", lr=1.0, steps=steps, batch_size=500)
        harm = -forward_inf_scores(torch_model, rows(xtr, ytr), rows(xte, yte), cfg, loss_fn=loss_fn).scores[:, 0]
        auroc[f"forward_inf_group_{steps}_step"] = float(roc_auc_score(flipped, harm))
    self_loss = self_loss_scores(torch_model, rows(xtr, ytr), loss_fn=loss_fn).scores[:, 0]
    auroc["self_loss"] = float(roc_auc_score(flipped, self_loss))
    row["mislabel_auroc"] = auroc
    row["wall_s"] = time.perf_counter() - start
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
