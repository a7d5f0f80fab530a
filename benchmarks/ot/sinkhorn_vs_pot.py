"""The core Sinkhorn (`hf_datavalue.core.ot.sinkhorn`) against POT's `ot.sinkhorn(method="sinkhorn_log")`,
numpy and torch back-ends, on the same cost matrix at the same epsilon and tolerance.

The cost is a real LAVA problem: the CIFAR-10 subset of `../shared/data/` (5,000 train rows with 20 % flipped
labels against the 1,000 test rows), features = logits of a linear probe fitted on the test pixels, LAVA's hybrid
cost `1/2 ||u - v||^2 + 1/2 W(y, y')` (class table from the core's inner OT), dense, float64. Every solver gets
the same matrix and uniform marginals. Every row reports the L1 error of *both* marginals measured by this script
from the returned potentials (the solvers' own stopping rules differ: the core stops on the L1 error of both
marginals; POT on the L2 error of one, checked every 10 iterations), and how the potentials rank the train rows
against the core's (Spearman), since LAVA's values are a ranking of `f`.

Usage (from the repository root; one process, rows appended to the output file):

```bash
PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/ot/sinkhorn_vs_pot.py
PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/ot/sinkhorn_vs_pot.py --with-solve   # + POT's ot.solve
```
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger("sinkhorn_vs_pot")

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "ot" / "sinkhorn_vs_pot.jsonl"


def lava_cifar_cost(probe_l2: float, lambda_y: float, inner_eps: float) -> tuple[np.ndarray, dict]:
    """The dense LAVA cost of the CIFAR-10 subset on probe logits (float64), cached under results/ot/cache/."""
    cache = OUT.parent / "cache" / f"lava_cifar_cost_l2{probe_l2}_ly{lambda_y}_ie{inner_eps}.npz"
    if cache.exists():
        stored = np.load(cache)
        return stored["cost"], json.loads(str(stored["info"]))
    matrix, info = _build_lava_cifar_cost(probe_l2, lambda_y, inner_eps)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    np.savez(tmp, cost=matrix, info=json.dumps(info))
    tmp.replace(cache)
    return matrix, info


def _build_lava_cifar_cost(probe_l2: float, lambda_y: float, inner_eps: float) -> tuple[np.ndarray, dict]:
    from hf_datavalue.core.ot import PointCloudCost, class_distance_table
    from hf_datavalue.core.probe import LinearProbe

    data = np.load(SHARED / "cifar10_subset" / "cifar10_subset.npz")
    xt = data["x_train"].reshape(len(data["x_train"]), -1).astype(np.float32) / 255.0
    xv = data["x_test"].reshape(len(data["x_test"]), -1).astype(np.float32) / 255.0
    yt, yv = data["y_train"].astype(np.int64), data["y_test"].astype(np.int64)
    rng = np.random.default_rng(0)
    flipped = rng.random(len(yt)) < 0.2
    yt = yt.copy()
    yt[flipped] = (yt[flipped] + rng.integers(1, 10, int(flipped.sum()))) % 10
    t0 = time.perf_counter()
    probe = LinearProbe(10, l2=probe_l2).fit(xv, yv)
    logger.info("probe fitted in %.1f s", time.perf_counter() - t0)
    ft = torch.as_tensor(probe.logits(xt), dtype=torch.float64)
    fv = torch.as_tensor(probe.logits(xv), dtype=torch.float64)
    lt, lv = torch.as_tensor(yt), torch.as_tensor(yv)
    t0 = time.perf_counter()
    table, _ = class_distance_table(ft, lt, fv, lv, 10, 10, eps=inner_eps, tol=1e-3)
    logger.info("class table in %.1f s", time.perf_counter() - t0)
    cost = PointCloudCost(ft, fv, feature_weight=0.5, label_table=0.5 * lambda_y * table, x_labels=lt, y_labels=lv)
    matrix = cost.dense().matrix.double().numpy()
    info = {"problem": "LAVA CIFAR-10 subset, probe logits", "shape": list(matrix.shape), "probe_l2": probe_l2}
    info |= {"lambda_y": lambda_y, "inner_eps": inner_eps, "median_cost": float(np.median(matrix))}
    return matrix, info


def marginal_errors(cost: np.ndarray, f: np.ndarray, g: np.ndarray, eps: float) -> tuple[float, float]:
    """L1 errors of the row and column marginals of `P = a b^T exp((f + g - C) / eps)` (uniform a, b)."""
    n, m = cost.shape
    log_p = (f[:, None] + g[None, :] - cost) / eps - np.log(n) - np.log(m)
    top = log_p.max()
    p = np.exp(log_p - top) * np.exp(top)
    return float(np.abs(p.sum(1) - 1 / n).sum()), float(np.abs(p.sum(0) - 1 / m).sum())


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run(args: argparse.Namespace) -> list[dict]:
    import ot

    from hf_datavalue.core.ot import DenseCost, sinkhorn

    torch.set_num_threads(args.threads)
    cost, problem = lava_cifar_cost(args.probe_l2, args.lambda_y, args.inner_eps)
    n, m = cost.shape
    eps, tol = args.eps, args.tol
    rows: list[dict] = []
    ref_f: np.ndarray | None = None

    def record(method: str, backend: str, f: np.ndarray, g: np.ndarray, wall: float, cpu: float, n_iter, **extra):
        nonlocal ref_f
        row_err, col_err = marginal_errors(cost, f, g, eps)
        if ref_f is None:
            ref_f = f
        row = {
            "method": method,
            "backend": backend,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "n_iter": n_iter,
            "l1_row_marginal_error": row_err,
            "l1_col_marginal_error": col_err,
            "value": float(f.mean() + g.mean()),
            "spearman_f_vs_core": spearman(f, ref_f),
            "eps": eps,
            "tol": tol,
            **extra,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    # 1. the core solver, library defaults otherwise (annealing, auto iteration = stabilised kernel when dense)
    for dtype in ("float64", "float32"):
        c = torch.as_tensor(cost, dtype=torch.float64 if dtype == "float64" else torch.float32)
        res, wall, cpu = timed(lambda c=c: sinkhorn(DenseCost(c), eps=eps, tol=tol, max_iter=args.max_iter))
        record(
            "hf_datavalue.core.ot.sinkhorn",
            f"torch {dtype}",
            res.f.double().numpy(),
            res.g.double().numpy(),
            wall,
            cpu,
            res.n_iter,
            converged=res.converged,
            own_error=res.marginal_error,
        )
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)

    # 2. POT sinkhorn_log, numpy and torch back-ends. POT stops when the L2 norm of one marginal's error is below
    # stopThr; "same" passes the core's number as is (a looser stop: L1 can be up to sqrt(M) times larger),
    # "l1" passes tol / sqrt(M), which guarantees the core's L1 criterion on that marginal.
    stop_thr = tol if args.pot_stop == "same" else tol / np.sqrt(m)
    for backend in ("numpy", "torch"):
        if backend == "numpy":
            args_pot = (a, b, cost)
        else:
            args_pot = (torch.as_tensor(a), torch.as_tensor(b), torch.as_tensor(cost))
        (_, log), wall, cpu = timed(
            lambda p=args_pot: ot.sinkhorn(
                *p, reg=eps, method="sinkhorn_log", stopThr=stop_thr, numItermax=args.max_iter, log=True
            )
        )
        log_u, log_v = np.asarray(log["log_u"], dtype=np.float64), np.asarray(log["log_v"], dtype=np.float64)
        f, g = eps * (log_u - np.log(a)), eps * (log_v - np.log(b))
        errs = log.get("err", [])
        record(
            "POT ot.sinkhorn(method='sinkhorn_log')",
            f"{backend} float64",
            f,
            g,
            wall,
            cpu,
            int(log.get("niter", 0)),
            own_error=float(errs[-1]) if len(errs) else None,
            pot_stop=args.pot_stop,
            stop_thr=float(stop_thr),
        )

    # 3. optionally POT's generic entry point with its own defaults (tol 1e-9, max_iter 1000)
    if args.with_solve:
        res, wall, cpu = timed(lambda: ot.solve(cost, a, b, reg=eps))
        # ot.solve returns POT's log-scalings as "potentials"; convert like above
        f = eps * (np.asarray(res.potentials[0], dtype=np.float64) - np.log(a))
        g = eps * (np.asarray(res.potentials[1], dtype=np.float64) - np.log(b))
        record("POT ot.solve(reg=eps), POT defaults", "numpy float64", f, g, wall, cpu, None, solve_defaults=True)
    machine = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "pot": ot.__version__,
        "numpy": np.__version__,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    for row in rows:
        row.update(problem=problem, **machine)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eps", type=float, default=0.1, help="absolute entropic regularisation (LAVA's 0.1)")
    parser.add_argument("--tol", type=float, default=1e-4, help="marginal tolerance given to every solver")
    parser.add_argument("--max-iter", type=int, default=10_000)
    parser.add_argument("--probe-l2", type=float, default=0.3)
    parser.add_argument("--lambda-y", type=float, default=1.0)
    parser.add_argument("--inner-eps", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--with-solve", action="store_true", help="also time POT's ot.solve with its defaults")
    parser.add_argument(
        "--pot-stop",
        choices=("same", "l1"),
        default="same",
        help="POT's stopThr: the same number as tol (its L2 criterion), or tol/sqrt(M) (guarantees L1 <= tol)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
