"""Diagnostic: is the held-out miss the OT feature's or the PQ-OT form's? OT on class-separated features.

The CIFAR-10 benchmark's OT reads the tiny CNN's logits, which rank the pilot labels with Spearman ρ ≈ −0.6. Here
the same logits get `c × median norm × one-hot(label)` appended (c = 3), an embedder that separates the classes
perfectly, and the stage-1 held-out protocol is repeated on the same pilot labels (the `cifar.py` caches) for the
chosen split. This is a diagnostic of the method, not a usable feature: real embedders do not see labels.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/projektor/separated_features.py --seed 2 --tag report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar import N0, N1, OT_SETTINGS, OUT, chosen_stage1, cnn_cache, err, pilot_labels  # noqa: E402
from cnn import draw_sources  # noqa: E402

from hf_datavalue.core.io import write_json_atomic  # noqa: E402
from hf_datavalue.projektor import MixtureOT, ProjektorConfig, fit_stage1, simplex_grid  # noqa: E402
from hf_datavalue.projektor.baselines import RegMixRegressor  # noqa: E402
from hf_datavalue.projektor.labels import PerformanceLabels  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--tag", default="report")
    ap.add_argument("--scale", type=float, default=3.0, help="one-hot length in units of the median logit norm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    z = cnn_cache()
    (ot_x, lx), ys = draw_sources([z["fx"], z["px"]], z["y"], z["pool"], 8000, seed=args.seed)
    pilot_y = [t[:1500] for t in ys]
    grid = simplex_grid(3, 10)
    task = f"cifar_cnn_{args.tag}"
    rows_ = pilot_labels(task, [x[:1500] for x in lx], pilot_y, z["pv"], z["yt"], grid)
    perf = {n: PerformanceLabels.table(rows_, "accuracy", n)[1] for n in (N0, N1)}
    length = args.scale * float(np.median(np.linalg.norm(z["fv"] - z["fv"].mean(0), axis=1)))

    def separated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.hstack([x, length * np.eye(10)[y]])

    settings = {k: v for k, v in OT_SETTINGS.items() if k not in ("lr", "decay", "normalized_steps", "steps")}
    choice = chosen_stage1("cifar_cnn_choose")
    out: dict = {"setup": {"split": task, "seed": args.seed, "scale": args.scale, "settings": settings,
                           "choice": choice}}  # fmt: skip
    train = grid[:, 1] < 0.5
    for kind in ("logits", "separated"):
        xs = [x[:1500] if kind == "logits" else separated(x[:1500], t) for x, t in zip(ot_x, pilot_y)]
        xv = z["fv"] if kind == "logits" else separated(z["fv"], z["yt"])
        ot = MixtureOT(xs, pilot_y, xv, z["yt"], config=ProjektorConfig(**settings))
        ots = {n: ot.values(grid, n) for n in (N0, N1)}
        res: dict = {}
        for n in (N0, N1):
            row = {"spearman_ot_vs_accuracy": float(spearmanr(ots[n], perf[n]).statistic)}
            line = np.polyfit(ots[n][train], perf[n][train], 1)
            row["ot_line"] = err(np.polyval(line, ots[n][~train]), perf[n][~train])
            for name, design, ridge in (("notebook_ols", "notebook", 0.0), ("library_ols", "library", 0.0),
                                        ("chosen", choice["design"], choice["ridge"])):  # fmt: skip
                fit = fit_stage1(ots[n][train], grid[train], perf[n][train], design=design, ridge=ridge)
                pr = [fit.predict(p, o) for p, o in zip(grid[~train], ots[n][~train])]
                row[f"projektor_{name}"] = err(pr, perf[n][~train])
            lgbm = RegMixRegressor().fit(grid[train], perf[n][train]).predict(grid[~train])
            row["regmix_lightgbm"] = err(lgbm, perf[n][~train])
            res[n] = row
        out[kind] = res
    write_json_atomic(OUT / f"separated_features_{args.tag}.json", out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
