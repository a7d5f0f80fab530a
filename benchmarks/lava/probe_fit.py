"""Probe fit time: the new SciPy L-BFGS-B fit vs the earlier torch.optim.LBFGS loop, same data, same optimum.

Data: 1,000 x 384 MiniLM embeddings of SST-2 (2 classes) and of AG News (4 classes) from the sweep's cache
(`sweep.py prepare` first), probe L2 0.3 and 0.03. Each fit is timed 3 times (median). Also recorded: the largest
difference of centred logits on the validation rows and the share of equal predictions.

```bash
PYTHONPATH=src .venv/bin/python benchmarks/lava/probe_fit.py
```
Writes benchmarks/results/lava/probe_fit.json.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from hf_datavalue.core.probe import LinearProbe

RESULTS = Path(__file__).resolve().parents[1] / "results" / "lava"


def old_fit_logits(x: np.ndarray, y: np.ndarray, k: int, l2: float, x_eval: np.ndarray) -> np.ndarray:
    """The previous `LinearProbe.fit` (torch LBFGS, strong Wolfe, max_iter 200, std + 1e-8 scaling)."""
    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-8
    xt = torch.as_tensor((x - mean) / scale)
    yt = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    w = (0.01 * torch.randn(x.shape[1], k, generator=gen, dtype=torch.float64)).requires_grad_()
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    xe = torch.as_tensor((np.asarray(x_eval, dtype=np.float64) - mean) / scale)
    return (xe @ w + b).detach().numpy()


def _median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def main() -> None:
    rows = []
    for name, k in (("sst2", 2), ("ag_news", 4)):
        data = np.load(RESULTS / "data" / f"{name}_A.npz")
        x, y = data["x_train"][:1000], data["y_train"][:1000]
        x_eval = data["x_valid"]
        for l2 in (0.3, 0.03):
            t_old, old = _median_time(partial(old_fit_logits, x, y, k, l2, x_eval))
            t_new, probe = _median_time(partial(LinearProbe(k, l2=l2).fit, x, y))
            new = probe.logits(x_eval)
            old_c, new_c = old - old.mean(1, keepdims=True), new - new.mean(1, keepdims=True)
            row = {
                "data": f"{name} MiniLM 1000 x 384, {k} classes",
                "probe_l2": l2,
                "old_torch_lbfgs_s": t_old,
                "new_scipy_lbfgsb_s": t_new,
                "speedup": t_old / t_new,
                "max_abs_centred_logit_diff": float(np.abs(new_c - old_c).max()),
                "max_abs_logit": float(np.abs(old_c).max()),
                "same_prediction_share": float((new.argmax(1) == old.argmax(1)).mean()),
                "new_iterations": probe.n_iter_,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    (RESULTS / "probe_fit.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
