"""Is tol 1e-2 enough for the pilot OT values? Sinkhorn error at tol 1e-2 vs 1e-3 (same draws), against the
draw-to-draw spread of the OT value (5 draws), on the CIFAR-10 report split (`cifar.py --seed 2`), at N0 = 1,000.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/projektor/tol_check.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar import OT_SETTINGS, OUT, cnn_cache  # noqa: E402
from cnn import draw_sources  # noqa: E402

from hf_datavalue.core.io import write_json_atomic  # noqa: E402
from hf_datavalue.projektor import MixtureOT, ProjektorConfig  # noqa: E402

MIXTURES = [[1 / 3, 1 / 3, 1 / 3], [0.4, 0.3, 0.3], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]]


def main() -> None:
    torch.set_num_threads(1)
    z = cnn_cache()
    (ot_x,), ys = draw_sources([z["fx"]], z["y"], z["pool"], 8000, seed=2)
    pilot_x, pilot_y = [x[:1500] for x in ot_x], [t[:1500] for t in ys]
    rows: dict = {"settings": OT_SETTINGS, "size": 1000, "mixtures": {}}
    ots = {tol: MixtureOT(pilot_x, pilot_y, z["fv"], z["yt"], config=ProjektorConfig(**{**OT_SETTINGS, "tol": tol}))
           for tol in (1e-2, 1e-3)}  # fmt: skip
    secs = {1e-2: 0.0, 1e-3: 0.0}
    for p in MIXTURES:
        vals = {}
        for tol, ot in ots.items():
            t = time.process_time()
            vals[tol] = [ot.evaluate(p, 1000, seed=s, with_gradient=False).value for s in range(5)]
            secs[tol] += time.process_time() - t
        diff = np.abs(np.subtract(vals[1e-2], vals[1e-3]))
        rows["mixtures"][str([round(v, 3) for v in p])] = {
            "value_tol_1e-3": vals[1e-3], "value_tol_1e-2": vals[1e-2],
            "max_abs_tol_difference": float(diff.max()), "draw_std_tol_1e-3": float(np.std(vals[1e-3], ddof=1)),
        }  # fmt: skip
    rows["cpu_seconds"] = {str(k): v for k, v in secs.items()}
    rows["worst_tol_difference_over_draw_std"] = max(
        r["max_abs_tol_difference"] / r["draw_std_tol_1e-3"] for r in rows["mixtures"].values()
    )
    rows["loadavg_1min"] = os.getloadavg()[0]
    write_json_atomic(OUT / "tol_check.json", rows)
    print(rows)


if __name__ == "__main__":
    main()
