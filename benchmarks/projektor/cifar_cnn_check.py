"""Spec §7 cheap CIFAR-10 check on the logits of a tiny CNN trained on a disjoint split (`cnn.py`).

For each pilot-draw seed: three sources of 1,000 rows drawn with replacement (spec §6 proportions) from the half of
`cifar10_subset` train images the CNN never saw; validation = the 1,000 test images. (a) The debiased class-wise OT
at N = 1,000 (resampled) on the 66-point grid: is the minimum at (0.4, 0.3, 0.3)? (b) The OT-only selector
(normalised steps 0.05·0.95^t, 40 iterations, re-sampling D(N, p) every iteration, N = 1,000) from uniform: does it end
within 0.05 L-inf of (0.4035, 0.3049, 0.2916)? Settings (eps = 0.01 x median cost, tol 3e-3, and `reps = 5` draws
per evaluation with the median, spec pitfall 7) were chosen on seed 0; seeds 1 and 2 are the report. Each seed also
stores the one-draw run (`reps_1`, the reference's reps), whose grid minimum is decided by draw noise. Rows:
`benchmarks/results/projektor/cifar_cnn_check.json`.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/projektor/cifar_cnn_check.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnn import P_STAR, cnn_features, draw_sources  # noqa: E402

from hf_datavalue.core.io import write_json_atomic  # noqa: E402
from hf_datavalue.projektor import MixtureOT, ProjektorConfig, ot_only_selection, simplex_grid  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "projektor"
SETTINGS = {"eps": 0.01, "eps_mode": "relative", "inner_eps": 0.01, "tol": 3e-3}
REPS, CHOSEN_REPS = (1, 5), 5


def main() -> None:
    torch.set_num_threads(1)
    t = time.perf_counter()
    fx, y, fv, yt, pool, acc, _, _ = cnn_features(ROOT.parent / "shared" / "data")
    rows: dict = {"embedder": {"cnn_test_accuracy": acc, "train_seconds": time.perf_counter() - t,
                               "loadavg_1min": os.getloadavg()[0]}, "settings": SETTINGS, "p_star": P_STAR.tolist(), "seeds": {}}  # fmt: skip
    grid = simplex_grid(3, 10)
    rows["chosen_reps"] = CHOSEN_REPS
    for seed in (0, 1, 2):
        (xs,), ys = draw_sources([fx], y, pool, 1000, seed)
        per_seed: dict = {"role": "choose" if seed == 0 else "report"}
        for reps in REPS:
            t = time.perf_counter()
            ot = MixtureOT(xs, ys, fv, yt, config=ProjektorConfig(distance="debiased", reps=reps, **SETTINGS))
            vals = ot.values(grid, 1000)
            grid_s = time.perf_counter() - t
            order = np.argsort(vals)
            cfg = ProjektorConfig(distance="plain", lr=0.05, decay=0.95, normalized_steps=True, reps=reps, **SETTINGS)
            t = time.perf_counter()
            sel = ot_only_selection(xs, ys, fv, yt, size=1000, config=cfg, steps=40)
            sel_s = time.perf_counter() - t
            linf = float(np.abs(sel.p - P_STAR).max())
            per_seed[f"reps_{reps}"] = {
                "grid_argmin": grid[order[0]].tolist(),
                "grid_second": grid[order[1]].tolist(),
                "grid_margin_relative": float((vals[order[1]] - vals[order[0]]) / (vals.max() - vals.min())),
                "grid_pass": bool(np.allclose(grid[order[0]], [0.4, 0.3, 0.3])),
                "selector_end": sel.p.tolist(),
                "selector_linf_to_p_star": linf,
                "selector_pass": linf <= 0.05,
                "grid_seconds": grid_s,
                "selector_seconds": sel_s,
                "loadavg_1min": os.getloadavg()[0],
            }
            print(seed, reps, per_seed[f"reps_{reps}"], flush=True)
        rows["seeds"][str(seed)] = per_seed
    write_json_atomic(OUT / "cifar_cnn_check.json", rows)


if __name__ == "__main__":
    main()
